"""What the models read, in one SQL pass over the orders: each buyer's purchase days (Shanghai dates;
several orders on one day are one purchase, refunds netted, a day whose net value is not positive is
no purchase) summed up as (x, t_x, T, m), and the purchase days after a cut for the holdout.

Times come back in days; ``btyd`` is given weeks (the papers' unit) by the caller.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.db import connection
from numpy.typing import NDArray

from analytics.rollups import SHANGHAI

# One purchase per customer and Shanghai day, net of refunds; fully refunded orders do not count.
_PURCHASE_DAYS = """
    SELECT customer_id, (paid_at AT TIME ZONE 'Asia/Shanghai')::date AS day, SUM(amount - refunded_amount) AS value
      FROM analytics_order
     WHERE organization_id = %(org)s AND status <> 'refunded' AND paid_at < %(until)s
  GROUP BY customer_id, day
    HAVING SUM(amount - refunded_amount) > 0
"""


@dataclass(frozen=True)
class Summary:
    """Per buyer, aligned arrays: repeat purchases, days from first to last purchase, days from first
    purchase to the end of the data, and the mean value of the repeat purchases (0 without any)."""

    customer_id: NDArray[np.int64]
    first_day: NDArray[np.int64]  # days since 1970-01-01
    x: NDArray[np.float64]
    t_x: NDArray[np.float64]
    T: NDArray[np.float64]
    m: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.customer_id)


def _midnight_after(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI)


def summary(*, organization_id: int, end: dt.date) -> Summary:
    """Every buyer whose first purchase is on or before ``end``, from the orders up to ``end`` (inclusive)."""
    sql = f"""
        WITH days AS ({_PURCHASE_DAYS}),
        ranked AS (
            SELECT customer_id, day, value, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY day) AS k
              FROM days
        )
        SELECT customer_id, MIN(day) - DATE '1970-01-01', COUNT(*) - 1, MAX(day) - MIN(day),
               %(end)s::date - MIN(day),
               COALESCE(SUM(value) FILTER (WHERE k > 1) / NULLIF(COUNT(*) - 1, 0), 0)
          FROM ranked
      GROUP BY customer_id
      ORDER BY customer_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"org": organization_id, "until": _midnight_after(end), "end": end})
        rows = cursor.fetchall()
    if not rows:
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return Summary(empty_i, empty_i, empty_f, empty_f, empty_f, empty_f)
    ids, first, x, t_x, T, m = zip(*rows, strict=True)
    return Summary(
        customer_id=np.asarray(ids, dtype=np.int64),
        first_day=np.asarray(first, dtype=np.int64),
        x=np.asarray(x, dtype=np.float64),
        t_x=np.asarray(t_x, dtype=np.float64),
        T=np.asarray(T, dtype=np.float64),
        m=np.asarray(m, dtype=np.float64),
    )


def purchases_between(*, organization_id: int, after: dt.date, end: dt.date) -> dict[int, int]:
    """Purchase days of each customer in (after, end]."""
    sql = f"""
        SELECT customer_id, COUNT(*) FROM ({_PURCHASE_DAYS}) days
         WHERE day > %(after)s GROUP BY customer_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"org": organization_id, "until": _midnight_after(end), "after": after})
        return dict(cursor.fetchall())


def repeat_purchases_by_day(*, organization_id: int, end: dt.date, first_by: dt.date) -> dict[dt.date, int]:
    """Repeat purchases (every purchase day of a customer but their first) on each day up to ``end``,
    of the customers whose first purchase is on or before ``first_by``."""
    sql = f"""
        SELECT day, COUNT(*) FROM (
            SELECT day, ROW_NUMBER() OVER w AS k, MIN(day) OVER w AS first_day
              FROM ({_PURCHASE_DAYS}) d
            WINDOW w AS (PARTITION BY customer_id ORDER BY day)
        ) ranked WHERE k > 1 AND first_day <= %(first_by)s GROUP BY day ORDER BY day
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"org": organization_id, "until": _midnight_after(end), "first_by": first_by})
        return dict(cursor.fetchall())


def first_purchase_day(*, organization_id: int) -> dt.date | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MIN((paid_at AT TIME ZONE 'Asia/Shanghai')::date) FROM analytics_order "
            "WHERE organization_id = %s AND status <> 'refunded'",
            [organization_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def last_purchase_day(*, organization_id: int) -> dt.date | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT MAX((paid_at AT TIME ZONE 'Asia/Shanghai')::date) FROM analytics_order "
            "WHERE organization_id = %s AND status <> 'refunded'",
            [organization_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None
