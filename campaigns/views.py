"""Console pages: campaign and Moments lists, the creation wizard, the live progress page,
the staff member's pending confirmations and the campaigns report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns import selectors, services
from campaigns.models import Batch, BatchStatus, Campaign, CampaignKind, CampaignStatus, Recurrence
from contacts.access import ALL_ROLES, OPERATOR_AND_MANAGER, Actor, console_view
from contacts.models import CustomerGroup, Role, Segment

PAGE_SIZE = 20


def _list(request: HttpRequest, *, moments: bool) -> HttpResponse:
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
    qs = actor.scope(Campaign.objects.select_related("created_by"))
    qs = qs.filter(kind=CampaignKind.MOMENT) if moments else qs.exclude(kind=CampaignKind.MOMENT)
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    q = request.GET.get("q", "").strip()
    if status in CampaignStatus.values:
        qs = qs.filter(status=status)
    if kind in CampaignKind.values and not moments:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(text__icontains=q))
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
        },
    )


@console_view(OPERATOR_AND_MANAGER)
def campaign_list(request: HttpRequest) -> HttpResponse:
    return _list(request, moments=False)


@console_view(OPERATOR_AND_MANAGER)
def moment_list(request: HttpRequest) -> HttpResponse:
    return _list(request, moments=True)


@console_view(OPERATOR_AND_MANAGER)
def campaign_new(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
    kind = request.GET.get("kind", CampaignKind.BROADCAST_SINGLE)
    if kind not in CampaignKind.values:
        kind = CampaignKind.BROADCAST_SINGLE
    segments = actor.scope(Segment.objects.order_by("name"))[:300]
    groups = actor.scope(CustomerGroup.objects.filter(dismissed_at__isnull=True).order_by("name"))[:500]
    return render(
        request,
        "campaigns/campaign_wizard.html",
        {
            "kind": kind,
            "kinds": CampaignKind.choices,
            "segments": segments,
            "groups": groups,
            "recurrences": Recurrence.choices,
        },
    )


def _campaign_for(actor: Actor, pk: int) -> Campaign:
    return get_object_or_404(actor.scope(Campaign.objects.select_related("created_by", "approved_by")), pk=pk)


@console_view(OPERATOR_AND_MANAGER)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
    campaign = _campaign_for(actor, pk)
    progress = selectors.campaign_progress(campaign=campaign)
    return render(
        request,
        "campaigns/campaign_detail.html",
        {
            "campaign": campaign,
            "progress": progress,
            "results": campaign.results or {},
            "can_approve": actor.role in (Role.MANAGER, Role.OPERATOR),
            "active": campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING),
            "stuck": list(campaign.batches.filter(status=BatchStatus.NEEDS_OPERATOR).select_related("sender")[:50])
            if actor.role == Role.OPERATOR
            else [],
        },
    )


@console_view(OPERATOR_AND_MANAGER)
def campaign_progress(request: HttpRequest, pk: int) -> JsonResponse:
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
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
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
    campaign = _campaign_for(actor, pk)
    fn = ACTIONS.get(action)
    if fn is None:
        raise PermissionDenied(_("未知操作"))
    if action in ("approve", "reject") and campaign.created_by_id == actor.staff.pk and actor.role != Role.OPERATOR:
        messages.error(request, _("不能审批自己创建的活动，请让其他店长或运营审批"))
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
def batch_resolve(request: HttpRequest, pk: int, batch_id: int) -> HttpResponse:
    """Operator settles a batch marked ``needs_operator`` (adopt a msgid found in WeCom, resend, drop)."""
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
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
def my_pending(request: HttpRequest) -> HttpResponse:
    """Pending WeCom confirmations of the signed-in staff member (the sidebar includes ``?partial=1``)."""
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
    page = Paginator(selectors.pending_confirmations(actor=actor), PAGE_SIZE).get_page(request.GET.get("page"))
    template = "campaigns/_my_pending.html" if request.GET.get("partial") else "campaigns/my_pending.html"
    return render(request, template, {"page": page})


@console_view(OPERATOR_AND_MANAGER)
def campaigns_report(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
    rows: list[dict[str, Any]] = []
    for c in selectors.campaigns_report(actor=actor):
        r = c.results or {}
        rows.append({"campaign": c, "r": r, "ci": r.get("ci")})
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "campaigns/report.html", {"page": page})
