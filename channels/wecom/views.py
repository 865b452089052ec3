"""Console pages of WeCom: the corp account form, 渠道活码 / 群活码, 客户继承."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels import selectors, services
from channels.errors import PlatformError, TransientError
from channels.models import (
    ChannelAccount,
    ChannelPlatform,
    ContactWay,
    ContactWayKind,
    CustomerTransfer,
    GroupTransfer,
    RemarkStatus,
    TransferKind,
    TransferStatus,
)
from channels.views import page_of, query_without_page
from channels.wecom import add_caps, contact_ways, group_transfers, remarks, schedules, transfers
from channels.wecom.forms import (
    ContactWayForm,
    FollowRemarkForm,
    GroupTransferForm,
    TransferForm,
    WeComAccountForm,
    contact_way_initial,
    contact_way_save_from_form,
)
from channels.wecom.sandbox_seed import SandboxUnavailable, sandbox_scan
from contacts.access import ALL_ROLES, OPERATOR_AND_MANAGER, OPERATOR_ONLY, AuthenticatedHttpRequest, console_view
from contacts.models import Follow, Staff, Store


@console_view(OPERATOR_ONLY)
def account_connect(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """Connect a WeCom corp (or edit one): credentials are encrypted; blank secrets keep the stored ones."""
    actor = request.actor_obj
    account = get_object_or_404(actor.scope(ChannelAccount.objects.all()), pk=pk) if pk else None
    if account is not None and account.platform != ChannelPlatform.WECOM:
        raise Http404
    initial: dict[str, Any] = {}
    if account is not None:
        initial = {
            "name": account.name,
            "corp_id": account.external_id,
            "agent_id": account.agent_id,
            "api_base": account.api_base,
            "default_store": account.default_store,
            "default_tags": list(account.default_tags.all()),
            "welcome_text": (account.settings or {}).get("welcome_text", ""),
            "per_minute": (account.rate_limits or {}).get("default", {}).get("per_minute"),
            "concurrency": (account.rate_limits or {}).get("default", {}).get("concurrency"),
        }
    form = WeComAccountForm(
        request.POST or None, organization=actor.organization, editing=account is not None, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        account = services.channel_account_connect(
            organization=actor.organization,
            platform=ChannelPlatform.WECOM,
            name=data["name"],
            external_id=data["corp_id"].strip(),
            credentials={"secret": data["secret"], "token": data["token"], "aes_key": data["aes_key"]},
            agent_id=data["agent_id"],
            api_base=data["api_base"],
            default_store=data["default_store"],
            default_tags=list(data["default_tags"]),
            settings={**((account.settings if account else None) or {}), "welcome_text": data["welcome_text"]},
            rate_limits=_rate_limits(account, data),
            account=account,
            by=actor.staff,
        )
        messages.success(
            request,
            _("已保存。请把回调地址 %(url)s 填入企业微信后台，然后点“测试连接”。")
            % {"url": selectors.callback_url(account)},
        )
        return redirect("channels:account_list")
    return render(request, "channels/wecom/account_form.html", {"form": form, "account": account})


def _rate_limits(account: ChannelAccount | None, data: dict[str, Any]) -> dict[str, Any]:
    """The account's per-API pacing with the form's defaults applied (other per-API overrides kept)."""
    limits = dict((account.rate_limits if account else None) or {})
    default = {k: v for k, v in (limits.get("default") or {}).items() if k not in ("per_minute", "concurrency")}
    if data.get("per_minute"):
        default["per_minute"] = data["per_minute"]
    if data.get("concurrency"):
        default["concurrency"] = data["concurrency"]
    limits["default"] = default
    return limits


@console_view(OPERATOR_AND_MANAGER)
def contactway_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    ways = actor.scope(
        ContactWay.objects.exclude(kind=ContactWayKind.LINK).select_related("store", "account")
    ).prefetch_related("tags", "staff", "backup_staff", "windows__staff")
    kind = request.GET.get("kind", "")
    if kind in ContactWayKind.values:
        ways = ways.filter(kind=kind)
    q = request.GET.get("q", "").strip()
    if q:
        ways = ways.filter(Q(name__icontains=q) | Q(state__icontains=q))
    store = request.GET.get("store", "")
    if store.isdigit():
        ways = ways.filter(store_id=int(store))
    ways = ways.filter(is_active=request.GET.get("active") != "0")
    page = page_of(request, ways.order_by("-created_at", "-id"))
    # Adds per code (every follow that carried its state), one grouped query for the page.
    adds = selectors.adds_by_state(actor=actor, states=[w.state for w in page])
    today = add_caps.beijing_day(timezone.now())
    capped_ways = [w for w in page if add_caps.has_caps(w)]
    today_adds = add_caps.adds_today(capped_ways, today)
    context = {
        "page": page,
        "rows": [
            {
                "way": w,
                "adds": adds.get(w.state, 0),
                "caps": _caps_row(w, today, today_adds) if w in capped_ways else None,
                "windows": [
                    {"label": schedules.window_label(x), "staff": [s.name for s in x.staff.all()]}
                    for x in w.windows.all()
                ],
            }
            for w in page
        ],
        "query": query_without_page(request),
        "q": q,
        "kind": kind,
        "store": store,
        "stores": actor.scope(Store.objects.all()),
        "kinds": [(v, label) for v, label in ContactWayKind.choices if v != ContactWayKind.LINK],
        "can_edit": actor.is_operator,
        "sandbox": any(_is_sandbox(w.account) for w in page),
        "has_account": selectors.wecom_account_for(organization=actor.organization) is not None,
    }
    return render(request, "channels/wecom/contactway_list.html", context)


def _caps_row(way: ContactWay, today: date, counts: dict[tuple[int, str], int]) -> dict[str, Any]:
    """Today's adds per member against the cap, and who WeCom holds now (names, not userids)."""
    serving = add_caps.current_serving(way, today)
    names = {s.wecom_userid: s.name for s in [*way.staff.all(), *way.backup_staff.all()]}
    members = [
        {
            "name": names.get(s.wecom_userid, s.wecom_userid),
            "adds": counts.get((way.pk, s.wecom_userid), 0),
            "cap": add_caps.cap_for(way, s.wecom_userid),
        }
        for s in way.staff.all()
    ]
    return {"members": members, "serving": [names.get(u, u) for u in serving], "fallback": bool(way.serving_userids)}


@console_view(OPERATOR_ONLY)
def contactway_edit(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    actor = request.actor_obj
    codes = ContactWay.objects.exclude(kind=ContactWayKind.LINK)  # a 获客链接 channel is edited with its link
    way = get_object_or_404(actor.scope(codes), pk=pk) if pk else None
    account = way.account if way else selectors.wecom_account_for(organization=actor.organization)
    if account is None:
        messages.error(request, _("还没有连接企业微信：请先在“渠道账号”页连接，再创建活码"))
        return redirect("channels:account_list")
    initial = contact_way_initial(way) if way is not None else {"kind": request.GET.get("kind", ContactWayKind.CONTACT)}
    form = ContactWayForm(request.POST or None, actor=actor, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            way = contact_way_save_from_form(account=account, way=way, data=data, by=actor.staff)
        except contact_ways.ContactWayError as exc:
            form.add_error(None, str(exc))
        else:
            if way.sync_error:
                messages.warning(request, _("活码已保存，但同步到企业微信失败：%(e)s") % {"e": way.sync_error})
            else:
                messages.success(request, _("活码已保存并同步到企业微信"))
            return redirect("channels:contactway_list")
    return render(request, "channels/wecom/contactway_form.html", {"form": form, "way": way})


@require_POST
@console_view(OPERATOR_ONLY)
def contactway_action(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    codes = ContactWay.objects.exclude(kind=ContactWayKind.LINK).select_related("account")
    way = get_object_or_404(request.actor_obj.scope(codes), pk=pk)
    action = request.POST.get("action")
    try:
        if action == "resync":
            contact_ways.contact_way_push(way=way)
            way.refresh_from_db()
            if way.sync_error:
                messages.error(request, way.sync_error)
            else:
                messages.success(request, _("已同步到企业微信"))
        elif action == "simulate_scan" and _is_sandbox(way.account):
            # Demo only: a WeChat user scans this code in the local sandbox (the full callback path follows).
            try:
                sandbox_scan(way=way)
                messages.success(request, _("沙箱已模拟一位顾客扫码添加，几秒后刷新客户列表即可看到"))
            except SandboxUnavailable as exc:
                messages.error(request, _("沙箱未运行：%(e)s") % {"e": exc})
        elif action == "disable":
            contact_ways.contact_way_disable(way=way)
            messages.success(request, _("活码已停用：扫码将不再添加员工，已有客户的来源记录保留"))
        else:
            messages.error(request, _("未知操作"))
    except (PlatformError, TransientError) as exc:
        messages.error(request, _("企业微信调用失败：%(e)s，请稍后重试") % {"e": exc})
    return redirect("channels:contactway_list")


def _is_sandbox(account: ChannelAccount) -> bool:
    return bool(settings.SANDBOX_ENABLED) and account.api_base.startswith(("http://127.0.0.1", "http://localhost"))


@console_view(OPERATOR_AND_MANAGER)
def contactway_qr(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    way = get_object_or_404(request.actor_obj.scope(ContactWay.objects.all()), pk=pk)
    try:
        image = contact_ways.contact_way_qr_image(way=way)
    except contact_ways.ContactWayError as exc:
        messages.error(request, str(exc))
        return redirect("channels:contactway_list")
    response = HttpResponse(image, content_type="image/png")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="qrcode-{way.state}.png"'
    return response


@console_view(OPERATOR_AND_MANAGER)
def contactway_print(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    way = get_object_or_404(request.actor_obj.scope(ContactWay.objects.select_related("store")), pk=pk)
    return render(request, "channels/wecom/contactway_print.html", {"way": way})


@console_view(OPERATOR_ONLY)
def transfer_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    account = selectors.wecom_account_for(organization=actor.organization)
    # "Transfer the customers (groups) of X" links from the waiting list below pre-fill the forms.
    initial = {key: request.GET[key] for key in ("kind", "handover") if request.GET.get(key)}
    posted_groups = request.method == "POST" and request.POST.get("target") == "groups"
    posted_customers = request.method == "POST" and not posted_groups
    form = TransferForm(request.POST if posted_customers else None, actor=actor, initial=initial)
    group_form = GroupTransferForm(request.POST if posted_groups else None, actor=actor, initial=initial)
    if request.method == "POST" and account is None:
        messages.error(request, _("还没有连接企业微信：请先在“渠道账号”页连接"))
    elif account is not None and posted_customers and form.is_valid():
        data = form.cleaned_data
        try:
            transfer = transfers.transfer_start(
                account=account,
                kind=data["kind"],
                handover=data["handover"],
                takeover=data["takeover"],
                message=data["message"],
                by=actor.staff,
            )
        except transfers.TransferError as exc:
            form.add_error(None, str(exc))
        except (PlatformError, TransientError) as exc:
            form.add_error(None, _("企业微信调用失败：%(e)s，请稍后重试") % {"e": exc})
        else:
            if transfer.error:
                messages.error(request, transfer.error)
            else:
                messages.success(
                    request,
                    _("已提交 %(n)s 位客户的转接，客户 24 小时内未拒绝即自动完成") % {"n": len(transfer.results)},
                )
            return redirect("channels:transfer_list")
    elif (
        account is not None
        and posted_groups
        and group_form.is_valid()
        and _group_transfer(request, account, group_form)
    ):
        return redirect("channels:transfer_list")
    rows = actor.scope(CustomerTransfer.objects.select_related("handover", "takeover")).order_by("-created_at")
    page = page_of(request, rows)
    group_rows = actor.scope(GroupTransfer.objects.select_related("handover", "takeover")).order_by("-created_at")[:20]
    # Departed members whose customers or groups still await handover (离职待继承), most recent first.
    waiting = (
        actor.scope(Staff.objects.filter(is_active=False).exclude(wecom_userid=""))
        .select_related("store")
        .annotate(
            customers=Count("follows", filter=Q(follows__deleted_at__isnull=True), distinct=True),
            groups=Count("owned_groups", filter=Q(owned_groups__dismissed_at__isnull=True), distinct=True),
        )
        .filter(Q(customers__gt=0) | Q(groups__gt=0))
        .order_by("-departed_at", "-id")[:50]
    )
    context = {
        "form": form,
        "group_form": group_form,
        "page": page,
        "waiting": waiting,
        "resigned_kind": TransferKind.RESIGNED.value,
        "rows": [{"transfer": t, "summary": transfers.summary(t)} for t in page],
        "group_rows": [{"transfer": t, "summary": group_transfers.summary(t)} for t in group_rows],
        "query": query_without_page(request),
    }
    return render(request, "channels/wecom/transfer_list.html", context)


def _group_transfer(request: AuthenticatedHttpRequest, account: Any, form: GroupTransferForm) -> bool:
    """Submit a 客户群继承 from the console; True when done (messages say how it went)."""
    data = form.cleaned_data
    try:
        transfer = group_transfers.group_transfer_start(
            account=account,
            kind=data["kind"],
            handover=data["handover"],
            takeover=data["takeover"],
            by=request.actor_obj.staff,
        )
    except group_transfers.GroupTransferError as exc:
        form.add_error(None, str(exc))
        return False
    except PlatformError as exc:
        form.add_error(None, _("企业微信调用失败：%(e)s，请稍后重试") % {"e": exc})
        return False
    labels = "；".join(f"{label} {n}" for label, n in group_transfers.summary(transfer).items())
    if transfer.error:
        messages.error(request, transfer.error)
    elif transfer.status == TransferStatus.DONE:
        messages.success(request, _("客户群已转接：%(r)s") % {"r": labels})
    else:
        messages.error(request, _("客户群没有转接成功：%(r)s") % {"r": labels})
    return True


@require_POST
@console_view(OPERATOR_ONLY)
def transfer_refresh(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    transfer = get_object_or_404(request.actor_obj.scope(CustomerTransfer.objects.all()), pk=pk)
    try:
        transfers.transfer_refresh(transfer=transfer)
        messages.success(request, _("已刷新转接结果"))
    except (PlatformError, TransientError) as exc:
        messages.error(request, _("企业微信调用失败：%(e)s，请稍后重试") % {"e": exc})
    return redirect("channels:transfer_list")


@require_POST
@console_view(ALL_ROLES)
def follow_remark(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Set a follow's remark, description and remark phones on WeCom (then here), from the profile or
    the sidebar. Store staff edit only their own friendships; a WeCom refusal is shown as WeCom said it."""
    actor = request.actor_obj
    follow = get_object_or_404(
        actor.scope(Follow.objects.select_related("staff", "customer")), pk=pk, deleted_at__isnull=True
    )
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("contacts:customer_detail", args=[follow.customer_id])
    if actor.is_store_staff and follow.staff_id != actor.staff.pk:
        messages.error(request, _("只能修改你自己添加的客户的备注"))
        return redirect(back)
    form = FollowRemarkForm(request.POST)
    if not form.is_valid():
        errors = "；".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, _("备注没有保存：%(e)s") % {"e": errors})
        return redirect(back)
    data = form.cleaned_data
    mobiles = data["mobiles"]
    if not mobiles and not actor.sees_full_phone:
        mobiles = follow.remark_phones  # store staff see masked numbers: a blank box keeps them
    try:
        push = remarks.follow_remark_set(
            follow=follow, remark=data["remark"], description=data["description"], mobiles=mobiles, by=actor.staff
        )
    except remarks.RemarkError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    if push.status == RemarkStatus.DONE:
        messages.success(request, _("备注已保存并同步到企业微信"))
    elif push.status == RemarkStatus.REFUSED:
        messages.error(request, _("企业微信没有接受这次修改，备注保持原样。%(e)s") % {"e": push.error})
    else:
        messages.warning(request, _("企业微信暂时无法连接：已记录，稍后自动重试"))
    return redirect(back)
