"""The repurchase report: share of first-time buyers who bought again within N days."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from analytics.reports.filters import SHANGHAI, ReportFilter
from analytics.reports.sql import (
    _cells_where,
    _customer_join,
    _params,
    _pct,
    _rows,
)
from analytics.reports.view_model import Chart, Column, Report, Stat, Table
from analytics.rollups import REPURCHASE_WINDOWS


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
    if not f.use_cells():
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
