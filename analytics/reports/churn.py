"""The churn report (流失明细): who lost which friends, how, and when — and who deletes customers in bulk.

A churned friend is a follow that ended in the period (Beijing days): the customer deleted the member,
the member deleted the customer, or the customer was transferred away. Store scope reads the customer's
home store, as everywhere else; a staff filter (and store staff themselves) reads the member's own.
3 queries.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from analytics.reports.filters import SHANGHAI, ReportFilter
from analytics.reports.sql import _days, _params, _rows
from analytics.reports.view_model import Chart, Column, Report, Stat, Table
from contacts.models import ChurnedBy, Store

# Detail rows shown and exported; past it the note says to narrow the dates or the store.
DETAIL_LIMIT = 10_000
KINDS = [ChurnedBy.CUSTOMER, ChurnedBy.STAFF, ChurnedBy.TRANSFER]


def _where(f: ReportFilter) -> str:
    conds = [
        "fw.organization_id = %(org)s",
        "fw.deleted_at >= %(lo)s",
        "fw.deleted_at < %(hi)s",
    ]
    if f.store_ids is not None:
        conds.append("c.home_store_id = ANY(%(stores)s)")
    if f.channel:
        conds.append("c.source_channel = %(channel)s")
    if f.staff_id:
        conds.append("fw.staff_id = %(staff)s")
    return " AND ".join(conds)


def churn(f: ReportFilter) -> Report:
    p = _params(f)
    where = _where(f)
    base = f"FROM contacts_follow fw JOIN contacts_customer c ON c.id = fw.customer_id WHERE {where}"
    daily = _rows(
        f"""SELECT (fw.deleted_at AT TIME ZONE 'Asia/Shanghai')::date AS day, fw.deleted_by, COUNT(*)
            {base} GROUP BY 1, 2""",
        p,
    )
    per_staff = _rows(
        f"""WITH days AS (SELECT fw.staff_id, (fw.deleted_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
                                 fw.deleted_by, COUNT(*) AS n {base} GROUP BY 1, 2, 3)
            SELECT s.id, s.name, s.store_id,
                   SUM(n) FILTER (WHERE deleted_by = 'customer'), SUM(n) FILTER (WHERE deleted_by = 'staff'),
                   SUM(n) FILTER (WHERE deleted_by = 'transfer'), MAX(n) FILTER (WHERE deleted_by = 'staff')
              FROM days JOIN contacts_staff s ON s.id = days.staff_id
          GROUP BY s.id, s.name, s.store_id
          ORDER BY SUM(n) DESC, s.id""",
        p,
    )
    detail = _rows(
        f"""SELECT c.name, c.phone_mask, s.name, c.home_store_id, fw.deleted_by, fw.added_at, fw.deleted_at
              FROM contacts_follow fw JOIN contacts_customer c ON c.id = fw.customer_id
              JOIN contacts_staff s ON s.id = fw.staff_id
             WHERE {where}
          ORDER BY fw.deleted_at DESC, fw.id DESC
             LIMIT {DETAIL_LIMIT + 1}""",
        p,
    )
    stores = dict(Store.objects.filter(organization_id=f.organization_id).values_list("pk", "name"))
    by_day: dict[tuple[Any, str], int] = {(r[0], r[1]): int(r[2]) for r in daily}
    days = _days(f)
    totals = {kind: sum(n for (_day, by), n in by_day.items() if by == kind) for kind in KINDS}
    truncated = len(detail) > DETAIL_LIMIT
    notes = [
        _("流失好友：在所选日期（北京时间）内结束的好友关系；门店按客户的归属门店，员工按服务该客户的员工。"),
        _(
            "单日删客：员工在一个北京日内主动删除客户的最多人数，超过品牌设置的风控阈值时，管理者会收到企业微信应用消息。"
        ),
    ]
    if truncated:
        notes.append(_("明细只列出最近 %(n)s 条；请缩短日期或选择门店查看其余记录。") % {"n": f"{DETAIL_LIMIT:,}"})
    return Report(
        name="churn",
        title=_("流失明细"),
        stats=[
            Stat(_("流失好友"), sum(totals.values())),
            Stat(str(ChurnedBy.CUSTOMER.label), totals[ChurnedBy.CUSTOMER]),
            Stat(str(ChurnedBy.STAFF.label), totals[ChurnedBy.STAFF]),
            Stat(str(ChurnedBy.TRANSFER.label), totals[ChurnedBy.TRANSFER]),
        ],
        charts=[
            Chart(
                "churn_daily",
                _("每日流失（按原因）"),
                "bar",
                [d.isoformat() for d in days],
                [{"name": str(kind.label), "data": [by_day.get((d, kind), 0) for d in days]} for kind in KINDS],
            )
        ],
        tables=[
            Table(
                "churn_staff",
                _("按员工"),
                [
                    Column("staff", _("员工")),
                    Column("store", _("门店")),
                    Column("by_customer", str(ChurnedBy.CUSTOMER.label), "int"),
                    Column("by_staff", str(ChurnedBy.STAFF.label), "int"),
                    Column("transfer", str(ChurnedBy.TRANSFER.label), "int"),
                    Column("max_day", _("单日删客最多"), "int"),
                ],
                [
                    [r[1], stores.get(r[2], "—"), int(r[3] or 0), int(r[4] or 0), int(r[5] or 0), int(r[6] or 0)]
                    for r in per_staff
                ],
                page_size=30,
            ),
            Table(
                "churn_detail",
                _("流失记录"),
                [
                    Column("customer", _("客户")),
                    Column("phone", _("手机号")),
                    Column("staff", _("员工")),
                    Column("store", _("门店")),
                    Column("by", _("原因")),
                    Column("added", _("添加时间")),
                    Column("deleted", _("流失时间")),
                    Column("days", _("好友天数"), "int"),
                ],
                [
                    [
                        r[0] or _("（已删除的客户）"),
                        r[1],
                        r[2],
                        stores.get(r[3], "—"),
                        str(ChurnedBy(r[4]).label) if r[4] in ChurnedBy.values else r[4],
                        _beijing(r[5]),
                        _beijing(r[6]),
                        (r[6] - r[5]).days if r[5] and r[6] else None,
                    ]
                    for r in detail[:DETAIL_LIMIT]
                ],
                page_size=50,
            ),
        ],
        notes=notes,
    )


def _beijing(moment: Any) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else ""
