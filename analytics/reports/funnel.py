"""The funnel report: lead → added on WeCom → first order → repeat, by channel."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from analytics.reports.filters import ReportFilter
from analytics.reports.sql import (
    LIVE_CREATED,
    _acquisition_cells,
    _acquisition_split,
    _cells_where,
    _customer_where,
    _params,
    _pct,
    _rows,
    channel_label,
)
from analytics.reports.view_model import Chart, Column, Report, Stat, Table


def funnel(f: ReportFilter) -> Report:
    """Customers acquired in the range: lead → added on WeCom → first order → repeat, by channel. 1 query."""
    p = _params(f)
    if not f.use_cells():
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
