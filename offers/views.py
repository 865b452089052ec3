"""Pages of offers: coupon templates (console), issuing, redemption (sidebar and console), the
coupon report, and the customer's own coupon page (``/c/<signed token>/``, no login)."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from analytics.registry import campaign_names
from contacts.access import (
    ALL_ROLES,
    OPERATOR_AND_MANAGER,
    OPERATOR_ONLY,
    Actor,
    AuthenticatedHttpRequest,
    console_view,
)
from contacts.models import CustomerGroup, Segment, Store
from contacts.views.customers import scoped_customer
from offers import issue_jobs, selectors, services
from offers.forms import CouponTemplateForm
from offers.models import CouponIssueJob, CouponStatus, CouponTemplate

PAGE_SIZE = 20


def _template_or_404(actor: Actor, pk: int) -> CouponTemplate:
    template = selectors.template_for(actor, pk)
    if template is None:
        raise Http404(_("优惠券不存在，或不属于你的企业"))
    return template


def _next_url(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# -- templates --------------------------------------------------------------------------------------
@console_view(OPERATOR_AND_MANAGER)
def template_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    q = (request.GET.get("q") or "").strip()
    state = request.GET.get("state") or ""
    qs = selectors.templates_for(actor)
    if q:
        qs = qs.filter(name__icontains=q)
    if state in ("active", "inactive"):
        qs = qs.filter(is_active=state == "active")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode([(k, v) for k, v in (("q", q), ("state", state)) if v])
    return render(request, "offers/template_list.html", {"page": page, "q": q, "state": state, "query": query})


def _save_template(request: AuthenticatedHttpRequest, template: CouponTemplate | None) -> HttpResponse:
    actor = request.actor_obj
    form = CouponTemplateForm(request.POST or None, instance=template, organization_id=actor.organization_id)
    if request.method == "POST" and form.is_valid():
        data = {key: form.cleaned_data.get(key) for key in services.TEMPLATE_FIELDS}
        try:
            saved = services.coupon_template_save(
                organization=actor.organization,
                data=data,
                stores=list(form.cleaned_data.get("stores") or []),
                template=CouponTemplate.objects.get(pk=template.pk) if template else None,
                by=actor.staff,
            )
        except services.CouponError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            messages.success(request, _("已保存优惠券“%(name)s”") % {"name": saved.name})
            return redirect("offers:template_detail", saved.pk)
    return render(
        request, "offers/template_form.html", {"form": form, "template": template}, status=400 if form.errors else 200
    )


@console_view(OPERATOR_ONLY)
def template_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _save_template(request, None)


@console_view(OPERATOR_ONLY)
def template_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _save_template(request, _template_or_404(request.actor_obj, pk))


@require_POST
@console_view(OPERATOR_ONLY)
def template_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    template = _template_or_404(request.actor_obj, pk)
    try:
        services.coupon_template_delete(template=template)
    except services.CouponError as exc:
        messages.error(request, str(exc))
        return redirect("offers:template_detail", template.pk)
    messages.success(request, _("已删除优惠券“%(name)s”") % {"name": template.name})
    return redirect("offers:template_list")


@console_view(OPERATOR_AND_MANAGER)
def template_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    template = _template_or_404(actor, pk)
    q = (request.GET.get("q") or "").strip()
    status = request.GET.get("status") or ""
    coupons = selectors.coupons_for(actor).filter(template=template)
    if q:
        coupons = coupons.filter(Q(code__icontains=services.normalize_code(q) or q) | Q(customer__name__icontains=q))
    if status in CouponStatus.values:
        coupons = coupons.filter(status=status)
    page = Paginator(coupons.order_by("-issued_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode([(k, v) for k, v in (("q", q), ("status", status)) if v])
    [figures] = selectors.template_figures(actor, [template])
    context = {
        "template": template,
        "figures": figures,
        "page": page,
        "q": q,
        "status": status,
        "statuses": CouponStatus.choices,
        "query": query,
        "groups": actor.scope(CustomerGroup.objects.filter(dismissed_at__isnull=True)).order_by("name")[:200],
        "segments": actor.scope(Segment.objects.all()).order_by("name")[:200],
        "jobs": _jobs_for(actor, template)[:5],
    }
    return render(request, "offers/template_detail.html", context)


def _jobs_for(actor: Actor, template: CouponTemplate) -> Any:
    return actor.scope(CouponIssueJob.objects.filter(template=template)).select_related("segment", "created_by")


@console_view(OPERATOR_AND_MANAGER)
def issue_job_status(request: AuthenticatedHttpRequest, pk: int, job_pk: int) -> HttpResponse:
    """One segment issue job's progress (the fragment the template page polls with htmx)."""
    actor = request.actor_obj
    template = _template_or_404(actor, pk)
    job = _jobs_for(actor, template).filter(pk=job_pk).first()
    if job is None:
        raise Http404(_("发放任务不存在，或不属于你的企业"))
    return render(request, "offers/_issue_job.html", {"job": job, "template": template})


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def template_issue(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Issue to a customer group's members or to a saved segment (one set-based statement)."""
    actor = request.actor_obj
    template = _template_or_404(actor, pk)
    back = reverse("offers:template_detail", args=[template.pk])
    target = request.POST.get("target")
    try:
        target_id = int(request.POST.get("target_id") or 0)
    except ValueError:
        target_id = 0
    try:
        if target == "group":
            group = actor.scope(CustomerGroup.objects.all()).filter(pk=target_id).first()
            if group is None:
                raise services.CouponError(_("请选择要发放的客户群"), field="group_id")
            result = services.coupon_issue_group(template=template, group=group, by=actor.staff)
        elif target == "segment":
            segment = actor.scope(Segment.objects.all()).filter(pk=target_id).first()
            if segment is None:
                raise services.CouponError(_("请选择要发放的客户分群"), field="segment_id")
            job = issue_jobs.coupon_issue_job_start(
                template=template, segment=segment, store_ids=actor.store_ids, by=actor.staff
            )
            messages.success(
                request,
                _("已开始向分群“%(segment)s”发券（共 %(total)s 位客户），进度见下方")
                % {"segment": segment.name, "total": job.total},
            )
            return redirect(back)
        else:
            raise services.CouponError(_("请选择发放对象：客户群或客户分群"), field="target")
    except services.CouponError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(
        request,
        _("已发放 %(issued)s 张（共 %(targets)s 位客户，%(limit)s 位已领满未重复发放）")
        % {"issued": result.issued, "targets": result.targets, "limit": result.at_limit},
    )
    return redirect(back)


# -- one customer (profile and sidebar) -------------------------------------------------------------
@require_POST
@console_view(ALL_ROLES)
def customer_issue(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    back = _next_url(request, reverse("contacts:customer_detail", args=[customer.pk]))
    try:
        template_id = int(request.POST.get("template_id") or 0)
    except ValueError:
        template_id = 0
    template = selectors.templates_for(actor).filter(pk=template_id, is_active=True).first()
    if template is None:
        messages.error(request, _("请选择要发放的优惠券"))
        return HttpResponseRedirect(back)
    try:
        coupon = services.coupon_issue(template=template, customer=customer, by=actor.staff)
    except services.CouponError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(back)
    messages.success(
        request,
        _("已发放“%(name)s”，券码 %(code)s；客户领取链接：%(url)s")
        % {"name": template.name, "code": coupon.code, "url": services.coupon_link(coupon.token)},
    )
    return HttpResponseRedirect(back)


# -- redemption -------------------------------------------------------------------------------------
def _redeem_stores(actor: Actor) -> list[Store]:
    return list(actor.scope(Store.objects.filter(is_active=True)).order_by("code"))


@console_view(ALL_ROLES)
def redeem(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Type or scan a code, enter the order amount, redeem. Store staff redeem at their own store."""
    actor = request.actor_obj
    stores = _redeem_stores(actor)
    values = {
        "code": (request.POST.get("code") or request.GET.get("code") or "").strip(),
        "amount": request.POST.get("amount", ""),
        "external_ref": request.POST.get("external_ref", ""),
        "store": request.POST.get("store") or (str(actor.staff.store_id) if actor.staff.store_id else ""),
    }
    context: dict[str, Any] = {"stores": stores, "values": values, "errors": {}}
    status = 200
    if request.method == "POST":
        store = next((s for s in stores if str(s.pk) == values["store"]), None)
        if not request.POST.get("store") and len(stores) == 1:
            store = stores[0]
        try:
            if request.POST.get("store") and store is None:
                raise services.CouponError(_("该门店不在你管理的门店范围内"), field="store")
            redemption, created = services.coupon_redeem(
                organization=actor.organization,
                code=values["code"],
                store=store,
                amount=values["amount"],
                external_ref=values["external_ref"],
                staff=actor.staff,
                store_ids=actor.store_ids,
            )
        except services.CouponError as exc:
            context["errors"] = {exc.field: str(exc)}
            status = 400
        else:
            context["redemption"] = redemption
            context["created"] = created
            context["values"] = {"code": "", "amount": "", "external_ref": "", "store": values["store"]}
    return render(request, "offers/redeem.html", context, status=status)


# -- reports ----------------------------------------------------------------------------------------
@console_view(ALL_ROLES)
def report(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    templates_page = Paginator(selectors.templates_for(actor), PAGE_SIZE).get_page(request.GET.get("page"))
    figures = selectors.template_figures(actor, list(templates_page))
    template_id = request.GET.get("template") or ""
    redemptions = selectors.redemptions_for(actor).filter(reverted_at__isnull=True)
    if template_id.isdigit():
        redemptions = redemptions.filter(coupon__template_id=int(template_id))
    rpage = Paginator(redemptions.order_by("-redeemed_at", "-id"), PAGE_SIZE).get_page(request.GET.get("r"))
    names = campaign_names(
        actor.organization_id, {r.order.campaign_id for r in rpage if r.order and r.order.campaign_id}
    )
    context = {
        "figures": figures,
        "templates_page": templates_page,
        "templates": selectors.templates_for(actor).only("id", "name")[:200],
        "template_id": template_id,
        "redemptions": [
            {"r": r, "campaign": names.get(r.order.campaign_id) if r.order and r.order.campaign_id else None}
            for r in rpage
        ],
        "rpage": rpage,
        "rquery": urlencode([("template", template_id)] if template_id else []),
        "pquery": urlencode([("template", template_id)] if template_id else []),
    }
    return render(request, "offers/report.html", context)


# -- the customer's page ----------------------------------------------------------------------------
def _coupon_from_link(signed: str) -> Any:
    token = services.coupon_token_from_link(signed)
    coupon = selectors.coupon_by_token(token) if token else None
    if coupon is None:
        raise Http404(_("优惠券链接无效或已失效"))
    return coupon


def customer_coupon(request: HttpRequest, signed: str) -> HttpResponse:
    """The coupon as the customer sees it: no login (the signed token is the key), no phone number."""
    coupon = _coupon_from_link(signed)
    stores = list(coupon.template.stores.all())
    context = {
        "coupon": coupon,
        "template": coupon.template,
        "stores": stores,
        "signed": signed,
        "status": coupon.display_status(timezone.now()),
        "usable": coupon.status == CouponStatus.ISSUED and coupon.valid_until > timezone.now(),
    }
    response = render(request, "offers/customer_coupon.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response


def customer_coupon_qr(request: HttpRequest, signed: str) -> HttpResponse:
    """The code as a QR (SVG) for the store's scanner."""
    coupon = _coupon_from_link(signed)
    buffer = io.BytesIO()
    segno.make(coupon.code, error="m").save(buffer, kind="svg", scale=6, border=2)
    return HttpResponse(buffer.getvalue(), content_type="image/svg+xml")
