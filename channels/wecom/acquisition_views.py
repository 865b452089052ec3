"""Console pages of 获客助手 (under 渠道活码): list, create / edit, and actions on a 获客链接."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels import selectors
from channels.errors import PlatformError, TransientError
from channels.models import AcquisitionLink, ContactWay
from channels.views import page_of, query_without_page
from channels.wecom import acquisition
from channels.wecom.forms import AcquisitionChannelFormSet, AcquisitionLinkForm
from channels.wecom.sandbox_seed import SandboxUnavailable, sandbox_open_link
from channels.wecom.views import _is_sandbox
from contacts.access import OPERATOR_AND_MANAGER, OPERATOR_ONLY, AuthenticatedHttpRequest, console_view


@console_view(OPERATOR_AND_MANAGER)
def acquisition_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    links = actor.scope(AcquisitionLink.objects.select_related("store", "account")).prefetch_related(
        "staff", "tags", "channels__store"
    )
    q = request.GET.get("q", "").strip()
    if q:
        links = links.filter(Q(name__icontains=q) | Q(channels__state__icontains=q)).distinct()
    links = links.filter(is_active=request.GET.get("active") != "0")
    page = page_of(request, links.order_by("-created_at", "-id"))
    channels_of = {
        link.pk: sorted((c for c in link.channels.all() if c.is_active), key=lambda c: c.pk) for link in page
    }
    adds = selectors.adds_by_state(actor=actor, states=[c.state for cs in channels_of.values() for c in cs])
    rows = []
    for link in page:
        stats = link.wecom_stats or {}
        channel_rows = [
            {
                "way": c,
                "url": acquisition.channel_url(link, c.state),
                "adds": adds.get(c.state, 0),
                "wecom": stats.get(c.state, {}).get("customers", 0),
                "chatted": stats.get(c.state, {}).get("chatted", 0),
            }
            for c in channels_of[link.pk]
        ]
        rows.append(
            {
                "link": link,
                "channels": channel_rows,
                "adds": sum(r["adds"] for r in channel_rows),
                "wecom": sum(int(v.get("customers", 0)) for v in stats.values()),
            }
        )
    account = selectors.wecom_account_for(organization=actor.organization)
    quota = ((account.settings or {}).get("acquisition_quota") or {}).get("state", "") if account else ""
    context = {
        "page": page,
        "rows": rows,
        "quota_state": quota,
        "query": query_without_page(request),
        "q": q,
        "can_edit": actor.is_operator,
        "sandbox": any(_is_sandbox(link.account) for link in page),
        "has_account": account is not None,
    }
    return render(request, "channels/wecom/acquisition_list.html", context)


def _channel_initial(link: AcquisitionLink) -> list[dict[str, Any]]:
    return [
        {"label": c.name, "customer_channel": c.state, "channel": c.channel, "store": c.store}
        for c in link.channels.filter(is_active=True).select_related("store").order_by("id")
    ]


@console_view(OPERATOR_ONLY)
def acquisition_edit(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    actor = request.actor_obj
    link = get_object_or_404(actor.scope(AcquisitionLink.objects.select_related("account")), pk=pk) if pk else None
    account = link.account if link else selectors.wecom_account_for(organization=actor.organization)
    if account is None:
        messages.error(request, _("还没有连接企业微信：请先在“渠道账号”页连接，再创建获客链接"))
        return redirect("channels:account_list")
    initial: dict[str, Any] = {}
    channel_initial: list[dict[str, Any]] = [{"label": _("抖音主页"), "channel": "douyin"}]
    if link is not None:
        initial = {
            "name": link.name,
            "store": link.store,
            "staff": list(link.staff.all()),
            "tags": list(link.tags.all()),
            "welcome_text": link.welcome_text,
            "skip_verify": link.skip_verify,
        }
        channel_initial = _channel_initial(link)
    data = request.POST or None
    form = AcquisitionLinkForm(data, actor=actor, initial=initial)
    formset = AcquisitionChannelFormSet(data, initial=channel_initial, form_kwargs={"actor": actor}, prefix="ch")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        specs = [
            acquisition.ChannelSpec(
                label=row["label"], customer_channel=row["customer_channel"], channel=row["channel"], store=row["store"]
            )
            for row in formset.cleaned_data
            if row and (row.get("label") or "").strip()
        ]
        values = form.cleaned_data
        try:
            link = acquisition.acquisition_link_save(
                account=account, link=link, name=values["name"], store=values["store"], staff=list(values["staff"]),
                tags=list(values["tags"]), welcome_text=values["welcome_text"], skip_verify=values["skip_verify"],
                channels=specs, by=actor.staff,
            )  # fmt: skip
        except acquisition.AcquisitionLinkError as exc:
            form.add_error(None, str(exc))
        else:
            if link.sync_error:
                messages.warning(request, _("获客链接已保存，但同步到企业微信失败：%(e)s") % {"e": link.sync_error})
            else:
                messages.success(request, _("获客链接已保存并同步到企业微信"))
            return redirect("channels:acquisition_list")
    return render(request, "channels/wecom/acquisition_form.html", {"form": form, "formset": formset, "link": link})


@require_POST
@console_view(OPERATOR_ONLY)
def acquisition_action(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    link = get_object_or_404(request.actor_obj.scope(AcquisitionLink.objects.select_related("account")), pk=pk)
    action = request.POST.get("action")
    try:
        if action == "resync":
            acquisition.acquisition_link_push(link=link)
            link.refresh_from_db()
            if link.sync_error:
                messages.error(request, link.sync_error)
            else:
                messages.success(request, _("已同步到企业微信"))
        elif action == "stats" and link.link_id:
            acquisition.acquisition_stats_refresh(link=link)
            messages.success(request, _("已从企业微信更新添加统计"))
        elif action == "simulate_open" and link.link_id and _is_sandbox(link.account):
            # Demo only: a WeChat user taps this channel's link in the local sandbox (the callback follows).
            way = get_object_or_404(ContactWay.objects.filter(acquisition_link=link), pk=request.POST.get("channel"))
            try:
                sandbox_open_link(link=link, customer_channel=way.state)
                messages.success(request, _("沙箱已模拟一位顾客点开链接并添加，几秒后刷新客户列表即可看到"))
            except SandboxUnavailable as exc:
                messages.error(request, _("沙箱未运行：%(e)s") % {"e": exc})
        elif action == "delete":
            acquisition.acquisition_link_delete(link=link)
            messages.success(request, _("获客链接已删除：链接将无法再添加员工，已有客户的来源记录保留"))
        else:
            messages.error(request, _("未知操作"))
    except (PlatformError, TransientError) as exc:
        messages.error(request, _("企业微信调用失败：%(e)s，请稍后重试") % {"e": exc})
    return redirect("channels:acquisition_list")
