"""The LTV report: lifetime value of the customers acquired in the range, by band, cohort, channel, store and staff."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from analytics.reports.filters import ReportFilter
from analytics.reports.sql import (
    LIVE_CREATED,
    _acquisition_cells,
    _acquisition_split,
    _cells_where,
    _customer_where,
    _money,
    _names,
    _params,
    _rows,
    channel_label,
)
from analytics.reports.view_model import Chart, Column, Report, Table
from analytics.rollups import LTV_BUCKETS
from contacts.models import Staff, Store


def _bucket_sql() -> str:
    whens = " ".join(f"WHEN c.ltv < {hi} THEN {i}" for i, hi in enumerate(LTV_BUCKETS[1:]))
    return f"CASE {whens} ELSE {len(LTV_BUCKETS) - 1} END"


def _bucket_label(i: int) -> str:
    lo = LTV_BUCKETS[i]
    if i + 1 < len(LTV_BUCKETS):
        return f"¥{lo:,}–{LTV_BUCKETS[i + 1]:,}"
    return f"¥{lo:,}+"


def _ltv_rows_live(f: ReportFilter, p: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The LTV figures straight from the customers (staff filter: a handful of customers)."""
    rows = _rows(
        f"""
        SELECT CASE WHEN GROUPING(b.bucket) = 0 THEN 'bucket' WHEN GROUPING(b.cohort) = 0 THEN 'cohort'
                    WHEN GROUPING(b.channel) = 0 THEN 'channel' ELSE 'store' END AS dim,
               COALESCE(b.bucket::text, b.cohort::text, b.channel, b.store::text, ''),
               SUM(b.n), SUM(b.buyers), COALESCE(SUM(b.ltv), 0)
          FROM (
                -- One pass over the customers into a few thousand cells, then the four roll-ups.
                SELECT CASE WHEN c.order_count >= 1 THEN {_bucket_sql()} END AS bucket,
                       date_trunc('month', c.created_at AT TIME ZONE 'Asia/Shanghai')::date AS cohort,
                       c.source_channel AS channel, COALESCE(c.home_store_id, 0) AS store,
                       COUNT(*) AS n, COUNT(*) FILTER (WHERE c.order_count >= 1) AS buyers, SUM(c.ltv) AS ltv
                  FROM contacts_customer c
                 WHERE {_customer_where(f)} AND c.created_at >= %(lo)s AND c.created_at < %(hi)s
              GROUP BY 1, 2, 3, 4) b
      GROUP BY GROUPING SETS ((b.bucket), (b.cohort), (b.channel), (b.store))
        """,
        p,
    )
    staff_rows = _rows(
        f"""
        SELECT fw.staff_id, COUNT(*), COUNT(*) FILTER (WHERE c.order_count >= 1), COALESCE(SUM(c.ltv), 0)
          FROM contacts_follow fw JOIN contacts_customer c ON c.id = fw.customer_id
         WHERE fw.deleted_at IS NULL AND {_customer_where(f)}
           AND c.created_at >= %(lo)s AND c.created_at < %(hi)s
           {"AND fw.staff_id = %(staff)s" if f.staff_id else ""}
      GROUP BY fw.staff_id
        """,
        p,
    )
    return rows, staff_rows


def _ltv_rows_cells(f: ReportFilter, p: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The LTV figures from the acquisition cells (complete past months) plus the live rest."""
    _acquisition_split(f, p)
    rows = _rows(
        f"""
        SELECT CASE WHEN GROUPING(b.bucket) = 0 THEN 'bucket' WHEN GROUPING(b.cohort) = 0 THEN 'cohort'
                    WHEN GROUPING(b.channel) = 0 THEN 'channel' ELSE 'store' END AS dim,
               COALESCE(b.bucket::text, b.cohort::text, b.channel, b.store::text, ''),
               SUM(b.n), SUM(b.buyers), COALESCE(SUM(b.ltv), 0)
          FROM (
                SELECT CASE WHEN c.order_count >= 1 THEN {_bucket_sql()} END AS bucket,
                       date_trunc('month', c.created_at AT TIME ZONE 'Asia/Shanghai')::date AS cohort,
                       c.source_channel AS channel, COALESCE(c.home_store_id, 0) AS store,
                       COUNT(*) AS n, COUNT(*) FILTER (WHERE c.order_count >= 1) AS buyers, SUM(c.ltv) AS ltv
                  FROM contacts_customer c
                 WHERE {_customer_where(f)} AND {LIVE_CREATED}
              GROUP BY 1, 2, 3, 4
             UNION ALL
                SELECT NULLIF(a.bucket, -1), a.month, a.channel, COALESCE(a.store_id, 0),
                       SUM(a.customers), COALESCE(SUM(a.customers) FILTER (WHERE a.bucket >= 0), 0), SUM(a.ltv)
                  FROM analytics_acquisitionmonth a
                 WHERE {_cells_where(f, "a")} AND {_acquisition_cells("a")}
              GROUP BY 1, 2, 3, 4) b
      GROUP BY GROUPING SETS ((b.bucket), (b.cohort), (b.channel), (b.store))
        HAVING SUM(b.n) > 0
        """,
        p,
    )
    staff_rows = _rows(
        f"""
        SELECT x.staff_id, SUM(x.n), SUM(x.buyers), COALESCE(SUM(x.ltv), 0)
          FROM (
                -- Today's customers, then their follows by index (OFFSET 0 keeps the planner from
                -- turning this into a scan of every follow when it overestimates today's customers).
                SELECT fw.staff_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE c.order_count >= 1) AS buyers,
                       SUM(c.ltv) AS ltv
                  FROM contacts_customer c
                  CROSS JOIN LATERAL (SELECT a.staff_id FROM contacts_follow a
                                       WHERE a.customer_id = c.id AND a.deleted_at IS NULL OFFSET 0) fw
                 WHERE {_customer_where(f)} AND {LIVE_CREATED}
              GROUP BY fw.staff_id
             UNION ALL
                SELECT s.staff_id, SUM(s.customers), SUM(s.buyers), SUM(s.ltv)
                  FROM analytics_acquisitionstaffmonth s
                 WHERE {_cells_where(f, "s")} AND {_acquisition_cells("s")}
              GROUP BY s.staff_id) x
      GROUP BY x.staff_id
        HAVING SUM(x.n) > 0
        """,
        p,
    )
    return rows, staff_rows


def ltv(f: ReportFilter) -> Report:
    """LTV of customers acquired in the date range: distribution, by cohort, channel, store, staff. 2 queries."""
    p = _params(f)
    if not f.use_cells():
        rows, staff_rows = _ltv_rows_live(f, p)
    else:
        rows, staff_rows = _ltv_rows_cells(f, p)
    dims: dict[str, list[tuple[str, int, int, Decimal]]] = {"bucket": [], "cohort": [], "channel": [], "store": []}
    for dim, key, n, buyers, total in rows:
        if dim == "bucket" and key == "":
            continue  # customers without orders
        dims[dim].append((key, int(n), int(buyers), _money(total)))
    store_names = _names(Store, {int(k) for k, *_ in dims["store"]})
    staff_names = _names(Staff, {r[0] for r in staff_rows})
    cols = [
        Column("customers", _("客户数"), "int"),
        Column("buyers", _("购买客户"), "int"),
        Column("ltv_total", _("累计消费"), "money"),
        Column("ltv_avg", _("人均 LTV"), "money"),
        Column("buyer_ltv_avg", _("购买客户人均 LTV"), "money"),
    ]

    def table_rows(items: list[tuple[str, int, int, Decimal]], label: Any) -> list[list[Any]]:
        return [
            [
                label(k),
                n,
                b,
                t,
                _money(t / n) if n else Decimal("0.00"),
                _money(t / b) if b else Decimal("0.00"),
            ]
            for k, n, b, t in items
        ]

    buckets = {int(k): n for k, n, _b, _t in dims["bucket"]}
    bucket_labels = [_bucket_label(i) for i in range(len(LTV_BUCKETS))]
    cohorts = sorted(dims["cohort"])
    channels = sorted(dims["channel"], key=lambda r: -r[3])
    stores = sorted(dims["store"], key=lambda r: -r[3])
    staff_items = sorted(((str(s), int(n), int(b), _money(t)) for s, n, b, t in staff_rows), key=lambda r: -r[3])
    return Report(
        name="ltv",
        title=_("客户终身价值（LTV）"),
        notes=[_("范围：在所选日期内新增的客户，统计其至今的累计消费（扣除退款）。")],
        charts=[
            Chart(
                "ltv_distribution",
                _("LTV 分布（购买客户数）"),
                "bar",
                bucket_labels,
                [{"name": _("客户数"), "data": [buckets.get(i, 0) for i in range(len(LTV_BUCKETS))]}],
            ),
            Chart(
                "ltv_cohort",
                _("按获客月份的人均 LTV"),
                "bar",
                [k[:7] for k, *_ in cohorts],
                [{"name": _("人均 LTV"), "data": [float(t / n) if n else 0 for _k, n, _b, t in cohorts]}],
                money=True,
            ),
            Chart(
                "ltv_channel",
                _("按渠道的人均 LTV"),
                "bar",
                [channel_label(k) for k, *_ in channels],
                [{"name": _("人均 LTV"), "data": [float(t / n) if n else 0 for _k, n, _b, t in channels]}],
                money=True,
            ),
        ],
        tables=[
            Table(
                "distribution",
                _("LTV 分布"),
                [Column("bucket", _("LTV 区间")), Column("customers", _("购买客户"), "int")],
                [[bucket_labels[i], buckets.get(i, 0)] for i in range(len(LTV_BUCKETS))],
            ),
            Table(
                "cohort",
                _("按获客月份"),
                [Column("cohort", _("获客月份")), *cols],
                table_rows(cohorts, lambda k: k[:7]),
            ),
            Table("channel", _("按渠道"), [Column("channel", _("渠道")), *cols], table_rows(channels, channel_label)),
            Table(
                "store",
                _("按门店"),
                [Column("store", _("门店")), *cols],
                table_rows(stores, lambda k: store_names.get(int(k), _("未分配门店"))),
            ),
            Table(
                "staff",
                _("按跟进员工"),
                [Column("staff", _("员工")), *cols],
                table_rows(staff_items, lambda k: staff_names.get(int(k), k)),
                note=_("一位客户可被多名员工跟进，按员工合计会大于总计。"),
            ),
        ],
    )
