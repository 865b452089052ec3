"""Keeping the analytics rollups current: incrementally when an order changes, fully on demand.

All set-based SQL. Calendar days and months are Asia/Shanghai (platform time).

* Orders → :class:`~analytics.models.DailyRollup` by additive upserts (``daily_add``): exact and safe
  under concurrency (the increment happens inside the row lock of the upsert).
* Customers' first/second order and monthly activity (:class:`BuyerFact`, :class:`CustomerMonth`)
  and the rollups on ``contacts.Customer`` (``contacts.rollups``) are *recomputed* for the affected
  customers — cost proportional to that customer's orders, and never drifts.
* New customers and churned follows come from contacts tables: ``daily_customer_metrics_refresh``
  recomputes them for given days (a beat task refreshes today and yesterday).
* ``organization_rebuild`` recomputes everything for one organization from the facts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from contacts import rollups as contact_rollups

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = "(({col}) AT TIME ZONE 'Asia/Shanghai')::date"
MONTH = "date_trunc('month', ({col}) AT TIME ZONE 'Asia/Shanghai')::date"

# The counted orders as contacts.rollups reads them (registered in AnalyticsConfig.ready()).
ORDER_FACTS_SQL = (
    "SELECT organization_id, customer_id, amount - refunded_amount AS net_amount, paid_at "
    "FROM analytics_order WHERE status <> 'refunded'"
)


def local_day(value: dt.datetime) -> dt.date:
    return value.astimezone(SHANGHAI).date()


@dataclass(frozen=True)
class Delta:
    orders: int = 0
    gmv: Decimal = Decimal(0)
    refunds: Decimal = Decimal(0)
    private_orders: int = 0
    private_gmv: Decimal = Decimal(0)
    private_refunds: Decimal = Decimal(0)


def daily_add(
    *, organization_id: int, day: dt.date, store_id: int | None, channel: str, staff_id: int | None, delta: Delta
) -> None:
    """Add ``delta`` to one day × store × channel × staff cell (creating it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO analytics_dailyrollup AS t
                   (organization_id, day, store_id, channel, staff_id, new_customers, churned,
                    orders, gmv, refunds, private_orders, private_gmv, private_refunds)
            VALUES (%s, %s, %s, %s, %s, 0, 0, %s, %s, %s, %s, %s, %s)
            ON CONFLICT ON CONSTRAINT dailyrollup_cell_unique DO UPDATE SET
                   orders = t.orders + EXCLUDED.orders, gmv = t.gmv + EXCLUDED.gmv,
                   refunds = t.refunds + EXCLUDED.refunds, private_orders = t.private_orders + EXCLUDED.private_orders,
                   private_gmv = t.private_gmv + EXCLUDED.private_gmv,
                   private_refunds = t.private_refunds + EXCLUDED.private_refunds
            """,
            [
                organization_id,
                day,
                store_id,
                channel,
                staff_id,
                delta.orders,
                delta.gmv,
                delta.refunds,
                delta.private_orders,
                delta.private_gmv,
                delta.private_refunds,
            ],
        )


def _buyer_sql(where: str) -> list[str]:
    """Statements recomputing BuyerFact and CustomerMonth for the customers matched by ``where``
    (a condition on alias ``o`` / ``b`` / ``m`` columns ``customer_id``/``organization_id``)."""
    return [
        f"DELETE FROM analytics_customermonth m WHERE {where.format(t='m')}",
        f"DELETE FROM analytics_buyerfact b WHERE {where.format(t='b')}",
        f"""
        INSERT INTO analytics_buyerfact (customer_id, organization_id, first_order_at, second_order_at, cohort_month)
        SELECT customer_id, organization_id, MIN(paid_at) FILTER (WHERE rn = 1), MIN(paid_at) FILTER (WHERE rn = 2),
               {MONTH.format(col="MIN(paid_at) FILTER (WHERE rn = 1)")}
          FROM (SELECT o.customer_id, o.organization_id, o.paid_at,
                       row_number() OVER (PARTITION BY o.customer_id ORDER BY o.paid_at, o.id) AS rn
                  FROM analytics_order o
                 WHERE {where.format(t="o")} AND o.status <> 'refunded') r
         WHERE rn <= 2
      GROUP BY customer_id, organization_id
        """,
        f"""
        INSERT INTO analytics_customermonth (organization_id, customer_id, month, cohort_month, orders, revenue)
        SELECT o.organization_id, o.customer_id, {MONTH.format(col="o.paid_at")}, b.cohort_month,
               COUNT(*), SUM(o.amount - o.refunded_amount)
          FROM analytics_order o JOIN analytics_buyerfact b ON b.customer_id = o.customer_id
         WHERE {where.format(t="o")} AND o.status <> 'refunded'
      GROUP BY o.organization_id, o.customer_id, 3, b.cohort_month
        """,
    ]


def customers_refresh(*, customer_ids: list[int]) -> None:
    """Recompute every per-customer rollup (contacts columns, buyer facts, months) of these customers."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return
    contact_rollups.customer_rollups_refresh(customer_ids=ids)
    with connection.cursor() as cursor:
        for sql in _buyer_sql("{t}.customer_id = ANY(%(ids)s)"):
            cursor.execute(sql, {"ids": ids})


def _customer_metrics_sql(range_cond_created: str, range_cond_deleted: str) -> list[str]:
    new = f"""
        INSERT INTO analytics_dailyrollup AS t
               (organization_id, day, store_id, channel, staff_id, new_customers, churned,
                orders, gmv, refunds, private_orders, private_gmv, private_refunds)
        SELECT c.organization_id, {DAY.format(col="c.created_at")}, c.home_store_id, c.source_channel,
               (SELECT f.staff_id FROM contacts_follow f WHERE f.customer_id = c.id ORDER BY f.added_at, f.id LIMIT 1),
               COUNT(*), 0, 0, 0, 0, 0, 0, 0
          FROM contacts_customer c
         WHERE c.organization_id = %(org)s AND {range_cond_created}
      GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT ON CONSTRAINT dailyrollup_cell_unique DO UPDATE SET new_customers = EXCLUDED.new_customers
    """
    churned = f"""
        INSERT INTO analytics_dailyrollup AS t
               (organization_id, day, store_id, channel, staff_id, new_customers, churned,
                orders, gmv, refunds, private_orders, private_gmv, private_refunds)
        SELECT c.organization_id, {DAY.format(col="f.deleted_at")}, c.home_store_id, c.source_channel, f.staff_id,
               0, COUNT(*), 0, 0, 0, 0, 0, 0
          FROM contacts_follow f JOIN contacts_customer c ON c.id = f.customer_id
         WHERE f.organization_id = %(org)s AND f.deleted_at IS NOT NULL AND f.deleted_by <> 'transfer'
           AND {range_cond_deleted}
      GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT ON CONSTRAINT dailyrollup_cell_unique DO UPDATE SET churned = EXCLUDED.churned
    """
    return [new, churned]


@transaction.atomic
def daily_customer_metrics_refresh(*, organization_id: int, start: dt.date, end: dt.date) -> None:
    """Recompute new customers and churned follows for the days ``start``..``end`` (inclusive)."""
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=SHANGHAI)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=SHANGHAI)
    params: dict[str, Any] = {"org": organization_id, "lo": lo, "hi": hi, "start": start, "end": end}
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE analytics_dailyrollup SET new_customers = 0, churned = 0
                WHERE organization_id = %(org)s AND day BETWEEN %(start)s AND %(end)s
                  AND (new_customers <> 0 OR churned <> 0)""",
            params,
        )
        for sql in _customer_metrics_sql(
            "c.created_at >= %(lo)s AND c.created_at < %(hi)s", "f.deleted_at >= %(lo)s AND f.deleted_at < %(hi)s"
        ):
            cursor.execute(sql, params)


@transaction.atomic
def organization_rebuild(*, organization_id: int) -> dict[str, int]:
    """Rebuild every rollup of one organization from orders, customers and follows."""
    params = {"org": organization_id}
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_dailyrollup WHERE organization_id = %(org)s", params)
        cursor.execute(
            f"""
            INSERT INTO analytics_dailyrollup
                   (organization_id, day, store_id, channel, staff_id, new_customers, churned,
                    orders, gmv, refunds, private_orders, private_gmv, private_refunds)
            SELECT organization_id, {DAY.format(col="paid_at")}, store_id, channel, staff_id, 0, 0,
                   COUNT(*) FILTER (WHERE status <> 'refunded'), SUM(amount), SUM(refunded_amount),
                   COUNT(*) FILTER (WHERE is_private AND status <> 'refunded'),
                   COALESCE(SUM(amount) FILTER (WHERE is_private), 0),
                   COALESCE(SUM(refunded_amount) FILTER (WHERE is_private), 0)
              FROM analytics_order WHERE organization_id = %(org)s
          GROUP BY 1, 2, 3, 4, 5
            """,
            params,
        )
        cells = cursor.rowcount
        for sql in _customer_metrics_sql("TRUE", "TRUE"):
            cursor.execute(sql, params)
        for sql in _buyer_sql("{t}.organization_id = %(org)s"):
            cursor.execute(sql, params)
    customers = contact_rollups.customer_rollups_rebuild(organization_id=organization_id)
    return {"daily_cells": cells, "customers_changed": customers}


def merge_handler(survivor_id: int, absorbed_id: int) -> None:
    """contacts.customer_merge hook: move the absorbed customer's orders, drop its per-customer
    facts (unique per customer, so they cannot simply be moved) and recompute the survivor's."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE analytics_order SET customer_id = %s WHERE customer_id = %s", [survivor_id, absorbed_id])
        cursor.execute("DELETE FROM analytics_customermonth WHERE customer_id = %s", [absorbed_id])
        cursor.execute("DELETE FROM analytics_buyerfact WHERE customer_id = %s", [absorbed_id])
        cursor.execute(
            "SELECT organization_id, created_at FROM contacts_customer WHERE id IN (%s, %s)", [survivor_id, absorbed_id]
        )
        rows = cursor.fetchall()
    customers_refresh(customer_ids=[survivor_id])
    if rows:
        org_id = rows[0][0]
        days = [local_day(created_at) for _org, created_at in rows]
        # Merging changes who counts as a new customer on both creation days (the survivor keeps
        # the earlier one); recount them once the merge is committed.
        transaction.on_commit(
            lambda: daily_customer_metrics_refresh(organization_id=org_id, start=min(days), end=max(days))
        )


def merge_bystander(survivor_id: int, absorbed_id: int) -> None:
    """contacts.customer_merge hook for CustomerMonth: the survivor's months are recomputed by
    :func:`merge_handler`; the absorbed customer's rows only need to go (unique per customer-month)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_customermonth WHERE customer_id = %s", [absorbed_id])
