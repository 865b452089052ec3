"""The home page (概览) per role: today / this week / this month figures against the period before,
a 30-day trend, the actor's to-dos and shortcuts.

Operators see the brand, managers their stores (own + managed: the actor's scope), store staff the
follows they hold and the orders attributed to them. Every figure comes from the selector of the app
that owns it; this module only lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics import selectors as analytics_selectors
from analytics.reports.view_model import Chart
from analytics.templatetags.analytics_tags import cell
from campaigns import selectors as campaign_selectors
from campaigns.models import CampaignStatus
from channels import selectors as channel_selectors
from contacts import periods
from contacts import selectors as contact_selectors
from contacts.access import Actor, AuthenticatedHttpRequest, console_view
from contacts.models import Role, Store


@dataclass
class Figure:
    key: str
    label: str
    kind: str  # int | money
    change: periods.Change
    # Whether a rise is good news (losses: it is not); picks the colour of the change.
    rise_is_good: bool = True

    @property
    def value_text(self) -> str:
        return cell(self.change.value, self.kind)

    @property
    def delta_text(self) -> str:
        """The change against the previous period, signed: "+12", "-¥1,234.00", "0"."""
        delta = self.change.delta
        sign = "+" if delta > 0 else "-" if delta < 0 else ""
        return sign + cell(abs(delta), self.kind)

    @property
    def percent_text(self) -> str:
        return "" if self.change.percent is None else f"{self.change.percent:+.1f}%"

    @property
    def tone(self) -> str:
        if self.change.delta == 0:
            return "flat"
        return "good" if (self.change.delta > 0) == self.rise_is_good else "bad"


@dataclass
class Todo:
    key: str
    label: str
    count: int
    url: str
    items: list[dict[str, str]]


def _figures(actor: Actor, today: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    first, last = periods.home_window(today)
    adds, losses = contact_selectors.follow_daily_counts(actor=actor, first=first, last=last)
    orders, gmv = analytics_selectors.order_daily_totals(actor=actor, first=first, last=last)
    days = sorted(set(adds) | set(losses))
    net = {d: adds.get(d, 0) - losses.get(d, 0) for d in days}
    series: list[tuple[str, str, str, dict[Any, Any], bool]] = [
        ("adds", _("新增好友"), "int", adds, True),
        ("losses", _("流失好友"), "int", losses, False),
        ("net", _("净增长"), "int", net, True),
        ("orders", _("订单数"), "int", orders, True),
        ("gmv", _("GMV"), "money", gmv, True),
    ]
    blocks = [
        {
            "period": p,
            "figures": [
                Figure(key, label, kind, periods.change(values, p), good) for key, label, kind, values, good in series
            ],
        }
        for p in periods.periods(today)
    ]
    trend = periods.trend_days(today)
    x = [d.strftime("%m-%d") for d in trend]
    charts = [
        Chart(
            "home_follows",
            _("近 30 天好友增长"),
            "line",
            x,
            [
                {"name": _("新增好友"), "data": [adds.get(d, 0) for d in trend]},
                {"name": _("流失好友"), "data": [losses.get(d, 0) for d in trend]},
                {"name": _("净增长"), "data": [net.get(d, 0) for d in trend]},
            ],
        ),
        Chart(
            "home_gmv",
            _("近 30 天 GMV（扣除退款）"),
            "bar",
            x,
            [{"name": _("GMV"), "data": [float(gmv.get(d, Decimal(0))) for d in trend]}],
            money=True,
        ),
    ]
    return blocks, [c.as_dict() for c in charts]


def _todos(actor: Actor) -> list[Todo]:
    todos: list[Todo] = []
    approvals = campaign_selectors.campaigns_awaiting_approval(actor=actor)
    if approvals:
        todos.append(
            Todo(
                "approvals",
                _("待审批的群发活动"),
                int(getattr(approvals[0], "total", len(approvals))),
                reverse("campaigns:campaign_list") + f"?status={CampaignStatus.PENDING_APPROVAL.value}",
                [
                    {
                        "label": c.name,
                        "hint": c.created_by.name if c.created_by else "",
                        "url": reverse("campaigns:campaign_detail", args=[c.pk]),
                    }
                    for c in approvals
                ],
            )
        )
    stuck, stuck_batches = campaign_selectors.campaigns_needing_operator(actor=actor)
    if stuck:
        todos.append(
            Todo(
                "needs_operator",
                _("需人工确认的发送批次"),
                stuck_batches,
                reverse("campaigns:campaign_detail", args=[stuck[0]["campaign_id"]]),
                [
                    {
                        "label": r["campaign__name"],
                        "hint": _("%(n)s 个批次") % {"n": r["batches"]},
                        "url": reverse("campaigns:campaign_detail", args=[r["campaign_id"]]),
                    }
                    for r in stuck
                ],
            )
        )
    counts = channel_selectors.operator_todo_counts(actor=actor)
    if counts.get("failed_inbox"):
        todos.append(
            Todo("failed_inbox", _("处理失败的入站事件"), counts["failed_inbox"],
                 reverse("channels:inbox_list") + "?status=failed", [])
        )  # fmt: skip
    if counts.get("unassigned_leads"):
        todos.append(
            Todo("unassigned_leads", _("未分配门店的线索"), counts["unassigned_leads"],
                 reverse("channels:lead_list") + "?assigned=no", [])
        )  # fmt: skip
    pending = campaign_selectors.pending_confirmations(actor=actor).count()
    if pending:
        todos.append(
            Todo("confirmations", _("待我在企业微信确认发送的群发"), pending, reverse("campaigns:my_pending"), [])
        )
    return todos


SHORTCUTS: dict[Role, list[tuple[Promise, str]]] = {
    Role.OPERATOR: [
        (gettext_lazy("新建群发"), "campaigns:campaign_new"),
        (gettext_lazy("客户"), "contacts:customer_list"),
        (gettext_lazy("导入客户"), "contacts:customer_import"),
        (gettext_lazy("渠道活码"), "channels:contactway_list"),
        (gettext_lazy("线索"), "channels:lead_list"),
        (gettext_lazy("数据概览"), "analytics:overview"),
        (gettext_lazy("设置"), "contacts:settings"),
    ],
    Role.MANAGER: [
        (gettext_lazy("新建群发"), "campaigns:campaign_new"),
        (gettext_lazy("客户"), "contacts:customer_list"),
        (gettext_lazy("线索"), "channels:lead_list"),
        (gettext_lazy("渠道活码"), "channels:contactway_list"),
        (gettext_lazy("数据概览"), "analytics:overview"),
        (gettext_lazy("导购工作台"), "contacts:sidebar"),
    ],
    Role.STORE_STAFF: [
        (gettext_lazy("我的客户"), "contacts:customer_list"),
        (gettext_lazy("导购工作台"), "contacts:sidebar"),
        (gettext_lazy("美团核销"), "channels:meituan_redeem"),
        (gettext_lazy("我的数据"), "analytics:overview"),
        (gettext_lazy("待确认的群发"), "campaigns:my_pending"),
    ],
}


def _shortcuts(actor: Actor) -> list[dict[str, str]]:
    return [{"label": str(label), "url": reverse(name)} for label, name in SHORTCUTS[actor.role]]


def _scope_label(actor: Actor) -> str:
    if actor.is_operator:
        return _("全品牌")
    if actor.is_store_staff:
        store = actor.staff.store.name if actor.staff.store else _("未分配门店")
        return _("我跟进的客户与我的业绩 · %(store)s") % {"store": store}
    names = list(actor.scope(Store.objects.all()).order_by("code").values_list("name", flat=True))
    return "、".join(names) if names else _("尚未分配门店")


@console_view()
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    today = timezone.localdate(timezone=periods.BEIJING)
    blocks, charts = _figures(actor, today)
    context: dict[str, Any] = {
        "today": today,
        "scope_label": _scope_label(actor),
        "totals": contact_selectors.home_totals(actor=actor),
        "blocks": blocks,
        "charts": charts,
        "todos": _todos(actor),
        "shortcuts": _shortcuts(actor),
    }
    return render(request, "home.html", context)
