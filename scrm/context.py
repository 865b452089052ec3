"""Template context for the console shell: navigation filtered by role and by what exists."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from contacts.access import get_actor
from contacts.models import Role

# (label, url name, roles that see it). Sections whose URL does not exist yet are left out.
NAV = [
    (_("概览"), "home", {Role.OPERATOR, Role.MANAGER, Role.STORE_STAFF}),
    (_("客户"), "contacts:customer_list", {Role.OPERATOR, Role.MANAGER, Role.STORE_STAFF}),
    (_("标签"), "contacts:tag_list", {Role.OPERATOR, Role.MANAGER}),
    (_("客户分群"), "contacts:segment_list", {Role.OPERATOR, Role.MANAGER}),
    (_("客户字段"), "contacts:custom_field_list", {Role.OPERATOR}),
    (_("客户群"), "contacts:group_list", {Role.OPERATOR, Role.MANAGER, Role.STORE_STAFF}),
    (_("渠道活码"), "channels:contactway_list", {Role.OPERATOR, Role.MANAGER}),
    (_("线索"), "channels:lead_list", {Role.OPERATOR, Role.MANAGER}),
    (_("线索公海"), "channels:lead_pool", {Role.OPERATOR, Role.MANAGER, Role.STORE_STAFF}),
    (_("群发"), "campaigns:campaign_list", {Role.OPERATOR, Role.MANAGER}),
    (_("朋友圈"), "campaigns:moment_list", {Role.OPERATOR, Role.MANAGER}),
    (_("客户旅程"), "journeys:journey_list", {Role.OPERATOR, Role.MANAGER}),
    (_("群SOP"), "journeys:group_sop_list", {Role.OPERATOR, Role.MANAGER}),
    (_("待办"), "journeys:todo_list", {Role.OPERATOR, Role.MANAGER, Role.STORE_STAFF}),
    (_("素材库"), "channels:material_list", {Role.OPERATOR, Role.MANAGER}),
    (_("入群欢迎语"), "channels:group_welcome_list", {Role.OPERATOR, Role.MANAGER}),
    (_("配额策略"), "campaigns:quota_policy_list", {Role.OPERATOR}),
    (_("优惠券"), "offers:template_list", {Role.OPERATOR, Role.MANAGER}),
    (_("任务宝"), "referrals:campaign_list", {Role.OPERATOR, Role.MANAGER}),
    (_("券核销"), "offers:redeem", {Role.OPERATOR, Role.MANAGER, Role.STORE_STAFF}),
    (_("数据"), "analytics:overview", {Role.OPERATOR, Role.MANAGER, Role.STORE_STAFF}),
    (_("导购工作台"), "contacts:sidebar", {Role.STORE_STAFF, Role.MANAGER}),
    (_("美团核销"), "channels:meituan_redeem", {Role.OPERATOR, Role.MANAGER, Role.STORE_STAFF}),
    (_("渠道账号"), "channels:account_list", {Role.OPERATOR}),
    (_("事件收件箱"), "channels:inbox_list", {Role.OPERATOR}),
    (_("设置"), "contacts:settings", {Role.OPERATOR}),
]


def console(request: HttpRequest) -> dict[str, Any]:
    actor = get_actor(request) if getattr(request, "user", None) is not None else None
    if actor is None:
        return {"nav_items": [], "actor": None}
    current = request.path
    items: list[dict[str, Any]] = []
    for label, name, roles in NAV:
        if actor.role not in roles:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append({"label": label, "url": url, "active": False})
    # One entry is highlighted: the longest URL the page sits under (/campaigns/moments/ is 朋友圈,
    # not also 群发 at /campaigns/).
    under = [i for i in items if (current == i["url"] if i["url"] == "/" else current.startswith(str(i["url"])))]
    if under:
        max(under, key=lambda i: len(str(i["url"])))["active"] = True
    return {"nav_items": items, "actor": actor}
