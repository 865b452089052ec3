"""The staff report: per staff member, customers served, results and WeCom service quality."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from analytics.reports.filters import ReportFilter
from analytics.reports.sql import (
    _daily_where,
    _money,
    _params,
    _rows,
)
from analytics.reports.view_model import Chart, Column, Report, Table
from contacts.models import Store


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
