"""Segment builder: list, editor with a live count and sample, and the preview endpoint it calls."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contacts import segments, services
from contacts.access import OPERATOR_AND_MANAGER, Actor, AuthenticatedHttpRequest, console_view
from contacts.forms import SegmentForm
from contacts.models import (
    ChurnRisk,
    CustomerGroup,
    CustomField,
    Lifecycle,
    Segment,
    SourceChannel,
    Staff,
    Store,
    Tag,
    TagSource,
)
from contacts.views.customers import display_phone, tag_groups

SAMPLE_SIZE = 10


@console_view(OPERATOR_AND_MANAGER)
def segment_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    qs = actor.scope(Segment.objects.select_related("created_by")).order_by("-updated_at", "-id")
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "contacts/segment_list.html", {"page": page})


def _options(actor: Actor) -> dict[str, Any]:
    groups = tag_groups(actor)
    return {
        "tag_groups": [
            {"id": g.pk, "name": g.name, "tags": [{"id": t.pk, "name": t.name} for t in g.tags.all()]} for g in groups
        ],
        "stores": [{"id": s.pk, "name": s.name} for s in actor.scope(Store.objects.order_by("code"))],
        "channels": [{"id": v, "name": str(label)} for v, label in SourceChannel.choices],
        "lifecycle": [{"id": v, "name": str(label)} for v, label in Lifecycle.choices],
        "churn_risk": [{"id": v, "name": str(label)} for v, label in ChurnRisk.choices],
        "custom_fields": [
            {"key": f.key, "label": f.label, "kind": f.kind, "options": list(f.options)}
            for f in actor.scope(CustomField.objects.order_by("order", "id"))
        ],
        "staff": [
            {"id": s.pk, "name": s.name}
            for s in actor.scope(Staff.objects.filter(is_active=True).exclude(wecom_userid="")).order_by("name")[:500]
        ],
        "groups": [
            {"id": g.pk, "name": g.name or g.wecom_chat_id}
            for g in actor.scope(CustomerGroup.objects.filter(dismissed_at__isnull=True)).order_by("name")[:500]
        ],
        "conditions": _condition_options(actor),
    }


def _condition_options(actor: Actor) -> dict[str, Any]:
    """The pickers of conditions higher layers registered (campaigns, coupon templates, journeys);
    conditions sharing one options function (the two coupon conditions) query it once."""
    found: dict[Any, dict[str, Any]] = {}
    out: dict[str, Any] = {}
    for key, condition in segments.conditions().items():
        if condition.options is not None:
            if condition.options not in found:
                found[condition.options] = condition.options(actor)
            out[key] = found[condition.options]
    return out


@console_view(OPERATOR_AND_MANAGER)
def segment_edit(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    actor = request.actor_obj
    segment = get_object_or_404(actor.scope(Segment.objects.all()), pk=pk) if pk else None
    error = ""
    if request.method == "POST":
        form = SegmentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = services.segment_save(
                    actor=actor,
                    name=data["name"],
                    expression=data.get("expression") or {},
                    description=data["description"],
                    segment=segment,
                )
            except ValueError as exc:  # SegmentError and the services' refusals say what to fix
                error = str(exc)
            except IntegrityError:
                error = _("已有同名分群，请换一个名称")
            else:
                messages.success(request, _("分群已保存"))
                return redirect(reverse("contacts:segment_edit", args=[saved.pk]))
        else:
            error = _("请填写分群名称，并至少检查一遍条件")
        initial = {"name": request.POST.get("name", ""), "description": request.POST.get("description", "")}
        expression_json = request.POST.get("expression") or "{}"
    else:
        initial = {"name": segment.name, "description": segment.description} if segment else {}
        expression_json = json.dumps(segment.expression if segment else {}, ensure_ascii=False)
    context = {
        "segment": segment,
        "initial": initial,
        "expression_json": expression_json,
        "options": _options(actor),
        "tag_groups": tag_groups(actor) if segment else [],
        "error": error,
    }
    return render(request, "contacts/segment_edit.html", context, status=400 if error else 200)


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def segment_tag(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Tag every customer of a saved segment the actor can see (one set-based statement)."""
    actor = request.actor_obj
    segment = get_object_or_404(actor.scope(Segment.objects.all()), pk=pk)
    tag_id = request.POST.get("tag") or ""
    tag = actor.scope(Tag.objects.select_related("group")).filter(pk=tag_id).first() if tag_id.isdigit() else None
    if tag is None:
        messages.error(request, _("请选择要打的标签"))
    else:
        try:
            members = segments.segment_queryset(actor=actor, expression=segment.expression).values("pk")
            changed = services.customers_tag_bulk(
                organization=actor.organization, tag=tag, customer_ids=members, by=actor.staff, source=TagSource.STAFF
            )
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("已为 %(n)s 位客户打上标签“%(tag)s”（已有该标签的不重复计算）") % {"n": changed, "tag": tag.name},
            )
    return redirect(reverse("contacts:segment_edit", args=[segment.pk]))


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def segment_recount(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Recount the saved segment now (its brand-wide ``last_count``)."""
    segment = get_object_or_404(request.actor_obj.scope(Segment.objects.all()), pk=pk)
    segment = services.segment_recount(segment=segment)
    messages.success(request, _("已重新统计：全品牌 %(n)s 位客户") % {"n": segment.last_count})
    return redirect(reverse("contacts:segment_edit", args=[segment.pk]))


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def segment_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    segment = get_object_or_404(actor.scope(Segment.objects.all()), pk=pk)
    try:
        services.segment_delete(segment=segment)
    except segments.SegmentError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("contacts:segment_edit", args=[segment.pk]))
    messages.success(request, _("分群已删除"))
    return redirect(reverse("contacts:segment_list"))


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def segment_preview(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Live count and a small sample for the expression being edited (always within the actor's scope)."""
    actor = request.actor_obj
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"detail": _("条件不是合法的 JSON，请检查后重试")}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"detail": _("条件必须是一个 JSON 对象")}, status=400)
    expression = body.get("expression")
    if expression is None:
        expression = {}  # null: everyone, as saving reads it
    if not isinstance(expression, dict):  # a list, a string, 0 or "" is not a rule
        return JsonResponse({"detail": _("条件必须是一个 JSON 对象")}, status=400)
    try:
        # The same reference check as saving: an unknown or deleted id is a 400 naming it.
        expression = segments.validate(expression, organization_id=actor.organization_id)
        count = segments.segment_count(actor=actor, expression=expression)
        sample = segments.segment_sample(actor=actor, expression=expression, limit=SAMPLE_SIZE)
        description = segments.describe(expression, organization_id=actor.organization_id)
    except segments.SegmentError as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    return JsonResponse(
        {
            "count": count,
            "description": description,
            "sample": [
                {
                    "id": c.pk,
                    "name": c.name or f"#{c.pk}",
                    "phone": display_phone(actor, c),
                    "url": reverse("contacts:customer_detail", args=[c.pk]),
                }
                for c in sample
            ],
        }
    )


__all__ = ["segment_delete", "segment_edit", "segment_list", "segment_preview", "segment_recount", "segment_tag"]
