"""Report selectors: set-based SQL over the rollups, a fixed number of queries each.

A :class:`ReportFilter` can only be built from an :class:`~contacts.access.Actor` (``report_filter``),
which is where organization and store scoping is applied: every selector reads
``f.organization_id`` / ``f.store_ids`` from it and never from request parameters. Store staff are
pinned to themselves (their own performance); managers to their stores.

Definitions (shown on the pages too):
* GMV is net of refunds unless labelled otherwise; refunds count on the day the order was paid.
* Private-domain (私域) GMV: orders paid while the customer was a WeCom friend of a staff member.
* Repurchase within N days: among first-time buyers whose first order is at least N days old, the
  share whose second order came within N days of the first.
* Cohort: the month of a customer's first order; retention = customers with an order in month k.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.rollups import EPOCH, LTV_BUCKETS, REPURCHASE_WINDOWS
from contacts.access import Actor
from contacts.models import SourceChannel, Staff, Store
from contacts.rollups import RFM_SEGMENTS

SHANGHAI = ZoneInfo("Asia/Shanghai")
__all__ = ["LTV_BUCKETS", "REPURCHASE_WINDOWS"]  # defined with the cells they band (analytics.rollups)
MAX_COHORT_MONTHS = 12


@dataclass(frozen=True)
class ReportFilter:
    organization_id: int
    start: dt.date
    end: dt.date
    store_ids: frozenset[int] | None = None  # None: every store of the organization
    channel: str = ""
    staff_id: int | None = None
    today: dt.date = field(default_factory=timezone.localdate)

    @property
    def lo(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=SHANGHAI)

    @property
    def hi(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=SHANGHAI)

    def query(self) -> dict[str, str]:
        """The filter as GET parameters (for export links)."""
        q = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.channel:
            q["channel"] = self.channel
        if self.staff_id:
            q["staff"] = str(self.staff_id)
        return q


def _parse_date(value: str | None, default: dt.date) -> dt.date:
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return default


def report_filter(*, actor: Actor, params: Any, default_days: int = 90) -> ReportFilter:
    """Build the filter from GET parameters, within the actor's scope.

    A store outside the actor's stores is refused; store staff always see only themselves.
    """
    today = timezone.localdate()
    end = _parse_date(params.get("end"), today)
    start = _parse_date(params.get("start"), end - dt.timedelta(days=default_days - 1))
    if start > end:
        start, end = end, start
    store_ids = actor.store_ids
    store = params.get("store") or ""
    if store:
        try:
            store_id = int(store)
        except ValueError:
            store_id = -1
        if not actor.can_access_store(store_id) or not actor.scope(Store.objects.filter(pk=store_id)).exists():
            raise PermissionDenied(_("无权查看该门店的数据"))
        store_ids = frozenset({store_id})
    channel = params.get("channel") or ""
    if channel not in SourceChannel.values:
        channel = ""
    staff_id: int | None = None
    if actor.is_store_staff:
        staff_id = actor.staff.pk
    elif params.get("staff"):
        try:
            staff_id = int(params.get("staff"))
        except ValueError:
            staff_id = None
        if staff_id and not actor.scope(Staff.objects.filter(pk=staff_id)).exists():
            raise PermissionDenied(_("无权查看该员工的数据"))
    return ReportFilter(
        organization_id=actor.organization_id,
        start=start,
        end=end,
        store_ids=store_ids,
        channel=channel,
        staff_id=staff_id,
        today=today,
    )


# --- report structures -----------------------------------------------------------------------


@dataclass
class Column:
    key: str
    label: str
    kind: str = "text"  # text | int | money | pct | num


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Chart:
    id: str
    title: str
    kind: str  # line | bar | pie | heatmap | funnel
    x: list[str] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)
    y: list[str] = field(default_factory=list)
    money: bool = False
    pct: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "x": self.x,
            "y": self.y,
            "series": self.series,
            "money": self.money,
            "pct": self.pct,
        }


@dataclass
class Stat:
    label: str
    value: Any
    kind: str = "int"
    hint: str = ""


@dataclass
class Report:
    name: str
    title: str
    stats: list[Stat] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


# --- SQL helpers -----------------------------------------------------------------------------


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        # No JIT: these read thousands of cells, and an overestimated row count (customers created
        # today, say) makes PostgreSQL spend up to a second compiling a plan that runs in a few ms.
        # SET LOCAL in the same round trip lasts for this statement's (implicit) transaction.
        cursor.execute("SET LOCAL jit = off; " + sql, params)
        return list(cursor.fetchall())


def _params(f: ReportFilter) -> dict[str, Any]:
    return {
        "org": f.organization_id,
        "start": f.start,
        "end": f.end,
        "lo": f.lo,
        "hi": f.hi,
        "stores": sorted(f.store_ids) if f.store_ids is not None else None,
        "channel": f.channel,
        "staff": f.staff_id,
        "today": f.today,
    }


def _daily_where(f: ReportFilter, alias: str = "d") -> str:
    conds = [f"{alias}.organization_id = %(org)s", f"{alias}.day BETWEEN %(start)s AND %(end)s"]
    if f.store_ids is not None:
        conds.append(f"{alias}.store_id = ANY(%(stores)s)")
    if f.channel:
        conds.append(f"{alias}.channel = %(channel)s")
    if f.staff_id:
        conds.append(f"{alias}.staff_id = %(staff)s")
    return " AND ".join(conds)


def _customer_where(f: ReportFilter, alias: str = "c") -> str:
    conds = [f"{alias}.organization_id = %(org)s"]
    if f.store_ids is not None:
        conds.append(f"{alias}.home_store_id = ANY(%(stores)s)")
    if f.channel:
        conds.append(f"{alias}.source_channel = %(channel)s")
    if f.staff_id:
        conds.append(
            f"EXISTS (SELECT 1 FROM contacts_follow fw WHERE fw.customer_id = {alias}.id "
            f"AND fw.staff_id = %(staff)s AND fw.deleted_at IS NULL)"
        )
    return " AND ".join(conds)


def _customer_join(f: ReportFilter, alias: str) -> str:
    """Join the customers only when a store/channel/staff filter needs them (facts carry the org)."""
    if f.store_ids is None and not f.channel and not f.staff_id:
        return ""
    return f"JOIN contacts_customer c ON c.id = {alias}.customer_id AND {_customer_where(f)}"


def _cells_where(f: ReportFilter, alias: str) -> str:
    """The store/channel filter on a report cell table (home store and channel of the customers)."""
    conds = [f"{alias}.organization_id = %(org)s"]
    if f.store_ids is not None:
        conds.append(f"{alias}.store_id = ANY(%(stores)s)")
    if f.channel:
        conds.append(f"{alias}.channel = %(channel)s")
    return " AND ".join(conds)


def _use_cells(f: ReportFilter) -> bool:
    """Read the pre-summed cells: they are by home store and channel, not by follower, so a staff
    filter (a store clerk's own customers, a few thousand at most) reads the customers instead."""
    return not f.staff_id


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _acquisition_split(f: ReportFilter, p: dict[str, Any]) -> None:
    """Split the range for the acquisition cells. Complete months before the current one come from
    the month grain (``mlo``..``mhi``, end exclusive), the other days before today from the day
    grain (``d1lo``..``d1hi`` and ``d2lo``..``d2hi``), and customers created today (``tlo``..``hi``)
    live from the customers: a new lead shows at once."""
    today = f.today
    mlo = f.start if f.start.day == 1 else _next_month(f.start)
    mhi = min((f.end + dt.timedelta(days=1)).replace(day=1), today.replace(day=1))
    if mhi <= mlo:
        mlo = mhi = f.start
    p.update(
        mlo=mlo,
        mhi=mhi,
        d1lo=f.start,
        d1hi=mlo,
        d2lo=mhi,
        d2hi=min(f.end + dt.timedelta(days=1), today),
        tlo=dt.datetime.combine(max(f.start, today), dt.time.min, tzinfo=SHANGHAI),
    )


LIVE_CREATED = "(c.created_at >= %(tlo)s AND c.created_at < %(hi)s)"


def _acquisition_cells(alias: str) -> str:
    return (
        f"(({alias}.day IS NULL AND {alias}.month >= %(mlo)s AND {alias}.month < %(mhi)s)"
        f" OR ({alias}.day >= %(d1lo)s AND {alias}.day < %(d1hi)s)"
        f" OR ({alias}.day >= %(d2lo)s AND {alias}.day < %(d2hi)s))"
    )


def _pct(num: Any, den: Any) -> float | None:
    return round(100.0 * float(num) / float(den), 1) if den else None


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _days(f: ReportFilter) -> list[dt.date]:
    n = (f.end - f.start).days + 1
    return [f.start + dt.timedelta(days=i) for i in range(n)]


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    out, m = [], start.replace(day=1)
    while m <= end:
        out.append(m)
        m = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return out


def channel_label(code: str) -> str:
    try:
        return str(SourceChannel(code).label)
    except ValueError:
        return code or _("未知")


def _names(model: Any, ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))


# --- overview ----------------------------------------------------------------------------------


def overview(f: ReportFilter) -> Report:
    """Customers, new, churned, (private-domain) GMV, LTV, repurchase rate, with daily trends. 2 queries."""
    p = _params(f)
    totals = _rows(
        f"""
        SELECT COUNT(*) FILTER (WHERE c.created_at < %(hi)s),
               COUNT(*) FILTER (WHERE c.order_count >= 1),
               COUNT(*) FILTER (WHERE c.order_count >= 2),
               COALESCE(SUM(c.ltv) FILTER (WHERE c.order_count >= 1), 0)
          FROM contacts_customer c
         WHERE {_customer_where(f)}
        """,
        p,
    )[0]
    daily = _rows(
        f"""
        SELECT d.day, SUM(d.new_customers), SUM(d.churned), SUM(d.orders), SUM(d.gmv - d.refunds),
               SUM(d.private_gmv - d.private_refunds), SUM(d.refunds)
          FROM analytics_dailyrollup d
         WHERE {_daily_where(f)}
      GROUP BY d.day
        """,
        p,
    )
    customers, buyers, repeaters, ltv_sum = totals
    by_day = {r[0]: r for r in daily}
    days = _days(f)
    series: dict[str, list[Any]] = {k: [] for k in ("new", "churned", "orders", "gmv", "private")}
    for day in days:
        r = by_day.get(day)
        series["new"].append(int(r[1]) if r else 0)
        series["churned"].append(int(r[2]) if r else 0)
        series["orders"].append(int(r[3]) if r else 0)
        series["gmv"].append(float(r[4]) if r else 0.0)
        series["private"].append(float(r[5]) if r else 0.0)
    new_total = sum(series["new"])
    churned_total = sum(series["churned"])
    gmv = sum((_money(r[4]) for r in daily), Decimal(0))
    private = sum((_money(r[5]) for r in daily), Decimal(0))
    refunds = sum((_money(r[6]) for r in daily), Decimal(0))
    orders = sum(series["orders"])
    avg_ltv = _money(Decimal(ltv_sum) / buyers) if buyers else Decimal(0)
    x = [d.strftime("%m-%d") for d in days]
    report = Report(
        name="overview",
        title=_("数据概览"),
        stats=[
            Stat(_("客户总数"), customers, hint=_("截至结束日期")),
            Stat(_("新增客户"), new_total),
            Stat(_("流失好友"), churned_total, hint=_("客户删除员工或员工删除客户")),
            Stat(_("订单数"), orders),
            Stat(_("GMV（扣除退款）"), gmv, "money"),
            Stat(_("私域 GMV"), private, "money", hint=_("下单时是企微好友的客户贡献")),
            Stat(_("私域占比"), _pct(private, gmv), "pct"),
            Stat(_("平均 LTV"), avg_ltv, "money", hint=_("有购买客户的累计消费均值")),
            Stat(_("复购率"), _pct(repeaters, buyers), "pct", hint=_("购买 2 次及以上的客户占购买客户比例")),
            Stat(_("退款"), refunds, "money"),
        ],
        charts=[
            Chart(
                "trend_customers",
                _("新增与流失趋势"),
                "line",
                x,
                [{"name": _("新增客户"), "data": series["new"]}, {"name": _("流失好友"), "data": series["churned"]}],
            ),
            Chart(
                "trend_gmv",
                _("GMV 与私域 GMV 趋势"),
                "line",
                x,
                [{"name": _("GMV"), "data": series["gmv"]}, {"name": _("私域 GMV"), "data": series["private"]}],
                money=True,
            ),
        ],
        tables=[
            Table(
                "daily",
                _("每日明细"),
                [
                    Column("day", _("日期")),
                    Column("new", _("新增客户"), "int"),
                    Column("churned", _("流失好友"), "int"),
                    Column("orders", _("订单数"), "int"),
                    Column("gmv", _("GMV（扣除退款）"), "money"),
                    Column("private", _("私域 GMV"), "money"),
                ],
                [
                    [
                        d.isoformat(),
                        series["new"][i],
                        series["churned"][i],
                        series["orders"][i],
                        _money(by_day[d][4]) if d in by_day else Decimal("0.00"),
                        _money(by_day[d][5]) if d in by_day else Decimal("0.00"),
                    ]
                    for i, d in reversed(list(enumerate(days)))
                    if d in by_day
                ],
                note=_("仅列出有数据的日期，最新在前。"),
            )
        ],
    )
    report.extra = {"customers": customers, "buyers": buyers, "repeaters": repeaters, "gmv": gmv, "private": private}
    return report


# --- LTV -------------------------------------------------------------------------------------


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
    if not _use_cells(f):
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


# --- repurchase --------------------------------------------------------------------------------


def repurchase(f: ReportFilter) -> Report:
    """Share of first-time buyers (by first-order month in range) who bought again within N days. 1 query."""
    p = _params(f)
    window_cols = ", ".join(
        f"COUNT(*) FILTER (WHERE b.first_order_at < %(today_ts)s - interval '{n} days'), "
        f"COUNT(*) FILTER (WHERE b.first_order_at < %(today_ts)s - interval '{n} days' "
        f"AND b.second_order_at <= b.first_order_at + interval '{n} days')"
        for n in REPURCHASE_WINDOWS
    )
    p["today_ts"] = dt.datetime.combine(f.today + dt.timedelta(days=1), dt.time.min, tzinfo=SHANGHAI)
    p["mstart"] = f.start.replace(day=1)
    if not _use_cells(f):
        sql = f"""
        SELECT b.cohort_month, COUNT(*), COUNT(b.second_order_at), {window_cols}
          FROM analytics_buyerfact b {_customer_join(f, "b")}
         WHERE b.organization_id = %(org)s AND b.cohort_month BETWEEN %(mstart)s AND %(end)s
      GROUP BY ROLLUP (b.cohort_month)
      ORDER BY b.cohort_month NULLS LAST
        """
    else:
        # A first order at least N days old = first paid on or before today − N (Asia/Shanghai days).
        cell_cols = ", ".join(
            f"COALESCE(SUM(r.buyers) FILTER (WHERE r.first_day <= %(today)s::date - {n}), 0), "
            f"COALESCE(SUM(r.again_{n}) FILTER (WHERE r.first_day <= %(today)s::date - {n}), 0)"
            for n in REPURCHASE_WINDOWS
        )
        sql = f"""
        SELECT r.cohort_month, COALESCE(SUM(r.buyers), 0), COALESCE(SUM(r.repeaters), 0), {cell_cols}
          FROM analytics_repurchaseday r
         WHERE {_cells_where(f, "r")} AND r.cohort_month BETWEEN %(mstart)s AND %(end)s
      GROUP BY ROLLUP (r.cohort_month)
        HAVING SUM(r.buyers) > 0 OR GROUPING(r.cohort_month) = 1
      ORDER BY r.cohort_month NULLS LAST
        """
    rows = _rows(sql, p)
    table_rows: list[list[Any]] = []
    chart_series: dict[int, list[float | None]] = {n: [] for n in REPURCHASE_WINDOWS}
    x = []
    total_row: list[Any] = []
    for r in rows:
        cohort, buyers, repeaters = r[0], int(r[1]), int(r[2])
        rates = []
        for i in range(len(REPURCHASE_WINDOWS)):
            matured, again = int(r[3 + 2 * i]), int(r[4 + 2 * i])
            rates.append(_pct(again, matured))
        label = cohort.strftime("%Y-%m") if cohort else _("合计")
        row = [label, buyers, repeaters, *rates]
        if cohort is None:
            total_row = row
            continue
        table_rows.append(row)
        x.append(label)
        for n, rate in zip(REPURCHASE_WINDOWS, rates, strict=True):
            chart_series[n].append(rate)
    if total_row:
        table_rows.append(total_row)
    stats = []
    if total_row:
        stats = [Stat(_("首购客户"), total_row[1]), Stat(_("已复购"), total_row[2])] + [
            Stat(_("%(n)s 天复购率") % {"n": n}, total_row[3 + i], "pct") for i, n in enumerate(REPURCHASE_WINDOWS)
        ]
    return Report(
        name="repurchase",
        title=_("复购分析"),
        stats=stats,
        notes=[
            _("首购月份在所选日期内的客户；N 天复购率 = 首单后 N 天内再次购买的客户 ÷ 首单已满 N 天的客户。"),
        ],
        charts=[
            Chart(
                "repurchase_cohort",
                _("各首购月份的复购率"),
                "bar",
                x,
                [{"name": _("%(n)s 天") % {"n": n}, "data": chart_series[n]} for n in REPURCHASE_WINDOWS],
                pct=True,
            )
        ],
        tables=[
            Table(
                "repurchase",
                _("复购率（按首购月份）"),
                [
                    Column("cohort", _("首购月份")),
                    Column("buyers", _("首购客户"), "int"),
                    Column("repeaters", _("已复购"), "int"),
                    *[Column(f"r{n}", _("%(n)s 天复购率") % {"n": n}, "pct") for n in REPURCHASE_WINDOWS],
                ],
                table_rows,
            )
        ],
    )


# --- cohorts -----------------------------------------------------------------------------------


def cohorts(f: ReportFilter) -> Report:
    """Retention matrix: first-order month × months since, by customers and by revenue. 1 query."""
    p = _params(f)
    p["mstart"] = f.start.replace(day=1)
    months_since = """((EXTRACT(YEAR FROM m.month) - EXTRACT(YEAR FROM m.cohort_month)) * 12
             + EXTRACT(MONTH FROM m.month) - EXTRACT(MONTH FROM m.cohort_month))::int"""
    if not _use_cells(f):
        sql = f"""
        SELECT m.cohort_month, {months_since} AS k, COUNT(*), SUM(m.revenue)
          FROM analytics_customermonth m {_customer_join(f, "m")}
         WHERE m.organization_id = %(org)s AND m.cohort_month BETWEEN %(mstart)s AND %(end)s
      GROUP BY 1, 2
        """
    else:
        sql = f"""
        SELECT m.cohort_month, {months_since} AS k, SUM(m.customers), SUM(m.revenue)
          FROM analytics_cohortmonth m
         WHERE {_cells_where(f, "m")} AND m.cohort_month BETWEEN %(mstart)s AND %(end)s
      GROUP BY 1, 2
        HAVING SUM(m.customers) > 0
        """
    rows = _rows(sql, p)
    cells: dict[dt.date, dict[int, tuple[int, Decimal]]] = {}
    for cohort, k, n, revenue in rows:
        cells.setdefault(cohort, {})[k] = (int(n), _money(revenue))
    months = sorted(cells)
    width = (
        min(MAX_COHORT_MONTHS, max(((f.today.year - m.year) * 12 + f.today.month - m.month for m in months), default=0))
        + 1
    )
    heat_customers, heat_revenue = [], []
    cust_rows, rev_rows = [], []
    for y, cohort in enumerate(months):
        size = cells[cohort].get(0, (0, Decimal(0)))[0]
        crow: list[Any] = [cohort.strftime("%Y-%m"), size]
        rrow: list[Any] = [cohort.strftime("%Y-%m"), size]
        for k in range(width):
            n, rev = cells[cohort].get(k, (0, Decimal("0.00")))
            age = (f.today.year - cohort.year) * 12 + f.today.month - cohort.month
            if k > age:
                crow.append(None)
                rrow.append(None)
                continue
            rate = _pct(n, size)
            crow.append(rate)
            rrow.append(rev)
            heat_customers.append([k, y, rate])
            heat_revenue.append([k, y, float(rev)])
        cust_rows.append(crow)
        rev_rows.append(rrow)
    ks = [_("第%(k)s月") % {"k": k} for k in range(width)]
    ylabels = [m.strftime("%Y-%m") for m in months]
    head = [Column("cohort", _("首购月份")), Column("size", _("首购客户"), "int")]
    return Report(
        name="cohorts",
        title=_("同期群留存"),
        notes=[_("同期群 = 首次购买的月份；第 0 月为首购当月，第 k 月 = 之后第 k 个自然月有购买。")],
        charts=[
            Chart(
                "cohort_customers",
                _("留存率（按客户）"),
                "heatmap",
                ks,
                [{"name": _("留存率"), "data": heat_customers}],
                y=ylabels,
                pct=True,
            ),
            Chart(
                "cohort_revenue",
                _("留存（按收入）"),
                "heatmap",
                ks,
                [{"name": _("收入"), "data": heat_revenue}],
                y=ylabels,
                money=True,
            ),
        ],
        tables=[
            Table(
                "customers",
                _("留存率（按客户，%）"),
                [*head, *[Column(f"m{k}", ks[k], "pct") for k in range(width)]],
                cust_rows,
            ),
            Table(
                "revenue",
                _("留存（按收入）"),
                [*head, *[Column(f"m{k}", ks[k], "money") for k in range(width)]],
                rev_rows,
            ),
        ],
    )


# --- RFM ---------------------------------------------------------------------------------------


def rfm(f: ReportFilter) -> Report:
    """Customers per RFM segment (current state; the date range does not apply). 1 query."""
    p = _params(f)
    if not _use_cells(f):
        sql = f"""
        SELECT c.rfm_segment, COUNT(*), COALESCE(SUM(c.ltv), 0), COALESCE(AVG(c.order_count), 0),
               AVG(%(today)s::date - (c.last_order_at AT TIME ZONE 'Asia/Shanghai')::date)
          FROM contacts_customer c
         WHERE {_customer_where(f)} AND c.order_count >= 1
      GROUP BY c.rfm_segment
        """
    else:
        sql = f"""
        SELECT r.segment, SUM(r.customers), COALESCE(SUM(r.ltv), 0), SUM(r.orders)::numeric / SUM(r.customers),
               (%(today)s::date - DATE '{EPOCH.isoformat()}') - SUM(r.last_day_sum)::numeric / SUM(r.customers)
          FROM analytics_rfmcell r
         WHERE {_cells_where(f, "r")}
      GROUP BY r.segment
        HAVING SUM(r.customers) > 0
        """
    rows = _rows(sql, p)
    by_code = {r[0]: r for r in rows}
    total = sum(int(r[1]) for r in rows)
    table_rows: list[list[Any]] = []
    for seg in RFM_SEGMENTS:
        r = by_code.get(seg.code)
        n = int(r[1]) if r else 0
        ltv_sum = _money(r[2]) if r else Decimal("0.00")
        table_rows.append(
            [
                str(seg.label),
                n,
                _pct(n, total),
                ltv_sum,
                _money(ltv_sum / n) if n else Decimal("0.00"),
                round(float(r[3]), 1) if r else None,
                round(float(r[4]), 0) if r and r[4] is not None else None,
                str(seg.advice),
            ]
        )
    return Report(
        name="rfm",
        title=_("RFM 客户分层"),
        notes=[
            _("R 高：90 天内有购买；F 高：购买 2 次及以上；M 高：累计消费 ≥ ¥1,000。点击“保存为分群”即可用于群发。"),
        ],
        charts=[
            Chart(
                "rfm_pie",
                _("各分层客户数"),
                "pie",
                [str(s.label) for s in RFM_SEGMENTS],
                [{"name": _("客户数"), "data": [row[1] for row in table_rows]}],
            ),
            Chart(
                "rfm_ltv",
                _("各分层累计消费"),
                "bar",
                [str(s.label) for s in RFM_SEGMENTS],
                [{"name": _("累计消费"), "data": [float(row[3]) for row in table_rows]}],
                money=True,
            ),
        ],
        tables=[
            Table(
                "segments",
                _("RFM 分层"),
                [
                    Column("segment", _("分层")),
                    Column("customers", _("客户数"), "int"),
                    Column("share", _("占比"), "pct"),
                    Column("ltv", _("累计消费"), "money"),
                    Column("ltv_avg", _("人均消费"), "money"),
                    Column("orders_avg", _("平均订单数"), "num"),
                    Column("recency", _("平均距上次购买天数"), "num"),
                    Column("advice", _("运营建议")),
                ],
                table_rows,
            )
        ],
        extra={"codes": [s.code for s in RFM_SEGMENTS]},
    )


# --- funnel ------------------------------------------------------------------------------------


def funnel(f: ReportFilter) -> Report:
    """Customers acquired in the range: lead → added on WeCom → first order → repeat, by channel. 1 query."""
    p = _params(f)
    if not _use_cells(f):
        sql = f"""
        SELECT c.source_channel, COUNT(*),
               COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM contacts_follow a WHERE a.customer_id = c.id)),
               COUNT(*) FILTER (WHERE c.order_count >= 1), COUNT(*) FILTER (WHERE c.order_count >= 2)
          FROM contacts_customer c
         WHERE {_customer_where(f)} AND c.created_at >= %(lo)s AND c.created_at < %(hi)s
      GROUP BY ROLLUP (c.source_channel)
      ORDER BY c.source_channel NULLS LAST
        """
    else:
        _acquisition_split(f, p)
        sql = f"""
        SELECT x.channel, COALESCE(SUM(x.leads), 0), COALESCE(SUM(x.added), 0), COALESCE(SUM(x.first), 0),
               COALESCE(SUM(x.repeat), 0)
          FROM (
                SELECT c.source_channel AS channel, COUNT(*) AS leads,
                       COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM contacts_follow a WHERE a.customer_id = c.id))
                           AS added,
                       COUNT(*) FILTER (WHERE c.order_count >= 1) AS first,
                       COUNT(*) FILTER (WHERE c.order_count >= 2) AS repeat
                  FROM contacts_customer c
                 WHERE {_customer_where(f)} AND {LIVE_CREATED}
              GROUP BY 1
             UNION ALL
                SELECT a.channel, SUM(a.customers), SUM(a.followed),
                       COALESCE(SUM(a.customers) FILTER (WHERE a.bucket >= 0), 0), SUM(a.repeaters)
                  FROM analytics_acquisitionmonth a
                 WHERE {_cells_where(f, "a")} AND {_acquisition_cells("a")}
              GROUP BY 1) x
      GROUP BY ROLLUP (x.channel)
        HAVING SUM(x.leads) > 0 OR GROUPING(x.channel) = 1
      ORDER BY x.channel NULLS LAST
        """
    rows = _rows(sql, p)
    table_rows: list[list[Any]] = []
    total = [0, 0, 0, 0]
    for ch, leads, added, first, repeat in rows:
        row = [
            channel_label(ch) if ch is not None else _("合计"),
            int(leads),
            int(added),
            int(first),
            int(repeat),
            _pct(added, leads),
            _pct(first, leads),
            _pct(repeat, first),
        ]
        if ch is None:
            total = [int(leads), int(added), int(first), int(repeat)]
        table_rows.append(row)
    stages = [_("线索/新客"), _("添加企微"), _("首单"), _("复购")]
    by_channel = [r for r in table_rows if r[0] != _("合计")]
    return Report(
        name="funnel",
        title=_("转化漏斗"),
        stats=[
            Stat(stages[0], total[0]),
            Stat(stages[1], total[1]),
            Stat(_("加企微率"), _pct(total[1], total[0]), "pct"),
            Stat(stages[2], total[2]),
            Stat(stages[3], total[3]),
        ],
        notes=[_("范围：在所选日期内新增的客户；首单/复购统计到今天。")],
        charts=[
            Chart(
                "funnel_total",
                _("整体漏斗"),
                "funnel",
                stages,
                [{"name": _("客户数"), "data": total}],
            ),
            Chart(
                "funnel_channel",
                _("各渠道加企微率与首单率"),
                "bar",
                [r[0] for r in by_channel],
                [
                    {"name": _("加企微率"), "data": [r[5] for r in by_channel]},
                    {"name": _("首单率"), "data": [r[6] for r in by_channel]},
                ],
                pct=True,
            ),
        ],
        tables=[
            Table(
                "funnel",
                _("按渠道"),
                [
                    Column("channel", _("渠道")),
                    Column("leads", stages[0], "int"),
                    Column("added", stages[1], "int"),
                    Column("first", stages[2], "int"),
                    Column("repeat", stages[3], "int"),
                    Column("add_rate", _("加企微率"), "pct"),
                    Column("first_rate", _("首单率"), "pct"),
                    Column("repeat_rate", _("复购率"), "pct"),
                ],
                table_rows,
            )
        ],
    )


# --- staff -------------------------------------------------------------------------------------


def staff(f: ReportFilter) -> Report:
    """Per staff member: customers served, new/churned, attributed orders and GMV, WeCom service quality. 1 query."""
    p = _params(f)
    staff_conds = ["s.organization_id = %(org)s"]
    if f.store_ids is not None:
        staff_conds.append("s.store_id = ANY(%(stores)s)")
    if f.staff_id:
        staff_conds.append("s.id = %(staff)s")
    rows = _rows(
        f"""
        WITH st AS (SELECT s.id, s.name, s.store_id FROM contacts_staff s WHERE {" AND ".join(staff_conds)}),
        served AS (SELECT fw.staff_id, COUNT(*) AS n FROM contacts_follow fw
                    WHERE fw.staff_id IN (SELECT id FROM st) AND fw.deleted_at IS NULL GROUP BY fw.staff_id),
        roll AS (SELECT d.staff_id, SUM(d.new_customers) AS new, SUM(d.churned) AS churned, SUM(d.orders) AS orders,
                        SUM(d.gmv - d.refunds) AS gmv, SUM(d.private_gmv - d.private_refunds) AS private
                   FROM analytics_dailyrollup d
                  WHERE {_daily_where(f)} GROUP BY d.staff_id),
        beh AS (SELECT b.staff_id, SUM(b.chat_cnt) AS chats, SUM(b.message_cnt) AS messages,
                       AVG(b.reply_percentage) AS reply, AVG(b.avg_reply_time) AS reply_time,
                       SUM(b.new_contact_cnt) AS new_contacts, SUM(b.negative_feedback_cnt) AS negative
                  FROM analytics_staffbehaviordaily b
                 WHERE b.staff_id IN (SELECT id FROM st) AND b.day BETWEEN %(start)s AND %(end)s
              GROUP BY b.staff_id)
        SELECT st.id, st.name, st.store_id, COALESCE(served.n, 0), COALESCE(roll.new, 0), COALESCE(roll.churned, 0),
               COALESCE(roll.orders, 0), COALESCE(roll.gmv, 0), COALESCE(roll.private, 0),
               COALESCE(beh.chats, 0), COALESCE(beh.messages, 0), beh.reply, beh.reply_time,
               COALESCE(beh.new_contacts, 0), COALESCE(beh.negative, 0)
          FROM st LEFT JOIN served ON served.staff_id = st.id LEFT JOIN roll ON roll.staff_id = st.id
               LEFT JOIN beh ON beh.staff_id = st.id
      ORDER BY COALESCE(roll.gmv, 0) DESC, st.id
        """,
        p,
    )
    store_names = dict(Store.objects.filter(organization_id=f.organization_id).values_list("pk", "name"))
    table_rows: list[list[Any]] = [
        [
            r[1],
            store_names.get(r[2], "—"),
            int(r[3]),
            int(r[4]),
            int(r[5]),
            int(r[6]),
            _money(r[7]),
            _money(r[8]),
            int(r[9]),
            int(r[10]),
            round(float(r[11]), 1) if r[11] is not None else None,
            round(float(r[12]), 1) if r[12] is not None else None,
            int(r[14]),
        ]
        for r in rows
    ]
    top = table_rows[:15]
    return Report(
        name="staff",
        title=_("员工业绩与服务"),
        notes=[_("业绩归属：收款/核销员工，否则为客户的服务跟进人；服务数据来自企业微信联系客户统计。")],
        charts=[
            Chart(
                "staff_gmv",
                _("员工业绩（GMV，扣除退款）"),
                "bar",
                [r[0] for r in top],
                [
                    {"name": _("GMV"), "data": [float(r[6]) for r in top]},
                    {"name": _("私域 GMV"), "data": [float(r[7]) for r in top]},
                ],
                money=True,
            ),
            Chart(
                "staff_reply",
                _("回复率（%）"),
                "bar",
                [r[0] for r in top],
                [{"name": _("回复率"), "data": [r[10] for r in top]}],
                pct=True,
            ),
        ],
        tables=[
            Table(
                "staff",
                _("员工明细"),
                [
                    Column("staff", _("员工")),
                    Column("store", _("门店")),
                    Column("served", _("服务客户"), "int"),
                    Column("new", _("新增客户"), "int"),
                    Column("churned", _("流失好友"), "int"),
                    Column("orders", _("订单数"), "int"),
                    Column("gmv", _("业绩 GMV"), "money"),
                    Column("private", _("私域 GMV"), "money"),
                    Column("chats", _("聊天数"), "int"),
                    Column("messages", _("发送消息数"), "int"),
                    Column("reply", _("回复率 %"), "num"),
                    Column("reply_time", _("平均首次回复（分钟）"), "num"),
                    Column("negative", _("被删除/拉黑"), "int"),
                ],
                table_rows,
            )
        ],
    )


REPORTS = {
    "overview": overview,
    "ltv": ltv,
    "repurchase": repurchase,
    "cohorts": cohorts,
    "rfm": rfm,
    "funnel": funnel,
    "staff": staff,
}


def customer_orders_export(customer_id: int) -> list[dict[str, Any]]:
    """A customer's orders for their personal-data export (contacts.services.customer_personal_data)."""
    from analytics.models import Order

    rows = Order.objects.filter(customer_id=customer_id).select_related("store").order_by("paid_at", "id")
    return [
        {
            "order": o.external_ref,
            "source": o.get_source_display(),
            "store": o.store.name if o.store else "",
            "amount": str(o.amount),
            "refunded_amount": str(o.refunded_amount),
            "status": o.get_status_display(),
            "paid_at": o.paid_at.isoformat(),
            "items": o.items,
        }
        for o in rows
    ]
