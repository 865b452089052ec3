"""Pages of 任务宝: the campaign list, form and page (totals, leaderboard, CSV), enrolment from the
customer profile or by segment, and the participant's poster (``/r/<signed token>/``, no login)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contacts.access import (
    ALL_ROLES,
    OPERATOR_AND_MANAGER,
    OPERATOR_ONLY,
    Actor,
    AuthenticatedHttpRequest,
    console_view,
)
from contacts.models import Segment, Store
from contacts.views.customers import scoped_customer
from referrals import selectors, services
from referrals.forms import CampaignForm
from referrals.models import ReferralCampaign, ReferralParticipant, ReferralStatus
from referrals.services import ReferralError

PAGE_SIZE = 20


def _campaign(actor: Actor, pk: int) -> ReferralCampaign:
    campaign = selectors.campaign_for_actor(actor, pk)
    if campaign is None:
        raise Http404(_("任务宝活动不存在，或不在你的范围内"))
    return campaign


@console_view(OPERATOR_AND_MANAGER)
def campaign_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    status = request.GET.get("status", "")
    if status not in ReferralStatus.values:
        status = ""
    page = Paginator(selectors.campaigns_for_actor(actor, status=status), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "referrals/campaign_list.html",
        {
            "page": page,
            "status": status,
            "statuses": ReferralStatus.choices,
            "query": urlencode({"status": status} if status else {}),
            "can_edit": actor.is_operator,
        },
    )


def _form_page(request: AuthenticatedHttpRequest, campaign: ReferralCampaign | None) -> HttpResponse:
    actor = request.actor_obj
    initial = CampaignForm.initial_for(campaign) if campaign else {}
    form = CampaignForm(request.POST or None, initial=initial, organization_id=actor.organization_id)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = services.referral_campaign_save(
                    organization_id=actor.organization_id, data=form.to_input(), by=actor.staff, campaign=campaign
                )
            except ReferralError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, _("任务宝活动已保存"))
                return redirect("referrals:campaign_detail", saved.pk)
        status = 400
    return render(request, "referrals/campaign_form.html", {"form": form, "campaign": campaign}, status=status)


@console_view(OPERATOR_ONLY)
def campaign_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _form_page(request, None)


@console_view(OPERATOR_ONLY)
def campaign_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, _campaign(request.actor_obj, pk))


@console_view(OPERATOR_AND_MANAGER)
def campaign_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    campaign = _campaign(actor, pk)
    store_id = _store_filter(actor, request.GET.get("store"))
    board = Paginator(selectors.leaderboard(actor, campaign, store_id=store_id), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = list(board.object_list)
    who = selectors.attribution([p.pk for p in rows])
    return render(
        request,
        "referrals/campaign_detail.html",
        {
            "campaign": campaign,
            "totals": selectors.totals(actor, campaign),
            "board": board,
            "rows": [(p, who.get(p.pk, [])) for p in rows],
            "rank_offset": board.start_index() - 1 if rows else 0,
            "stores": actor.scope(Store.objects.all()).order_by("code"),
            "store_id": store_id,
            "query": urlencode({"store": store_id} if store_id else {}),
            "segments": actor.scope(Segment.objects.all()).order_by("name") if actor.is_operator else [],
            "can_edit": actor.is_operator,
            "staff": list(campaign.staff.all()),
        },
    )


def _store_filter(actor: Actor, raw: str | None) -> int | None:
    try:
        store_id = int(raw or 0)
    except ValueError:
        return None
    return store_id if store_id and actor.can_access_store(store_id) else None


@console_view(OPERATOR_ONLY)
@require_POST
def campaign_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    campaign = _campaign(request.actor_obj, pk)
    action = request.POST.get("action", "")
    try:
        if action == "start":
            services.referral_campaign_start(campaign=campaign)
            messages.success(request, _("活动已开始"))
        elif action == "end":
            if campaign.status != ReferralStatus.RUNNING:
                raise ReferralError(_("只有进行中的活动可以结束"))
            services.referral_campaign_end(campaign=campaign)
            messages.success(request, _("活动已结束，参与者的活码已在企业微信删除"))
        else:
            raise ReferralError(_("未知操作"))
    except ReferralError as exc:
        messages.error(request, str(exc))
    return redirect("referrals:campaign_detail", campaign.pk)


@console_view(OPERATOR_ONLY)
@require_POST
def campaign_enrol_segment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    campaign = _campaign(actor, pk)
    try:
        segment = actor.scope(Segment.objects.filter(pk=int(request.POST.get("segment_id") or 0))).first()
    except ValueError:
        segment = None
    if segment is None:
        messages.error(request, _("客户分群不存在或无权使用"))
        return redirect("referrals:campaign_detail", campaign.pk)
    try:
        n = services.referral_participants_enrol_segment(
            campaign=campaign, segment=segment, store_ids=actor.store_ids, by=actor.staff
        )
    except ReferralError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已邀请 %(n)s 位客户参加，服务员工收到了发送海报的待办") % {"n": n})
    return redirect("referrals:campaign_detail", campaign.pk)


@console_view(OPERATOR_AND_MANAGER)
def leaderboard_csv(request: AuthenticatedHttpRequest, pk: int) -> StreamingHttpResponse:
    actor = request.actor_obj
    campaign = _campaign(actor, pk)
    store_id = _store_filter(actor, request.GET.get("store"))

    class Echo:
        def write(self, value: str) -> str:
            return value

    def rows() -> Iterator[str]:
        writer = csv.writer(Echo())
        yield "\ufeff" + writer.writerow(
            [
                _("排名"),
                _("客户"),
                _("门店"),
                _("服务员工"),
                _("有效新好友"),
                _("待确认"),
                _("24 小时内删除"),
                _("已发奖励"),
            ]
        )
        for rank, p in enumerate(selectors.leaderboard(actor, campaign, store_id=store_id).iterator(2000), 1):
            yield writer.writerow(
                [
                    rank,
                    p.customer.name,
                    p.customer.home_store.name if p.customer.home_store else "",
                    p.serving_staff.name if p.serving_staff else "",
                    p.valid,  # type: ignore[attr-defined]
                    p.pending,  # type: ignore[attr-defined]
                    p.churned,  # type: ignore[attr-defined]
                    p.rewarded,  # type: ignore[attr-defined]
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="referral-{campaign.pk}.csv"'
    return response


@console_view(ALL_ROLES)
@require_POST
def customer_enrol(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """Staff enrol the customer from the profile (console or sidebar); the 活码 is made right away."""
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = ""
    try:
        campaign = _campaign(actor, int(request.POST.get("campaign_id") or 0))
    except ValueError:
        raise Http404(_("任务宝活动不存在，或不在你的范围内")) from None
    try:
        participant, created = services.referral_participant_enrol(campaign=campaign, customer=customer, by=actor.staff)
    except ReferralError as exc:
        messages.error(request, str(exc))
    else:
        services.referral_code_ensure(participant=participant)
        if created:
            messages.success(request, _("已邀请该客户参加「%(name)s」，海报链接在待办中") % {"name": campaign.name})
        else:
            messages.info(request, _("该客户已在活动中"))
    return redirect(target or "contacts:customer_detail", *([] if target else [customer.pk]))


def poster(request: HttpRequest, signed: str) -> HttpResponse:
    """The participant's poster: the QR of their own 活码, progress k / N, the reward. No login (the
    signed token is the key) and no phone number."""
    token = services.poster_token(signed)
    participant = (
        ReferralParticipant.objects.filter(token=token, erased_at__isnull=True)
        .select_related("campaign__reward", "campaign__reward2", "campaign__account", "contact_way", "customer")
        .first()
        if token
        else None
    )
    if participant is None:
        raise Http404(_("海报链接无效或已失效"))
    campaign = participant.campaign
    way = services.referral_code_ensure(participant=participant)
    progress = selectors.progress(participant)
    response = render(
        request,
        "referrals/poster.html",
        {
            "campaign": campaign,
            "participant": participant,
            "way": way,
            "progress": progress,
            "running": campaign.status == ReferralStatus.RUNNING and campaign.ends_at > timezone.now(),
            "percent": min(100, int(progress["valid"] * 100 / campaign.goal)),
        },
    )
    response["X-Robots-Tag"] = "noindex"
    return response
