"""Per-customer order figures on ``contacts.Customer``: LTV, order count, first/last order, average
order value and the RFM scores (``contacts.rfm``).

contacts owns these columns and is the only writer; the layer that records orders (analytics)
computes each customer's figures from its orders and hands them in typed (``OrderFigures``), so
segments and the profile read plain columns and contacts never reads another app's tables.

Everything is set-based SQL: one statement writes any number of customers, and leaves alone the rows
whose figures did not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from contacts.rfm import (
    F_BANDS,
    F_HIGH_MIN_ORDERS,
    M_BANDS,
    M_HIGH_MIN_LTV,
    R_BANDS,
    R_HIGH_MAX_DAYS,
    RFM_SEGMENTS,
)
from contacts.services.lifecycle import customer_lifecycle_refresh
from contacts.services.tag_rule_triggers import tag_rules_after_change

# The columns written here (a caller holding a Customer loaded before a write reloads these).
ORDER_FIGURE_FIELDS = (
    "ltv",
    "order_count",
    "first_order_at",
    "last_order_at",
    "avg_order_value",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "rfm_segment",
)


@dataclass(frozen=True)
class OrderFigures:
    """One customer's counted orders (those not fully refunded): net total, count, first and last payment."""

    customer_id: int
    ltv: Decimal
    order_count: int
    first_order_at: dt.datetime
    last_order_at: dt.datetime


def _band(expr: str, bands: list[tuple[int, int]], top: int, op: str) -> str:
    whens = " ".join(f"WHEN {expr} {op} {limit} THEN {score}" for limit, score in bands)
    return f"CASE {whens} ELSE {top} END"


def _figures_sql(ids: str, agg: str) -> str:
    """UPDATE the customers ``ids`` yields (column ``id``) from their figures in ``agg`` (columns
    ``customer_id, ltv, n, first_order_at, last_order_at``; a customer without a row has no orders).

    Parameters: %(today)s (a date), plus whatever ``ids`` and ``agg`` use.
    """
    days = "(%(today)s::date - (agg.last_order_at AT TIME ZONE 'Asia/Shanghai')::date)"
    r = _band(days, R_BANDS, 1, "<=")
    f = _band("agg.n", F_BANDS, 5, "<=")
    m = _band("agg.ltv", M_BANDS, 5, "<")
    seg_cases = " ".join(
        "WHEN ({r_cond}) AND ({f_cond}) AND ({m_cond}) THEN '{code}'".format(
            r_cond=f"{days} <= {R_HIGH_MAX_DAYS}" if s.r_high else f"{days} > {R_HIGH_MAX_DAYS}",
            f_cond=f"agg.n >= {F_HIGH_MIN_ORDERS}" if s.f_high else f"agg.n < {F_HIGH_MIN_ORDERS}",
            m_cond=f"agg.ltv >= {M_HIGH_MIN_LTV}" if s.m_high else f"agg.ltv < {M_HIGH_MIN_LTV}",
            code=s.code,
        )
        for s in RFM_SEGMENTS
    )
    return f"""
        WITH ids AS ({ids}),
        agg AS ({agg}),
        new AS (
            SELECT ids.id,
                   COALESCE(agg.ltv, 0) AS ltv,
                   COALESCE(agg.n, 0) AS order_count,
                   agg.first_order_at, agg.last_order_at,
                   CASE WHEN agg.n > 0 THEN ROUND(agg.ltv / agg.n, 2) ELSE 0 END AS avg_order_value,
                   CASE WHEN agg.n > 0 THEN {r} ELSE 0 END AS rfm_r,
                   CASE WHEN agg.n > 0 THEN {f} ELSE 0 END AS rfm_f,
                   CASE WHEN agg.n > 0 THEN {m} ELSE 0 END AS rfm_m,
                   CASE WHEN agg.n > 0 THEN (CASE {seg_cases} END) ELSE '' END AS rfm_segment
              FROM ids LEFT JOIN agg ON agg.customer_id = ids.id
        )
        UPDATE contacts_customer c
           SET ltv = new.ltv, order_count = new.order_count, first_order_at = new.first_order_at,
               last_order_at = new.last_order_at, avg_order_value = new.avg_order_value,
               rfm_r = new.rfm_r, rfm_f = new.rfm_f, rfm_m = new.rfm_m, rfm_segment = new.rfm_segment
          FROM new
         WHERE c.id = new.id
           AND (c.ltv, c.order_count, c.first_order_at, c.last_order_at, c.avg_order_value,
                c.rfm_r, c.rfm_f, c.rfm_m, c.rfm_segment)
               IS DISTINCT FROM
               (new.ltv, new.order_count, new.first_order_at, new.last_order_at, new.avg_order_value,
                new.rfm_r, new.rfm_f, new.rfm_m, new.rfm_segment)
    """


def customer_order_figures_set(
    *, customer_ids: Sequence[int], figures: Iterable[OrderFigures], today: dt.date | None = None
) -> int:
    """Write the order figures of ``customer_ids`` and rescore their RFM (one statement, so atomic on
    its own), then re-derive their lifecycle stage from the new figures. A customer without an entry in
    ``figures`` has no counted orders: zeros. Returns the rows whose figures changed."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return 0
    rows = list(figures)
    agg = (
        "SELECT * FROM unnest(%(f_ids)s::bigint[], %(f_ltv)s::numeric[], %(f_n)s::bigint[], %(f_first)s::timestamptz[],"
        " %(f_last)s::timestamptz[]) AS a(customer_id, ltv, n, first_order_at, last_order_at)"
    )
    params: dict[str, Any] = {
        "ids": ids,
        "f_ids": [r.customer_id for r in rows],
        "f_ltv": [r.ltv for r in rows],
        "f_n": [r.order_count for r in rows],
        "f_first": [r.first_order_at for r in rows],
        "f_last": [r.last_order_at for r in rows],
        "today": today or timezone.localdate(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_figures_sql("SELECT unnest(%(ids)s::bigint[]) AS id", agg), params)
        changed = int(cursor.rowcount)
    customer_lifecycle_refresh(customer_ids=ids, today=params["today"])
    if changed:
        tag_rules_after_change(customer_ids=ids)
    return changed


def customer_rfm_refresh(*, organization_id: int, today: dt.date | None = None) -> int:
    """Nightly: recency moves with the calendar, so rescore every customer of the organization from the
    figures they carry. Returns the rows changed."""
    agg = (
        "SELECT c1.id AS customer_id, c1.ltv, c1.order_count AS n, c1.first_order_at, c1.last_order_at "
        "FROM contacts_customer c1 WHERE c1.organization_id = %(org)s AND c1.order_count > 0"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _figures_sql("SELECT c0.id FROM contacts_customer c0 WHERE c0.organization_id = %(org)s", agg),
            {"org": organization_id, "today": today or timezone.localdate()},
        )
        return int(cursor.rowcount)
