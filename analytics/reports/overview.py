"""The overview report: customers, new and churned, GMV and private-domain GMV, with daily trends."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from analytics.reports.filters import ReportFilter
from analytics.reports.sql import (
    _acquisition_cells,
    _acquisition_split,
    _cells_where,
    _customer_where,
    _daily_where,
    _days,
    _money,
    _params,
    _pct,
    _rows,
)
from analytics.reports.view_model import Chart, Column, Report, Stat, Table

DAILY_PAGE_SIZE = 31


# The earliest day the overview's all-time figures reach back to (customers are dated 1970–2100).
ALL_TIME = dt.date(1970, 1, 1)


def _totals_live(f: ReportFilter, p: dict[str, Any]) -> tuple[Any, ...]:
    """Customers created by the end date; buyers, repeaters and their LTV sum, straight from the customers
    (the staff filter's path: a clerk's own customers)."""
    return _rows(
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


def _split(f: ReportFilter, p: dict[str, Any], prefix: str, end: dt.date) -> str:
    """The acquisition cells of every customer created from ``ALL_TIME`` to ``end``, as a condition on
    alias ``a`` whose parameters carry ``prefix`` (two splits share one statement)."""
    part: dict[str, Any] = {}
    _acquisition_split(dataclasses.replace(f, start=ALL_TIME, end=end), part)
    p.update({f"{prefix}{k}": v for k, v in part.items()})
    return _acquisition_cells("a").replace("%(", f"%({prefix}")


def _totals_cells(f: ReportFilter, p: dict[str, Any]) -> tuple[Any, ...]:
    """The same figures from the acquisition cells (by creation month/day × home store × channel × LTV
    band; analytics.rollups) plus today's customers live — a few hundred cells instead of every
    customer of the brand."""
    everything = _split(f, p, "all_", f.today)
    to_end = _split(f, p, "end_", min(f.end, f.today))
    rows = _rows(
        f"""
        SELECT COALESCE(SUM(a.customers) FILTER (WHERE {to_end}), 0),
               COALESCE(SUM(a.customers) FILTER (WHERE a.bucket >= 0 AND {everything}), 0),
               COALESCE(SUM(a.repeaters) FILTER (WHERE {everything}), 0),
               COALESCE(SUM(a.ltv) FILTER (WHERE a.bucket >= 0 AND {everything}), 0)
          FROM analytics_acquisitionmonth a
         -- The two splits differ only in the month the end date falls in (its days or the month).
         WHERE {_cells_where(f, "a")} AND ({everything} OR {to_end})
     UNION ALL
        SELECT COUNT(*) FILTER (WHERE c.created_at < %(hi)s),
               COUNT(*) FILTER (WHERE c.order_count >= 1),
               COUNT(*) FILTER (WHERE c.order_count >= 2),
               COALESCE(SUM(c.ltv) FILTER (WHERE c.order_count >= 1), 0)
          FROM contacts_customer c
         WHERE {_customer_where(f)} AND c.created_at >= %(all_tlo)s
        """,
        p,
    )
    return tuple(sum((r[i] for r in rows), start=0) for i in range(4))


def overview(f: ReportFilter) -> Report:
    """Customers, new, churned, (private-domain) GMV, LTV, repurchase rate, with daily trends. 2 queries."""
    p = _params(f)
    totals = _totals_cells(f, p) if f.use_cells() else _totals_live(f, p)
    # The day × store × channel cells, a staff filter the day × store × channel × staff ones: the staff
    # column multiplies a brand's cells by its staff (90 days of the 100k bench brand: 60,405 against 18,232).
    daily_table = "analytics_dailystorerollup" if f.use_cells() else "analytics_dailyrollup"
    daily = _rows(
        f"""
        SELECT d.day, SUM(d.new_customers), SUM(d.churned), SUM(d.orders), SUM(d.gmv - d.refunds),
               SUM(d.private_gmv - d.private_refunds), SUM(d.refunds)
          FROM {daily_table} d
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
                page_size=DAILY_PAGE_SIZE,
            )
        ],
    )
    report.extra = {"customers": customers, "buyers": buyers, "repeaters": repeaters, "gmv": gmv, "private": private}
    return report
