"""Console pages: campaign and Moments lists, the creation wizard, the live progress page,
the staff member's pending confirmations and the campaigns report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns import allocation, selectors, services
from campaigns.forms import POLICY_FIELDS, QuotaPolicyForm
from campaigns.models import (
    AllocationMode,
    AllocationRun,
    Batch,
    BatchStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    QuotaPolicy,
    Recurrence,
)
from campaigns.quota import default_policy
from channels.models import ChannelAccount, ChannelPlatform, ContactWay, ContactWayKind
from channels.selectors import picker_options
from contacts.access import (
    ALL_ROLES,
    OPERATOR_AND_MANAGER,
    OPERATOR_ONLY,
    Actor,
    AuthenticatedHttpRequest,
    console_view,
)
from contacts.models import CustomerGroup, Role, Segment, Tag
from offers import selectors as offer_selectors

PAGE_SIZE = 20


def _list(request: AuthenticatedHttpRequest, *, moments: bool) -> HttpResponse:
    actor = request.actor_obj
    qs = actor.scope(Campaign.objects.select_related("created_by", "contact_way"))
    qs = qs.filter(kind=CampaignKind.MOMENT) if moments else qs.exclude(kind=CampaignKind.MOMENT)
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    q = request.GET.get("q", "").strip()
    qs = selectors.campaign_filter(qs, status=status, kind="" if moments else kind, q=q)
    page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    kinds = [(v, label) for v, label in CampaignKind.choices if v != CampaignKind.MOMENT]
    return render(
        request,
        "campaigns/campaign_list.html",
        {
            "page": page,
            "moments": moments,
            "statuses": CampaignStatus.choices,
            "kinds": kinds,
            "f": {"status": status, "kind": kind, "q": q},
            "can_plan": actor.role == Role.OPERATOR,
        },
    )


@console_view(OPERATOR_AND_MANAGER)
def campaign_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _list(request, moments=False)


@console_view(OPERATOR_AND_MANAGER)
def moment_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _list(request, moments=True)


def wizard_strings() -> dict[str, str]:
    """Every string the wizard's JavaScript shows, translated for the request's language.

    Rendered into the page as JSON (``json_script``); ``%(name)s`` placeholders are filled in by the script.
    """
    return {
        "untitled": _("未命名活动"),
        "max_attachments": _("最多 9 个附件"),
        "link_title": _("链接标题"),
        "miniprogram_title": _("小程序标题"),
        "page_path": _("页面路径"),
        "choose_material": _("从素材库选择%(kind)s"),
        "choose_cover": _("从素材库选择封面图片"),
        "no_materials": _("素材库还没有%(kind)s，请先到「素材库」上传"),
        "video": _("视频"),
        "file": _("文件"),
        "remove_attachment": _("移除附件"),
        "phone_placeholder": _("在此预览群发内容"),
        "welcome_phone_placeholder": _("在此预览欢迎语"),
        "link": _("链接"),
        "image": _("图片"),
        "miniprogram": _("小程序"),
        "no_exclusions": _("无排除"),
        "counting": _("计算中…"),
        "audience_note": _("受众 %(audience)s 人，排除 %(excluded)s 人"),
        "review_customers": _("将发送给 %(count)s 位客户，分 %(batches)s 个批次，由 %(senders)s 位员工确认发送。"),
        "review_groups": _("将发送给 %(count)s 个客户群，分 %(batches)s 个批次，由 %(senders)s 位员工确认发送。"),
        "exclusion_reasons": _("排除原因"),
        "quota": _("配额"),
        "customer_cap": _("客户接收上限：%(value)s"),
        "group_cap": _("客户群接收上限：%(value)s"),
        "moments_cap": _("朋友圈每人每天：%(value)s"),
        "brand_cap": _("品牌营销上限：%(value)s"),
        "brand_cap_value": _("%(period)s %(n)s 条"),
        "not_set": _("未设置"),
        "quiet_hours": _("免打扰：%(value)s"),
        "approval": _("超过 %(n)s 人需店长审批"),
        "earliest": _("最早发送时间：%(at)s（北京时间）"),
        "welcome_count": _("无需受众"),
        "welcome_note": _("客户扫码添加员工时自动发送"),
        "welcome_default": _("默认（所有活码）"),
        "welcome_review": _("欢迎语模板，适用于：%(way)s"),
        "welcome_review_note": _(
            "提交后立即生效：客户通过该活码添加员工时，自动发送以上文字和附件。"
            "欢迎语是服务消息，不受营销退订限制。同一活码有多个生效模板时，使用最新创建的一个；"
            "暂停或取消后不再使用。"
        ),
    }


@console_view(OPERATOR_AND_MANAGER)
def campaign_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    kind = request.GET.get("kind", CampaignKind.BROADCAST_SINGLE)
    if kind not in CampaignKind.values:
        kind = CampaignKind.BROADCAST_SINGLE
    segments = actor.scope(Segment.objects.order_by("name"))[:300]
    groups = actor.scope(CustomerGroup.objects.filter(dismissed_at__isnull=True).order_by("name"))[:500]
    contact_ways = actor.scope(
        ContactWay.objects.filter(kind=ContactWayKind.CONTACT, is_active=True).order_by("name", "id")
    )[:500]
    # Moments visibility: only tags that exist in WeCom can narrow who sees a post.
    moment_tags = actor.scope(Tag.objects.exclude(wecom_tag_id="").select_related("group").order_by("name"))[:500]
    return render(
        request,
        "campaigns/campaign_wizard.html",
        {
            "kind": kind,
            "kinds": CampaignKind.choices,
            "segments": segments,
            "groups": groups,
            "contact_ways": contact_ways,
            "coupon_templates": offer_selectors.templates_for(actor).filter(is_active=True)[:200],
            "moment_tags": moment_tags,
            # Only operators may set the default welcome (it answers every 活码 of the brand).
            "can_default_welcome": actor.is_operator,
            "recurrences": Recurrence.choices,
            "strings": wizard_strings(),
            # The material picker: images, videos and files come from the library, never URLs.
            "materials": picker_options(actor),
            "material_library": reverse("channels:material_list"),
        },
    )


def _campaign_for(actor: Actor, pk: int) -> Campaign:
    return get_object_or_404(
        actor.scope(Campaign.objects.select_related("created_by", "approved_by", "contact_way")), pk=pk
    )


@console_view(OPERATOR_AND_MANAGER)
def campaign_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    campaign = _campaign_for(actor, pk)
    if campaign.kind == CampaignKind.WELCOME_TEMPLATE:
        return _welcome_detail(request, actor, campaign)
    progress = selectors.campaign_progress(campaign=campaign)
    return render(
        request,
        "campaigns/campaign_detail.html",
        {
            "campaign": campaign,
            "progress": progress,
            "interactions": selectors.moment_interactions(campaign=campaign, actor=actor),
            "results": campaign.results or {},
            "can_approve": actor.role in (Role.MANAGER, Role.OPERATOR),
            "can_plan": actor.role == Role.OPERATOR,
            "active": campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING),
            "stuck": list(campaign.batches.filter(status=BatchStatus.NEEDS_OPERATOR).select_related("sender")[:50])
            if actor.role == Role.OPERATOR
            else [],
        },
    )


def _welcome_detail(request: HttpRequest, actor: Actor, campaign: Campaign) -> HttpResponse:
    """A welcome template has no audience or progress: show what it answers and whether it is the one in use."""
    live = campaign.status in selectors.WELCOME_LIVE_STATUSES
    # The template the WeCom handler would pick right now for the same 活码 (or the default).
    in_use = selectors.welcome_template_for(
        organization_id=campaign.organization_id,
        account_id=campaign.channel_account_id or 0,
        contact_way_id=campaign.contact_way_id,
    )
    return render(
        request,
        "campaigns/welcome_detail.html",
        {
            "campaign": campaign,
            "live": live,
            "in_use": in_use,
            "active": campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING),
        },
    )


@console_view(OPERATOR_AND_MANAGER)
def campaign_progress(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    actor = request.actor_obj
    return JsonResponse(selectors.campaign_progress(campaign=_campaign_for(actor, pk)))


ACTIONS: dict[str, Callable[..., Campaign]] = {
    "submit": services.campaign_submit,
    "approve": services.campaign_approve,
    "reject": services.campaign_reject,
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
    "cancel": services.campaign_cancel,
}


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def campaign_action(request: AuthenticatedHttpRequest, pk: int, action: str) -> HttpResponse:
    actor = request.actor_obj
    campaign = _campaign_for(actor, pk)
    fn = ACTIONS.get(action)
    if fn is None:
        raise PermissionDenied(_("未知操作"))
    refusal = (
        services.campaign_review_refusal(campaign=campaign, staff=actor.staff, role=actor.role)
        if action in ("approve", "reject")
        else None
    )
    if refusal:
        messages.error(request, refusal)
        return redirect("campaigns:campaign_detail", pk=pk)
    try:
        fn(campaign=campaign, by=actor.staff)
    except (services.CampaignError, ValidationError) as exc:
        messages.error(request, str(exc.messages[0] if isinstance(exc, ValidationError) else exc))
    else:
        messages.success(request, _("操作成功"))
    return redirect("campaigns:campaign_detail", pk=pk)


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def batch_resolve(request: AuthenticatedHttpRequest, pk: int, batch_id: int) -> HttpResponse:
    """Operator settles a batch marked ``needs_operator`` (adopt a msgid found in WeCom, resend, drop)."""
    actor = request.actor_obj
    campaign = _campaign_for(actor, pk)
    if actor.role != Role.OPERATOR:
        raise PermissionDenied(_("只有运营可以处理异常批次"))
    batch = get_object_or_404(Batch.objects.filter(campaign=campaign), pk=batch_id)
    try:
        services.batch_resolve(
            batch=batch,
            action=request.POST.get("action", ""),
            msgid=request.POST.get("msgid", "").strip(),
            by=actor.staff,
        )
    except services.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已处理"))
    return redirect("campaigns:campaign_detail", pk=pk)


@console_view(ALL_ROLES)
def my_pending(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Pending WeCom confirmations of the signed-in staff member (the sidebar includes ``?partial=1``)."""
    actor = request.actor_obj
    page = Paginator(selectors.pending_confirmations(actor=actor), PAGE_SIZE).get_page(request.GET.get("page"))
    template = "campaigns/_my_pending.html" if request.GET.get("partial") else "campaigns/my_pending.html"
    return render(request, template, {"page": page})


@console_view(OPERATOR_AND_MANAGER)
def campaigns_report(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    rows: list[dict[str, Any]] = []
    for c in selectors.campaigns_report(actor=actor):
        r = c.results or {}
        rows.append({"campaign": c, "r": r, "ci": r.get("ci")})
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "campaigns/report.html", {"page": page})


# -- 配额策略 (operators only) ----------------------------------------------------------------------
def _wecom_accounts(actor: Actor) -> QuerySet[ChannelAccount]:
    return actor.scope(ChannelAccount.objects.filter(platform=ChannelPlatform.WECOM)).order_by("name", "id")


@console_view(OPERATOR_ONLY)
def quota_policy_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The brand default and every account's override; accounts without one follow the default."""
    actor = request.actor_obj
    policies = actor.scope(QuotaPolicy.objects.select_related("channel_account"))
    default = policies.filter(channel_account__isnull=True).first()
    overrides = list(policies.filter(channel_account__isnull=False).order_by("channel_account__name", "id"))
    overridden = {p.channel_account_id for p in overrides}
    return render(
        request,
        "campaigns/quota_policy_list.html",
        {
            "default": default or default_policy(actor.organization_id),
            "default_saved": default is not None,
            "overrides": overrides,
            "free_accounts": [a for a in _wecom_accounts(actor) if a.pk not in overridden],
        },
    )


def _policy_form_page(
    request: HttpRequest, actor: Actor, *, policy: QuotaPolicy, creating: bool = False
) -> HttpResponse:
    accounts = None
    if creating:
        taken = actor.scope(QuotaPolicy.objects.filter(channel_account__isnull=False)).values("channel_account_id")
        accounts = _wecom_accounts(actor).exclude(pk__in=taken)
    form = QuotaPolicyForm(request.POST or None, instance=policy, accounts=accounts)
    if request.method == "POST" and form.is_valid():
        account_id = form.cleaned_data["channel_account"].pk if creating else policy.channel_account_id
        try:
            services.quota_policy_save(
                organization=actor.organization, channel_account_id=account_id, **form.policy_values()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("配额策略已保存，之后规划的活动按新策略执行"))
            return redirect("campaigns:quota_policy_list")
    return render(
        request,
        "campaigns/quota_policy_form.html",
        {"form": form, "policy": policy, "creating": creating, "is_default": policy.channel_account_id is None},
    )


@console_view(OPERATOR_ONLY)
def quota_policy_default(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    policy = actor.scope(QuotaPolicy.objects.filter(channel_account__isnull=True)).first()
    return _policy_form_page(request, actor, policy=policy or default_policy(actor.organization_id))


@console_view(OPERATOR_ONLY)
def quota_policy_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """An account's override starts from the brand default's values."""
    actor = request.actor_obj
    base = actor.scope(QuotaPolicy.objects.filter(channel_account__isnull=True)).first()
    policy = default_policy(actor.organization_id)
    if base is not None:
        for name in POLICY_FIELDS:
            setattr(policy, name, getattr(base, name))
    return _policy_form_page(request, actor, policy=policy, creating=True)


@console_view(OPERATOR_ONLY)
def quota_policy_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    policy = get_object_or_404(
        actor.scope(QuotaPolicy.objects.filter(channel_account__isnull=False).select_related("channel_account")), pk=pk
    )
    return _policy_form_page(request, actor, policy=policy)


@require_POST
@console_view(OPERATOR_ONLY)
def quota_policy_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    policy = get_object_or_404(actor.scope(QuotaPolicy.objects.select_related("channel_account")), pk=pk)
    try:
        services.quota_policy_delete(policy=policy)
    except services.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已删除该账号的单独策略，该账号改用品牌默认策略"))
    return redirect("campaigns:quota_policy_list")


# -- 联合排期: plan a platform day's campaigns together (campaigns.allocation) ---------------------------


def _planner_page(
    request: AuthenticatedHttpRequest, *, day: date | None, error: str = "", status: int = 200
) -> HttpResponse:
    actor = request.actor_obj
    day = day or timezone.localdate()
    campaigns = allocation.day_campaigns(organization_id=actor.organization_id, day=day)
    preview = None
    if campaigns and not error:
        try:
            preview = allocation.allocation_run(
                organization=actor.organization,
                day=day,
                mode=AllocationMode.EXPECTED_VALUE,
                by=actor.staff,
                dry_run=True,
            )
        except allocation.AllocationError as exc:
            error = str(exc)
    rows = {r["id"]: r for r in preview.campaigns} if preview else {}
    runs = actor.scope(AllocationRun.objects.select_related("created_by"))
    mode_filter = request.GET.get("mode", "")
    if mode_filter in AllocationMode.values:
        runs = runs.filter(mode=mode_filter)
    page = Paginator(runs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "campaigns/planner.html",
        {
            "day": day,
            "campaigns": campaigns,
            "preview": preview,
            "items": [(c, rows.get(c.pk)) for c in campaigns],
            "day_iso": day.isoformat(),
            "modes": AllocationMode.choices,
            "chosen": AllocationMode.EXPECTED_VALUE if preview and preview.gain > 0 else AllocationMode.PRIORITY,
            "error": error,
            "page": page,
            "mode_filter": mode_filter,
        },
        status=status,
    )


def _day(value: str | None) -> date | None:
    """The platform day from the form (YYYY-MM-DD); raises ValueError on anything else."""
    if not value:
        return None
    return date.fromisoformat(value)


@console_view(OPERATOR_ONLY)
def planner(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        day = _day(request.GET.get("day"))
    except ValueError:
        return _planner_page(request, day=None, error=_("「平台日」格式应为 YYYY-MM-DD，例如 2026-11-23"), status=400)
    return _planner_page(request, day=day)


@require_POST
@console_view(OPERATOR_ONLY)
def planner_run(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    try:
        day = _day(request.POST.get("day"))
    except ValueError:
        day = None
    if day is None:
        return _planner_page(request, day=None, error=_("「平台日」格式应为 YYYY-MM-DD，例如 2026-11-23"), status=400)
    mode = request.POST.get("mode", "")
    if mode not in AllocationMode.values:
        return _planner_page(request, day=day, error=_("「分配方式」请选择「按优先级」或「按预期价值」"), status=400)
    try:
        out = allocation.allocation_run(organization=actor.organization, day=day, mode=mode, by=actor.staff)
    except allocation.AllocationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("已排期 %(n)s 个活动，计划发送 %(planned)s 人次；预期价值 ¥%(value)s（按优先级 ¥%(prio)s）")
            % {
                "n": len(out.campaigns),
                "planned": out.planned,
                "value": out.value_joint if mode == AllocationMode.EXPECTED_VALUE else out.value_priority,
                "prio": out.value_priority,
            },
        )
    return redirect(f"{reverse('campaigns:planner')}?day={day.isoformat()}")
