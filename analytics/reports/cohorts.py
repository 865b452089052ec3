"""The cohort report: retention by first-order month, by customers and by revenue."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from analytics.reports.filters import ReportFilter
from analytics.reports.sql import (
    _cells_where,
    _customer_join,
    _money,
    _params,
    _pct,
    _rows,
)
from analytics.reports.view_model import Chart, Column, Report, Table

MAX_COHORT_MONTHS = 12


def cohorts(f: ReportFilter) -> Report:
    """Retention matrix: first-order month × months since, by customers and by revenue. 1 query."""
    p = _params(f)
    p["mstart"] = f.start.replace(day=1)
    months_since = """((EXTRACT(YEAR FROM m.month) - EXTRACT(YEAR FROM m.cohort_month)) * 12
             + EXTRACT(MONTH FROM m.month) - EXTRACT(MONTH FROM m.cohort_month))::int"""
    if not f.use_cells():
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
