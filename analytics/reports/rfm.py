"""The RFM report: customers per RFM segment (current state)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from analytics.reports.filters import ReportFilter
from analytics.reports.sql import (
    _cells_where,
    _customer_where,
    _money,
    _params,
    _pct,
    _rows,
)
from analytics.reports.view_model import Chart, Column, Report, Table
from analytics.rollups import EPOCH
from contacts.selectors import RFM_SEGMENTS


def rfm(f: ReportFilter) -> Report:
    """Customers per RFM segment (current state; the date range does not apply). 1 query."""
    p = _params(f)
    if not f.use_cells():
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
