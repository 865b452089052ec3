"""Shared console pages of channels: connected accounts (list, actions, the plugin-driven account form)
and the inbox. WeCom's pages (its account form, 渠道活码/群活码, 客户继承) are in ``channels/wecom/views.py``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels import inbox, registry, selectors, services
from channels.console_forms import AccountForm, InboxFilterForm
from channels.models import (
    ChannelAccount,
    ChannelPlatform,
    InboxEvent,
    InboxStatus,
)
from contacts.access import OPERATOR_ONLY, AuthenticatedHttpRequest, console_view
from scrm.celery import enqueue
from scrm.redirects import safe_next

PAGE_SIZE = 30


def page_of(request: HttpRequest, queryset: Any) -> Any:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k != "page" and v])


# -- accounts ---------------------------------------------------------------------------------------
@console_view(OPERATOR_ONLY)
def account_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    accounts = actor.scope(ChannelAccount.objects.select_related("default_store")).order_by("platform", "id")
    # An organization has a handful of accounts: one small query each for the latest sync is fine.
    rows = [
        {
            "account": a,
            "callback_url": selectors.callback_url(a),
            "sidebar_url": selectors.sidebar_login_url(a) if a.platform == ChannelPlatform.WECOM else "",
            "last_run": a.sync_runs.order_by("-started_at").first(),
        }
        for a in accounts
    ]
    return render(request, "channels/wecom/account_list.html", {"rows": rows})


@require_POST
@console_view(OPERATOR_ONLY)
def account_action(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    account = get_object_or_404(actor.scope(ChannelAccount.objects.all()), pk=pk)
    action = request.POST.get("action")
    if action == "test":
        ok, message = services.channel_account_test(account=account)
        (messages.success if ok else messages.error)(request, message)
    elif action == "disable":
        services.channel_account_disable(account=account)
        messages.success(request, _("账号已停用：不再接收回调，也不会再调用该平台"))
    elif action == "enable":
        services.channel_account_enable(account=account)
        messages.success(request, _("账号已启用"))
    elif action == "sync" and account.platform == ChannelPlatform.WECOM:
        enqueue("channels.sync.wecom_full", account.pk)
        messages.success(request, _("已开始全量同步（员工、客户、标签、客户群），稍后刷新查看结果"))
    else:
        messages.error(request, _("未知操作"))
    return redirect("channels:account_list")


def _account_platforms() -> list[ChannelPlatform]:
    """The platforms whose plugin declares an account form, in the platforms' order."""
    plugins = registry.registered()
    return [p for p in ChannelPlatform if p in plugins and plugins[p].account is not None]


@console_view(OPERATOR_ONLY)
def lead_account_connect(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """Connect (or edit) an account of a platform whose plugin declares an :class:`AccountSpec`
    (Ocean Engine, Douyin, 视频号, 微信小店, Meituan). Credentials are encrypted by
    ``channel_account_connect``; blank secrets keep the stored ones."""
    actor = request.actor_obj
    platforms = _account_platforms()
    account = actor.scope(ChannelAccount.objects.all()).filter(pk=pk).first() if pk else None
    if pk and (account is None or account.platform not in platforms):
        raise Http404(_("账号不存在，或不是线索渠道账号"))
    platform = account.platform if account else request.GET.get("platform") or request.POST.get("platform") or ""
    if platform not in platforms:
        return render(request, "channels/leads/account_pick.html", {"platforms": [(p, p.label) for p in platforms]})
    plugin = registry.registered()[platform]
    spec = plugin.account
    assert spec is not None  # noqa: S101 - _account_platforms() keeps only plugins with a spec
    initial: dict[str, Any] = {}
    if account is not None:
        initial = {
            "name": account.name,
            "external_id": account.external_id,
            "api_base": account.api_base,
            "default_store": account.default_store,
            "default_tags": list(account.default_tags.all()),
            **(spec.initial(account) if spec.initial else {}),
        }
    form = AccountForm(request.POST or None, initial=initial, actor=actor, spec=spec, editing=account is not None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        external_id, settings = spec.to_account(data, account) if spec.to_account else (data["external_id"], None)
        saved = services.channel_account_connect(
            organization=actor.organization,
            platform=platform,
            name=data["name"],
            external_id=external_id,
            credentials={key: data.get(key, "") for key, _label in spec.secrets},
            api_base=data.get("api_base") or "",
            default_store=data.get("default_store"),
            default_tags=list(data.get("default_tags") or []),
            settings=settings,
            account=account,
            by=actor.staff,
        )
        if plugin.connection_test is not None:
            ok, message = services.channel_account_test(account=saved)
            (messages.success if ok else messages.warning)(request, message)
        if spec.has_webhook:
            messages.info(request, _("请把回调地址 %(url)s 填入平台后台") % {"url": selectors.callback_url(saved)})
        messages.success(request, _("已保存渠道账号：%(name)s") % {"name": saved.name})
        return redirect("channels:lead_list")
    return render(
        request,
        "channels/leads/account_form.html",
        {"form": form, "platform": platform, "platform_label": ChannelPlatform(platform).label, "account": account},
    )


# -- inbox ------------------------------------------------------------------------------------------
@console_view(OPERATOR_ONLY)
def inbox_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    form = InboxFilterForm(request.GET or None)
    events = actor.scope(InboxEvent.objects.select_related("account")).defer("body")
    if form.is_valid():
        if form.cleaned_data["status"]:
            events = events.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["platform"]:
            events = events.filter(platform=form.cleaned_data["platform"])
        if form.cleaned_data["event_type"]:
            events = events.filter(event_type__icontains=form.cleaned_data["event_type"])
    counts = dict(
        actor.scope(InboxEvent.objects.all()).values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    page = page_of(request, events.order_by("-received_at", "-id"))
    context = {
        "form": form,
        "page": page,
        "query": query_without_page(request),
        "counts": [(value, label, counts.get(value, 0)) for value, label in InboxStatus.choices],
    }
    return render(request, "channels/wecom/inbox_list.html", context)


@console_view(OPERATOR_ONLY)
def inbox_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(request.actor_obj.scope(InboxEvent.objects.select_related("account")), pk=pk)
    return render(request, "channels/wecom/inbox_detail.html", {"event": event})


@require_POST
@console_view(OPERATOR_ONLY)
def inbox_replay(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    events = actor.scope(InboxEvent.objects.all())
    if request.POST.get("all_failed"):
        targets = list(events.filter(status=InboxStatus.FAILED).order_by("received_at")[:1000])
    else:
        targets = list(events.filter(pk__in=request.POST.getlist("event")))
    replayed = sum(1 for event in targets if inbox.inbox_replay(event=event))
    if replayed:
        messages.success(request, _("已重新排队 %(n)s 个事件") % {"n": replayed})
    else:
        messages.error(request, _("没有可重放的事件：只有失败的、或处理中已停止心跳（45 秒以上）的事件可以重放"))
    return redirect(safe_next(request, reverse("channels:inbox_list")))
