"""Keeping the analytics rollups current: incrementally when an order changes, fully on demand.

All set-based SQL. Calendar days and months are Asia/Shanghai (platform time).

* Orders → :class:`~analytics.models.DailyRollup` by additive upserts (``daily_add``): exact and safe
  under concurrency (the increment happens inside the row lock of the upsert). The same upsert adds
  to :class:`~analytics.models.DailyStoreRollup` (no staff column); where DailyRollup's customer
  figures are recomputed for some days, those days' store cells are re-summed from it.
* Customers' first/second order and monthly activity (:class:`BuyerFact`, :class:`CustomerMonth`)
  and the order figures on ``contacts.Customer`` (written through
  ``contacts.services.customer_order_figures_set``) are *recomputed* for the affected customers —
  cost proportional to that customer's orders, and never drifts.
* New customers and churned follows come from contacts tables: ``daily_customer_metrics_refresh``
  recomputes them for given days (a beat task refreshes today and yesterday).
* Report cells (AcquisitionMonth/StaffMonth, RepurchaseDay, CohortMonth, RfmCell): sums over
  customers that the reports read instead of scanning customers or buyer facts. ``customers_refresh``
  takes the customers' share out before recomputing them and puts the new share back after, in the
  same transaction (order, refund, merge). Contacts-driven figures of the acquisition cells (new
  customers, WeCom adds, home store) are recomputed per month: this month and the last every
  10 minutes (``refresh_recent``), every month nightly with the RFM rescoring.
* ``organization_rebuild`` recomputes everything for one organization from the facts (buyer facts
  and customer-months written as differences, so a rebuild of correct rollups writes little).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from contacts import services as contact_services
from contacts.models import Customer

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = "(({col}) AT TIME ZONE 'Asia/Shanghai')::date"
MONTH = "date_trunc('month', ({col}) AT TIME ZONE 'Asia/Shanghai')::date"

# LTV bands (yuan, lower bounds) of the LTV report and the AcquisitionMonth cells.
LTV_BUCKETS = [0, 200, 500, 1000, 3000, 10000]
# "Bought again within N days" windows of the repurchase report and the RepurchaseDay cells.
REPURCHASE_WINDOWS = [30, 60, 90, 180]
# Day numbers of RfmCell.last_day_sum count from here.
EPOCH = dt.date(2000, 1, 1)

# Customers per statement when the order figures of a whole organization are rewritten.
FIGURES_BATCH = 20_000


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
    """Add ``delta`` to one day × store × channel × staff cell and to its day × store × channel cell
    (creating them): one statement."""
    sums = ", ".join(f"{c} = t.{c} + EXCLUDED.{c}" for c in _DAILY_SUMS[2:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH staff_cell AS (
                INSERT INTO analytics_dailyrollup AS t
                       (organization_id, day, store_id, channel, staff_id, {", ".join(_DAILY_SUMS)})
                VALUES (%(org)s, %(day)s, %(store)s, %(channel)s, %(staff)s, 0, 0, {_DELTA_VALUES})
                ON CONFLICT ON CONSTRAINT dailyrollup_cell_unique DO UPDATE SET {sums}
            )
            INSERT INTO analytics_dailystorerollup AS t
                   (organization_id, day, store_id, channel, {", ".join(_DAILY_SUMS)})
            VALUES (%(org)s, %(day)s, %(store)s, %(channel)s, 0, 0, {_DELTA_VALUES})
            ON CONFLICT ON CONSTRAINT dailystorerollup_cell_unique DO UPDATE SET {sums}
            """,
            {
                "org": organization_id,
                "day": day,
                "store": store_id,
                "channel": channel,
                "staff": staff_id,
                **{f"d_{c}": getattr(delta, c) for c in _DAILY_SUMS[2:]},
            },
        )


# The summed columns of DailyRollup and DailyStoreRollup; the first two are contacts-driven.
_DAILY_SUMS = [
    "new_customers",
    "churned",
    "orders",
    "gmv",
    "refunds",
    "private_orders",
    "private_gmv",
    "private_refunds",
]
_DELTA_VALUES = ", ".join(f"%(d_{c})s" for c in _DAILY_SUMS[2:])


def _store_cells_sql(day_cond: str) -> list[str]:
    """Statements making the new customers and churned follows of %(org)s's DailyStoreRollup cells whose
    day matches ``day_cond`` (on alias ``{t}``) equal their DailyRollup cells' sums over staff, after
    those were recomputed. The order columns are left to the additive upserts, as in DailyRollup, so
    a concurrent order is never lost."""
    return [
        f"""UPDATE analytics_dailystorerollup s SET new_customers = 0, churned = 0
             WHERE s.organization_id = %(org)s AND {day_cond.format(t="s")}
               AND (s.new_customers <> 0 OR s.churned <> 0)""",
        f"""
        INSERT INTO analytics_dailystorerollup AS t (organization_id, day, store_id, channel, {", ".join(_DAILY_SUMS)})
        SELECT d.organization_id, d.day, d.store_id, d.channel, SUM(d.new_customers), SUM(d.churned), 0, 0, 0, 0, 0, 0
          FROM analytics_dailyrollup d
         WHERE d.organization_id = %(org)s AND {day_cond.format(t="d")}
      GROUP BY 1, 2, 3, 4
        HAVING SUM(d.new_customers) <> 0 OR SUM(d.churned) <> 0
            ON CONFLICT ON CONSTRAINT dailystorerollup_cell_unique DO UPDATE
           SET new_customers = EXCLUDED.new_customers, churned = EXCLUDED.churned
        """,
    ]


# Every DailyStoreRollup cell of %(org)s from its DailyRollup cells (the rebuild; migration 0005 does
# the same for every organization).
STORE_CELLS_REBUILD = [
    "DELETE FROM analytics_dailystorerollup WHERE organization_id = %(org)s",
    f"""
    INSERT INTO analytics_dailystorerollup (organization_id, day, store_id, channel, {", ".join(_DAILY_SUMS)})
    SELECT organization_id, day, store_id, channel, {", ".join(f"SUM({c})" for c in _DAILY_SUMS)}
      FROM analytics_dailyrollup WHERE organization_id = %(org)s
  GROUP BY 1, 2, 3, 4
    """,
]


_BF_COLS = [
    "customer_id",
    "organization_id",
    "first_order_at",
    "second_order_at",
    "cohort_month",
    "home_store_id",
    "channel",
]
_CM_COLS = ["organization_id", "customer_id", "month", "cohort_month", "orders", "revenue"]


def _buyerfact_select(where: str) -> str:
    """BuyerFact rows (``_BF_COLS``) of the customers matched by ``where`` (on alias ``o``)."""
    return f"""
        SELECT r.customer_id, r.organization_id, r.first_at, r.second_at, {MONTH.format(col="r.first_at")},
               c.home_store_id, c.source_channel
          FROM (SELECT customer_id, organization_id, MIN(paid_at) FILTER (WHERE rn = 1) AS first_at,
                       MIN(paid_at) FILTER (WHERE rn = 2) AS second_at
                  FROM (SELECT o.customer_id, o.organization_id, o.paid_at,
                               row_number() OVER (PARTITION BY o.customer_id ORDER BY o.paid_at, o.id) AS rn
                          FROM analytics_order o
                         WHERE {where.format(t="o")} AND o.status <> 'refunded') w
                 WHERE rn <= 2
              GROUP BY customer_id, organization_id) r
          JOIN contacts_customer c ON c.id = r.customer_id
    """


def _customermonth_select(where: str) -> str:
    """CustomerMonth rows (``_CM_COLS``) of the customers matched by ``where``, from their BuyerFact."""
    return f"""
        SELECT o.organization_id, o.customer_id, {MONTH.format(col="o.paid_at")}, b.cohort_month,
               COUNT(*), SUM(o.amount - o.refunded_amount)
          FROM analytics_order o JOIN analytics_buyerfact b ON b.customer_id = o.customer_id
         WHERE {where.format(t="o")} AND o.status <> 'refunded'
      GROUP BY o.organization_id, o.customer_id, 3, b.cohort_month
    """


def _buyer_sql(where: str) -> list[str]:
    """Statements recomputing BuyerFact and CustomerMonth for the customers matched by ``where``
    (a condition on alias ``o`` / ``b`` / ``m`` columns ``customer_id``/``organization_id``)."""
    return [
        f"DELETE FROM analytics_customermonth m WHERE {where.format(t='m')}",
        f"DELETE FROM analytics_buyerfact b WHERE {where.format(t='b')}",
        f"INSERT INTO analytics_buyerfact ({', '.join(_BF_COLS)}) {_buyerfact_select(where)}",
        f"INSERT INTO analytics_customermonth ({', '.join(_CM_COLS)}) {_customermonth_select(where)}",
    ]


def _diff_sql(table: str, cols: list[str], keys: list[str], conflict: str, select: str, scope: str) -> str:
    """Make ``table`` (rows matching ``scope``, alias ``t``) equal ``select`` writing only what differs:
    rows no longer produced are deleted, changed ones updated, new ones inserted; equal rows are
    left alone (no new row version, no index or foreign-key work)."""
    values = [c for c in cols if c not in keys]
    match = " AND ".join(f"n.{k} = t.{k}" for k in keys)
    return f"""
        WITH n ({", ".join(cols)}) AS MATERIALIZED ({select}),
             gone AS (DELETE FROM {table} t WHERE {scope} AND NOT EXISTS (SELECT 1 FROM n WHERE {match}))
        INSERT INTO {table} AS t ({", ".join(cols)}) SELECT * FROM n
            ON CONFLICT {conflict} DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in values)}
         WHERE ({", ".join(f"t.{c}" for c in values)}) IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in values)})
    """


def _buyer_rebuild_sql() -> list[str]:
    """BuyerFact and CustomerMonth of a whole organization (%(org)s), written as differences."""
    where = "{t}.organization_id = %(org)s"
    return [
        _diff_sql(
            "analytics_buyerfact",
            _BF_COLS,
            ["customer_id"],
            "(customer_id)",
            _buyerfact_select(where),
            "t.organization_id = %(org)s",
        ),
        _diff_sql(
            "analytics_customermonth",
            _CM_COLS,
            ["customer_id", "month"],
            "ON CONSTRAINT customermonth_unique",
            _customermonth_select(where),
            "t.organization_id = %(org)s",
        ),
    ]


def _order_figures_write(ids: list[int]) -> int:
    """Hand contacts the order figures of these customers (from their counted orders); rows changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT customer_id, SUM(amount - refunded_amount), COUNT(*), MIN(paid_at), MAX(paid_at)
              FROM analytics_order
             WHERE customer_id = ANY(%s) AND status <> 'refunded'
          GROUP BY customer_id
            """,
            [ids],
        )
        figures = [
            contact_services.OrderFigures(
                customer_id=customer_id, ltv=ltv, order_count=n, first_order_at=first, last_order_at=last
            )
            for customer_id, ltv, n, first, last in cursor.fetchall()
        ]
    return contact_services.customer_order_figures_set(customer_ids=ids, figures=figures)


def _order_figures_rebuild(organization_id: int) -> int:
    """The order figures of every customer of an organization, a batch of customers at a time."""
    changed, after = 0, 0
    while True:
        ids = list(
            Customer.objects.filter(organization_id=organization_id, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:FIGURES_BATCH]
        )
        if not ids:
            return changed
        changed += _order_figures_write(ids)
        after = ids[-1]


def _customers_recompute(ids: list[int]) -> None:
    _order_figures_write(ids)
    with connection.cursor() as cursor:
        for sql in _buyer_sql("{t}.customer_id = ANY(%(ids)s)"):
            cursor.execute(sql, {"ids": ids})


def customers_refresh(*, customer_ids: list[int]) -> None:
    """Recompute every per-customer rollup (contacts columns, buyer facts, months) of these customers,
    taking their share out of the report cells before and putting the new one back after."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return
    cells_apply(customer_ids=ids, sign=-1)
    _customers_recompute(ids)
    cells_apply(customer_ids=ids, sign=1)


# --- report cells (AcquisitionMonth, AcquisitionStaffMonth, RepurchaseDay, CohortMonth, RfmCell) -----
#
# Each cell is a sum over customers. One SELECT per table says what a set of customers contributes;
# ``cells_apply`` adds it (sign +1) or takes it out (-1) with additive upserts, ``*_rebuild`` writes it
# for a whole organization. Buyer-based cells (repurchase, cohorts, RFM) use the home store and
# channel stored on the BuyerFact, so taking a buyer out always hits the cells it was counted in.


def ltv_bucket_sql(alias: str = "c") -> str:
    """Index in LTV_BUCKETS of the customer's LTV; -1 for a customer without counted orders."""
    whens = " ".join(f"WHEN {alias}.ltv < {hi} THEN {i}" for i, hi in enumerate(LTV_BUCKETS[1:]))
    return f"CASE WHEN {alias}.order_count < 1 THEN -1 {whens} ELSE {len(LTV_BUCKETS) - 1} END"


_CELLS: dict[str, tuple[str, list[str], list[str]]] = {
    # kind: (unique constraint, key columns, summed columns)
    "acq": (
        "acqmonth_cell_unique",
        ["organization_id", "month", "day", "store_id", "channel", "bucket"],
        ["customers", "followed", "repeaters", "ltv"],
    ),
    "acqstaff": (
        "acqstaffmonth_cell_unique",
        ["organization_id", "month", "day", "staff_id", "store_id", "channel"],
        ["customers", "buyers", "ltv"],
    ),
    "rep": (
        "repurchaseday_cell_unique",
        ["organization_id", "first_day", "cohort_month", "store_id", "channel"],
        ["buyers", "repeaters", *(f"again_{n}" for n in REPURCHASE_WINDOWS)],
    ),
    "coh": (
        "cohortmonth_cell_unique",
        ["organization_id", "cohort_month", "month", "store_id", "channel"],
        ["customers", "revenue"],
    ),
    "rfm": (
        "rfmcell_unique",
        ["organization_id", "segment", "store_id", "channel"],
        ["customers", "ltv", "orders", "last_day_sum"],
    ),
}
_TABLES = {
    "acq": "analytics_acquisitionmonth",
    "acqstaff": "analytics_acquisitionstaffmonth",
    "rep": "analytics_repurchaseday",
    "coh": "analytics_cohortmonth",
    "rfm": "analytics_rfmcell",
}


# The month grain (day null) and the day grain of the acquisition cells, from one pass.
ACQ_GRAINS = "(x.organization_id, x.month, {keys}), (x.organization_id, x.month, x.day, {keys})"


def _cell_select(kind: str, *, sign: int, cust: str, buyers: str) -> str:
    """What the customers of relation ``cust`` (contacts_customer columns) / the buyers of ``buyers``
    (analytics_buyerfact columns) contribute to the cells of ``kind``, times ``sign``."""
    s = int(sign)
    if kind == "acq":
        return f"""
        SELECT x.organization_id, x.month, x.day, x.home_store_id, x.source_channel, x.bucket, {s} * COUNT(*),
               {s} * COUNT(*) FILTER (WHERE x.followed), {s} * COUNT(*) FILTER (WHERE x.order_count >= 2),
               {s} * COALESCE(SUM(x.ltv), 0)
          FROM (SELECT c.organization_id, {MONTH.format(col="c.created_at")} AS month,
                       {DAY.format(col="c.created_at")} AS day, c.home_store_id, c.source_channel,
                       {ltv_bucket_sql()} AS bucket, c.order_count, c.ltv,
                       EXISTS (SELECT 1 FROM contacts_follow a WHERE a.customer_id = c.id) AS followed
                  FROM {cust} c) x
      GROUP BY GROUPING SETS ({ACQ_GRAINS.format(keys="x.home_store_id, x.source_channel, x.bucket")})"""
    if kind == "acqstaff":
        return f"""
        SELECT x.organization_id, x.month, x.day, x.staff_id, x.home_store_id, x.source_channel,
               {s} * COUNT(*), {s} * COUNT(*) FILTER (WHERE x.order_count >= 1), {s} * COALESCE(SUM(x.ltv), 0)
          FROM (SELECT c.organization_id, {MONTH.format(col="c.created_at")} AS month,
                       {DAY.format(col="c.created_at")} AS day, fw.staff_id, c.home_store_id, c.source_channel,
                       c.order_count, c.ltv
                  FROM {cust} c JOIN contacts_follow fw ON fw.customer_id = c.id AND fw.deleted_at IS NULL) x
      GROUP BY GROUPING SETS ({ACQ_GRAINS.format(keys="x.staff_id, x.home_store_id, x.source_channel")})"""
    if kind == "rep":
        again = ", ".join(
            f"{s} * COUNT(*) FILTER (WHERE b.second_order_at <= b.first_order_at + interval '{n} days')"
            for n in REPURCHASE_WINDOWS
        )
        return f"""
        SELECT b.organization_id, {DAY.format(col="b.first_order_at")}, b.cohort_month, b.home_store_id, b.channel,
               {s} * COUNT(*), {s} * COUNT(b.second_order_at), {again}
          FROM {buyers} b
      GROUP BY 1, 2, 3, 4, 5"""
    if kind == "coh":
        return f"""
        SELECT m.organization_id, m.cohort_month, m.month, b.home_store_id, b.channel,
               {s} * COUNT(*), {s} * COALESCE(SUM(m.revenue), 0)
          FROM {buyers} b JOIN analytics_customermonth m ON m.customer_id = b.customer_id
      GROUP BY 1, 2, 3, 4, 5"""
    if kind == "rfm":
        return f"""
        SELECT b.organization_id, c.rfm_segment, b.home_store_id, b.channel, {s} * COUNT(*),
               {s} * COALESCE(SUM(c.ltv), 0), {s} * COALESCE(SUM(c.order_count), 0),
               {s} * COALESCE(SUM({DAY.format(col="c.last_order_at")} - DATE '{EPOCH.isoformat()}'), 0)
          FROM {buyers} b JOIN contacts_customer c ON c.id = b.customer_id
         WHERE c.order_count >= 1
      GROUP BY 1, 2, 3, 4"""
    raise ValueError(kind)


def _cell_upsert(kind: str, select: str, *, additive: bool) -> str:
    constraint, keys, sums = _CELLS[kind]
    if additive:
        sets = ", ".join(f"{c} = t.{c} + EXCLUDED.{c}" for c in sums)
    else:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in sums)
    return (
        f"INSERT INTO {_TABLES[kind]} AS t ({', '.join(keys + sums)}) {select} "
        f"ON CONFLICT ON CONSTRAINT {constraint} DO UPDATE SET {sets}"
    )


def cells_apply(*, customer_ids: list[int], sign: int) -> None:
    """Add (sign 1) or take out (-1) these customers' share of every report cell: one statement."""
    ctes = ", ".join(
        f"{kind} AS ({_cell_upsert(kind, _cell_select(kind, sign=sign, cust=cust, buyers='bf'), additive=True)})"
        for kind, cust in ((k, "acust" if k.startswith("acq") else "cust") for k in _CELLS)
    )
    sql = f"""
        WITH cust AS MATERIALIZED (SELECT c.* FROM contacts_customer c WHERE c.id = ANY(%(ids)s)),
             -- In the acquisition cells only once a recompute of their month has counted them.
             acust AS (SELECT c.* FROM cust c JOIN analytics_acquisitionrefresh w
                          ON w.organization_id = c.organization_id AND w.month = {MONTH.format(col="c.created_at")}
                       WHERE c.created_at < w.refreshed_at),
             bf AS MATERIALIZED (SELECT b.* FROM analytics_buyerfact b WHERE b.customer_id = ANY(%(ids)s)),
             {ctes}
        SELECT 1
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": customer_ids})


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def acquisition_months_refresh(*, organization_id: int, start: dt.date, end: dt.date) -> None:
    """Recompute the acquisition cells of the months from ``start``'s to ``end``'s (inclusive) from the
    customers and follows (who was created, followed, moved store: contacts-driven figures)."""
    mlo, mhi = _month_start(start), _next_month(end)
    lo = dt.datetime.combine(mlo, dt.time.min, tzinfo=SHANGHAI)
    hi = dt.datetime.combine(mhi, dt.time.min, tzinfo=SHANGHAI)
    params: dict[str, Any] = {"org": organization_id, "mlo": mlo, "mhi": mhi, "lo": lo, "hi": hi}
    cust = (
        "(SELECT * FROM contacts_customer WHERE organization_id = %(org)s "
        "AND created_at >= %(lo)s AND created_at < %(hi)s)"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for kind in ("acq", "acqstaff"):
            cursor.execute(
                f"DELETE FROM {_TABLES[kind]} WHERE organization_id = %(org)s AND month >= %(mlo)s AND month < %(mhi)s",
                params,
            )
            cursor.execute(_cell_upsert(kind, _cell_select(kind, sign=1, cust=cust, buyers=""), additive=False), params)
        cursor.execute(
            """
            INSERT INTO analytics_acquisitionrefresh (organization_id, month, refreshed_at)
            SELECT %(org)s, m::date, now() FROM generate_series(%(mlo)s::date, %(mhi)s::date - 1, interval '1 month') m
                ON CONFLICT ON CONSTRAINT acqrefresh_unique_month DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at
            """,
            params,
        )


def report_cells_rebuild(*, organization_id: int, kinds: tuple[str, ...] = tuple(_CELLS)) -> None:
    """Recompute report cells of one organization from the customers, follows and buyer facts."""
    params = {"org": organization_id}
    cust = "(SELECT * FROM contacts_customer WHERE organization_id = %(org)s)"
    buyers = "(SELECT * FROM analytics_buyerfact WHERE organization_id = %(org)s)"
    with transaction.atomic(), connection.cursor() as cursor:
        for kind in kinds:
            cursor.execute(f"DELETE FROM {_TABLES[kind]} WHERE organization_id = %(org)s", params)
            cursor.execute(
                _cell_upsert(kind, _cell_select(kind, sign=1, cust=cust, buyers=buyers), additive=False), params
            )
        if "acq" in kinds:
            # Every month up to this one now counts every customer created before this transaction.
            cursor.execute("DELETE FROM analytics_acquisitionrefresh WHERE organization_id = %(org)s", params)
            cursor.execute(
                f"""
                INSERT INTO analytics_acquisitionrefresh (organization_id, month, refreshed_at)
                SELECT %(org)s, m::date, now()
                  FROM generate_series(
                         (SELECT COALESCE(MIN(month), {MONTH.format(col="now()")}) FROM analytics_acquisitionmonth
                           WHERE organization_id = %(org)s),
                         {MONTH.format(col="now()")}, interval '1 month') m
                """,
                params,
            )


def buyer_dims_reconcile(*, organization_id: int, batch: int = 5000) -> int:
    """Re-count the buyers whose home store or channel changed since their facts were computed (a
    contacts edit, not an order), so the store/channel filters of the buyer cells follow; nightly."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT b.customer_id FROM analytics_buyerfact b JOIN contacts_customer c ON c.id = b.customer_id
             WHERE b.organization_id = %s
               AND (b.home_store_id, b.channel) IS DISTINCT FROM (c.home_store_id, c.source_channel)
            """,
            [organization_id],
        )
        ids = [row[0] for row in cursor.fetchall()]
    for i in range(0, len(ids), batch):
        with transaction.atomic():
            customers_refresh(customer_ids=ids[i : i + batch])
    return len(ids)


def report_cells_nightly(*, organization_id: int) -> None:
    """After the nightly RFM rescoring: buyers' moved stores, RFM cells, every acquisition month."""
    buyer_dims_reconcile(organization_id=organization_id)
    report_cells_rebuild(organization_id=organization_id, kinds=("rfm", "acq", "acqstaff"))


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
    """Recompute new customers and churned follows for the days ``start``..``end`` (inclusive), and the
    acquisition cells of their months."""
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
        for sql in _store_cells_sql("{t}.day BETWEEN %(start)s AND %(end)s"):
            cursor.execute(sql, params)
    acquisition_months_refresh(organization_id=organization_id, start=start, end=end)


@transaction.atomic
def organization_rebuild(*, organization_id: int) -> dict[str, int]:
    """Rebuild every rollup of one organization from orders, customers and follows."""
    params = {"org": organization_id}
    with connection.cursor() as cursor:
        # A few large sorts and hash aggregates (orders by customer, customer-months): in memory
        # rather than spilled to disk in 4 MB runs. For this transaction only.
        cursor.execute("SET LOCAL work_mem = '128MB'")
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
        for sql in STORE_CELLS_REBUILD:
            cursor.execute(sql, params)
        for sql in _buyer_rebuild_sql():
            cursor.execute(sql, params)
    customers = _order_figures_rebuild(organization_id)
    report_cells_rebuild(organization_id=organization_id)
    return {"daily_cells": cells, "customers_changed": customers}


def merge_handler(survivor_id: int, absorbed_id: int) -> None:
    """contacts.customer_merge hook: move the absorbed customer's orders, drop its per-customer
    facts (unique per customer, so they cannot simply be moved) and recompute the survivor's."""
    cells_apply(customer_ids=sorted([survivor_id, absorbed_id]), sign=-1)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE analytics_order SET customer_id = %s WHERE customer_id = %s", [survivor_id, absorbed_id])
        cursor.execute("DELETE FROM analytics_customermonth WHERE customer_id = %s", [absorbed_id])
        cursor.execute("DELETE FROM analytics_buyerfact WHERE customer_id = %s", [absorbed_id])
        cursor.execute(
            "SELECT organization_id, created_at FROM contacts_customer WHERE id IN (%s, %s)", [survivor_id, absorbed_id]
        )
        rows = cursor.fetchall()
    _customers_recompute([survivor_id])
    cells_apply(customer_ids=[survivor_id], sign=1)
    if rows:
        org_id = rows[0][0]
        days = sorted({local_day(created_at) for _org, created_at in rows})

        def after_merge() -> None:
            # Merging changes who counts as a new customer on both creation days (the survivor keeps
            # the earlier one), and may give the survivor the absorbed customer's store, channel and
            # follows (set by contacts after this hook): recount those days and months, and the
            # survivor's buyer cells under its final store and channel.
            with transaction.atomic():
                for day in days:
                    daily_customer_metrics_refresh(organization_id=org_id, start=day, end=day)
                customers_refresh(customer_ids=[survivor_id])

        transaction.on_commit(after_merge)


def merge_bystander(survivor_id: int, absorbed_id: int) -> None:
    """contacts.customer_merge hook for CustomerMonth: the survivor's months are recomputed by
    :func:`merge_handler`; the absorbed customer's rows only need to go (unique per customer-month)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_customermonth WHERE customer_id = %s", [absorbed_id])


def unmerge_handler(survivor_id: int, restored_id: int, phase: str) -> None:
    """contacts.customer_merge_undo hook: take the survivor's share out of the cells while it still
    holds both people ("before"), then recompute both customers' rollups and put them back ("after")."""
    if phase == "before":
        cells_apply(customer_ids=[survivor_id], sign=-1)
        return
    ids = sorted([survivor_id, restored_id])
    _customers_recompute(ids)
    cells_apply(customer_ids=ids, sign=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT organization_id, created_at FROM contacts_customer WHERE id = ANY(%s)", [ids])
        rows = cursor.fetchall()
    if rows:
        org_id = rows[0][0]
        days = sorted({local_day(created_at) for _org, created_at in rows})

        def after_undo() -> None:
            # Who counts as a new customer on both creation days changes back.
            with transaction.atomic():
                for day in days:
                    daily_customer_metrics_refresh(organization_id=org_id, start=day, end=day)

        transaction.on_commit(after_undo)
