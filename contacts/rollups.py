"""Per-customer order rollups on ``contacts.Customer`` (LTV, order count, first/last order, average
order value, RFM). Owned by analytics (docs/architecture.md#facts-rollups-and-report-cells), kept in
contacts so segments and the profile read plain columns.

contacts must not import analytics (docs/architecture.md#layers), so the order facts are *registered*
here by the layer that owns them: ``register_order_facts(sql)`` with a SQL relation yielding
``organization_id, customer_id, net_amount, paid_at`` for every order that counts (not fully
refunded). analytics registers its ``analytics_order`` table in ``AnalyticsConfig.ready()``.

Everything is set-based SQL: one statement refreshes any number of customers.

RFM uses fixed bands, not quantiles, so a customer's score depends only on their own orders (an
incremental update stays exact) and every RFM segment is expressible as a saved segment with the
``last_order`` / ``order_count`` / ``ltv`` ranges of the segment expression.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

_ORDER_FACTS: list[str] = []

# Days since the last order (Asia/Shanghai calendar days) → R score.
R_BANDS = [(30, 5), (90, 4), (180, 3), (365, 2)]  # else 1
# Order count → F score.
F_BANDS = [(1, 1), (2, 2), (3, 3), (5, 4)]  # else 5
# LTV in yuan (upper bound exclusive) → M score.
M_BANDS = [(200, 1), (500, 2), (1000, 3), (3000, 4)]  # else 5
# High/low split used by the eight classic segments.
R_HIGH_MAX_DAYS = 90  # R high: last order within 90 days (r ≥ 4)
F_HIGH_MIN_ORDERS = 2  # F high: two orders or more (f ≥ 2)
M_HIGH_MIN_LTV = 1000  # M high: LTV ≥ ¥1,000 (m ≥ 4)


@dataclass(frozen=True)
class RfmSegment:
    code: str
    label: str | Promise
    r_high: bool
    f_high: bool
    m_high: bool
    advice: str | Promise


RFM_SEGMENTS = [
    RfmSegment("important_value", _("重要价值客户"), True, True, True, _("最近买过、常买、花得多：专属服务与新品优先")),
    RfmSegment("important_develop", _("重要发展客户"), True, False, True, _("最近买过、花得多但次数少：促复购")),
    RfmSegment("important_keep", _("重要保持客户"), False, True, True, _("常买、花得多但最近没来：主动关怀召回")),
    RfmSegment("important_retain", _("重要挽留客户"), False, False, True, _("花得多但久未复购：重点挽留")),
    RfmSegment("general_value", _("一般价值客户"), True, True, False, _("最近常买但客单价低：提升客单")),
    RfmSegment("general_develop", _("一般发展客户"), True, False, False, _("新近首购：引导第二单")),
    RfmSegment("general_keep", _("一般保持客户"), False, True, False, _("曾常买、最近没来：优惠唤醒")),
    RfmSegment("general_retain", _("一般挽留客户"), False, False, False, _("低价值且久未购买：低成本触达")),
]
RFM_BY_CODE = {s.code: s for s in RFM_SEGMENTS}


def register_order_facts(sql: str) -> None:
    """Register a SQL relation of counted orders: organization_id, customer_id, net_amount, paid_at."""
    if sql not in _ORDER_FACTS:
        _ORDER_FACTS.append(sql)


def _facts_sql() -> str:
    if not _ORDER_FACTS:
        # No order source installed: every customer has no orders.
        return (
            "SELECT NULL::bigint AS organization_id, NULL::bigint AS customer_id, "
            "NULL::numeric AS net_amount, NULL::timestamptz AS paid_at WHERE false"
        )
    return " UNION ALL ".join(f"({sql})" for sql in _ORDER_FACTS)


def _band(expr: str, bands: list[tuple[int, int]], top: int, op: str) -> str:
    whens = " ".join(f"WHEN {expr} {op} {limit} THEN {score}" for limit, score in bands)
    return f"CASE {whens} ELSE {top} END"


def _rollup_sql(where: str) -> str:
    """UPDATE customers matching ``where`` (on alias ``c0``) from their counted orders.

    Parameters: %(today)s (a date), plus whatever ``where`` uses.
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
        WITH ids AS (SELECT c0.id FROM contacts_customer c0 WHERE {where}),
        agg AS (
            SELECT f.customer_id, SUM(f.net_amount) AS ltv, COUNT(*) AS n,
                   MIN(f.paid_at) AS first_order_at, MAX(f.paid_at) AS last_order_at
              FROM ({_facts_sql()}) f
             WHERE f.customer_id IN (SELECT id FROM ids)
          GROUP BY f.customer_id
        ),
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


def customer_rollups_refresh(*, customer_ids: list[int], today: dt.date | None = None) -> None:
    """Recompute the rollups of these customers from their orders (one statement)."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(_rollup_sql("c0.id = ANY(%(ids)s)"), {"ids": ids, "today": today or timezone.localdate()})


def customer_rollups_rebuild(*, organization_id: int, today: dt.date | None = None) -> int:
    """Recompute the rollups of every customer of an organization; returns the rows changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            _rollup_sql("c0.organization_id = %(org)s"),
            {"org": organization_id, "today": today or timezone.localdate()},
        )
        return int(cursor.rowcount)


def customer_rfm_refresh(*, organization_id: int, today: dt.date | None = None) -> int:
    """Nightly: recency moves with the calendar, so rescore buyers whose R band may have changed."""
    return customer_rollups_rebuild(organization_id=organization_id, today=today)


def rfm_segment_expression(code: str, *, today: dt.date | None = None) -> dict[str, object]:
    """The segment expression (contacts.segments) selecting the customers of one RFM segment today."""
    seg = RFM_BY_CODE[code]
    today = today or timezone.localdate()
    boundary = today - dt.timedelta(days=R_HIGH_MAX_DAYS)
    expression: dict[str, object] = {
        "last_order": {"from": boundary.isoformat()}
        if seg.r_high
        else {"to": (boundary - dt.timedelta(days=1)).isoformat()},
        "order_count": {"min": F_HIGH_MIN_ORDERS, "max": None} if seg.f_high else {"min": 1, "max": 1},
        "ltv": {"min": M_HIGH_MIN_LTV, "max": None} if seg.m_high else {"min": None, "max": M_HIGH_MIN_LTV - 0.01},
    }
    return expression
