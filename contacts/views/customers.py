"""Customer list and profile pages, and the small POST endpoints the profile and the sidebar share."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contacts import selectors, services
from contacts.access import ALL_ROLES, OPERATOR_ONLY, Actor, AuthenticatedHttpRequest, console_view
from contacts.forms import CustomerFilterForm, NoteForm
from contacts.labels import state_labels
from contacts.models import (
    Customer,
    CustomerGroupMember,
    CustomerMerge,
    CustomField,
    Follow,
    Identity,
    Note,
    Tag,
    TagGroup,
    TagSource,
    TimelineEvent,
)
from scrm.pagination import BoundedPaginator

PAGE_SIZE = 25
# Recorded as the opt-out's source (and shown in the timeline): a staff member did it in the console.
OPT_OUT_SOURCE = "控制台"


def search_q(q: str) -> Q:
    """Name, any follower's remark, or the whole phone number (numbers are encrypted; matched by keyed hash)."""
    return selectors.customer_search_q(q)


def scoped_customer(actor: Actor, pk: int) -> Customer:
    """The customer if this actor may see it; 404 otherwise (never reveal another store's customer)."""
    customer = actor.scope(Customer.objects.select_related("home_store")).filter(pk=pk).first()
    if customer is None:
        raise Http404(_("客户不存在，或不属于你可查看的门店"))
    return customer


def display_phone(actor: Actor, customer: Customer) -> str:
    return customer.phone if actor.sees_full_phone else customer.phone_masked


def tag_groups(actor: Actor) -> list[TagGroup]:
    """Tag groups with their tags, in display order (two queries)."""
    return list(selectors.tag_groups_with_tags(actor=actor))


def tags_by_id(groups: list[TagGroup]) -> dict[int, Tag]:
    return {t.pk: t for g in groups for t in g.tags.all()}


def export_url(query: str) -> str:
    """The backend's export endpoint (same filters as the list), by URL name when it is mounted."""
    try:
        base = reverse("contacts:api-customer-export")
    except NoReverseMatch:
        base = "/api/v1/customers/export/"
    return f"{base}?{query}" if query else base


def filter_customers(actor: Actor, form: CustomerFilterForm) -> QuerySet[Customer]:
    """The list filters; the same parameters (and the same selector) drive the API and the export."""
    qs = actor.scope(Customer.objects.all())
    if not form.is_valid():
        return qs
    return selectors.customer_filter(qs, **{k: v for k, v in form.cleaned_data.items() if v not in (None, "")})


@console_view(ALL_ROLES)
def customer_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    groups = tag_groups(actor)
    form = CustomerFilterForm(request.GET or None, actor=actor, tag_groups=groups)
    qs = filter_customers(actor, form).select_related("home_store").order_by("-created_at", "-id")
    # Counted up to 10,000 past the page ("10,000+"), never the whole brand: scrm/pagination.py.
    page = BoundedPaginator(qs, PAGE_SIZE, near_page=request.GET.get("page")).get_page(request.GET.get("page"))
    by_id = tags_by_id(groups)
    rows = [
        {
            "customer": c,
            "phone": display_phone(actor, c),
            "tags": [by_id[t] for t in c.tag_ids if t in by_id],
        }
        for c in page
    ]
    query = urlencode([(k, v) for k, v in request.GET.items() if k != "page" and v])
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "rows": rows,
        "query": query,
        "tag_groups": groups,
        "export_url": export_url(query),
    }
    return render(request, "contacts/customer_list.html", context)


@require_POST
@console_view(ALL_ROLES)
def customer_bulk_tag(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Tag the selected rows (ids limited to the actor's scope before the service sees them)."""
    actor = request.actor_obj
    payload = _json_body(request)
    try:
        ids = [int(i) for i in payload.get("customer_ids", [])]
        tag_id = int(payload.get("tag_id", 0))
    except (TypeError, ValueError):
        return JsonResponse({"detail": _("请求格式不正确：请选择客户和标签后重试")}, status=400)
    tag = actor.scope(Tag.objects.select_related("group")).filter(pk=tag_id).first()
    if tag is None:
        return JsonResponse({"detail": _("标签不存在，请刷新页面后重新选择")}, status=400)
    if not ids:
        return JsonResponse({"detail": _("请先勾选要打标签的客户")}, status=400)
    allowed = list(actor.scope(Customer.objects.filter(pk__in=ids)).values_list("pk", flat=True))
    try:
        changed = services.customers_tag_bulk(
            organization=actor.organization, tag=tag, customer_ids=allowed, by=actor.staff, source=TagSource.STAFF
        )
    except ValueError as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    return JsonResponse({"changed": changed, "selected": len(allowed)})


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return {k: request.POST.getlist(k) if k.endswith("_ids") else request.POST.get(k) for k in request.POST}


def profile_context(
    actor: Actor,
    customer: Customer,
    *,
    timeline_page: str | None,
    timeline_size: int,
    params: Any = None,
    sections: bool = True,
) -> dict[str, Any]:
    groups = tag_groups(actor)
    current = set(customer.tag_ids)
    identities = actor.scope(Identity.objects.filter(customer=customer)).order_by("platform", "id")
    follows = list(
        actor.scope(Follow.objects.filter(customer=customer).select_related("staff", "staff__store")).order_by(
            "deleted_at", "-added_at"
        )
    )
    states = state_labels(customer.organization_id, {f.state for f in follows})
    for follow in follows:
        follow.state_label = states.get(follow.state, "")  # type: ignore[attr-defined]
    memberships = actor.scope(
        CustomerGroupMember.objects.filter(customer=customer).select_related("group", "group__owner")
    ).order_by("left_at", "-joined_at")
    notes = actor.scope(Note.objects.filter(customer=customer).select_related("author"))[:20]
    timeline = actor.scope(TimelineEvent.objects.filter(customer=customer).select_related("actor"))
    merges = actor.scope(
        CustomerMerge.objects.filter(
            Q(survivor=customer) | Q(organization_id=customer.organization_id, merged_customer_id=customer.pk)
        ).select_related("by", "undone_by")
    )[:20]
    attributes = customer.attributes or {}
    custom = [{"field": f, "value": attributes.get(f.key)} for f in actor.scope(CustomField.objects.all())]
    # Higher layers' sections (orders, campaigns received): their context keys are their own.
    section_templates: list[str] = []
    section_context: dict[str, Any] = {}
    for template_name, provider in services.profile_sections() if sections else []:
        section = provider(actor, customer, params if params is not None else {})
        if section is not None:
            section_templates.append(template_name)
            section_context.update(section)
    return {
        **section_context,
        "merges": merges,
        "profile_extensions": services.profile_extensions(),
        "custom_values": custom,
        "profile_sections": section_templates,
        "customer": customer,
        "phone": display_phone(actor, customer),
        "tag_groups": groups,
        "current_tags": current,
        "identities": identities,
        "follows": follows,
        "memberships": memberships,
        "notes": notes,
        "timeline_page": Paginator(timeline, timeline_size).get_page(timeline_page),
        "note_form": NoteForm(),
    }


@console_view(ALL_ROLES)
def customer_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    context = profile_context(
        actor, customer, timeline_page=request.GET.get("page"), timeline_size=20, params=request.GET
    )
    return render(request, "contacts/customer_detail.html", context)


@require_POST
@console_view(ALL_ROLES)
def customer_tag_toggle(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Add or remove one tag (JSON ``{"tag_id": 1, "on": true}``); answers the customer's tags after it."""
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    payload = _json_body(request)
    try:
        tag_id = int(payload.get("tag_id", 0))
    except (TypeError, ValueError):
        tag_id = 0
    tag = actor.scope(Tag.objects.select_related("group")).filter(pk=tag_id).first()
    if tag is None:
        return JsonResponse({"detail": _("标签不存在，请刷新页面后重试")}, status=400)
    on = payload.get("on")
    on = on if isinstance(on, bool) else str(on).lower() in ("1", "true", "on")
    try:
        change = services.customer_tag_add if on else services.customer_tag_remove
        changed = change(customer=customer, tag=tag, by=actor.staff, source=TagSource.STAFF)
    except ValueError as exc:  # a refusal from the tag service; its message says what to do
        return JsonResponse({"detail": str(exc)}, status=400)
    customer.refresh_from_db(fields=["tag_ids"])
    return JsonResponse({"changed": changed, "tag_ids": sorted(customer.tag_ids)})


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@require_POST
@console_view(ALL_ROLES)
def customer_note_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(customer=customer, author=actor.staff, body=form.cleaned_data["body"])
        except services.ContactsError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("跟进记录已保存"))
    else:
        messages.error(request, _("跟进记录不能为空，请填写内容后再保存（最多 2000 字）"))
    return redirect(_safe_next(request, reverse("contacts:customer_detail", args=[customer.pk])))


@require_POST
@console_view(ALL_ROLES)
def customer_opt_out(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("请在确认框中确认退订"))
    else:
        services.customer_opt_out(customer=customer, source=OPT_OUT_SOURCE, by=actor.staff)
        messages.success(request, _("已退订：该客户不会再收到营销消息"))
    return redirect(reverse("contacts:customer_detail", args=[customer.pk]))


@require_GET
@console_view(OPERATOR_ONLY)
def customer_privacy_export(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A copy of everything held on the person (PIPL Art. 45), as a JSON download; audited."""
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    data = services.customer_personal_data(customer=customer, by=actor.staff)
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}-personal-data.json"'
    return response


@require_POST
@console_view(OPERATOR_ONLY)
def customer_privacy_erase(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Erase the person's personal information on their request (PIPL Art. 47); audited."""
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("请在确认框中确认删除"))
    else:
        try:
            services.customer_erase(customer=customer, by=actor.staff, reason=request.POST.get("reason") or "")
        except services.ContactsError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("已删除该客户的个人信息：订单与统计保留，但不再能识别到本人"))
    return redirect(reverse("contacts:customer_detail", args=[customer.pk]))
