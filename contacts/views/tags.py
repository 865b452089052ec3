"""Tag management (groups single/multi, tags, customer counts) and customer groups (社群)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from contacts import segments, services
from contacts.access import (
    ALL_ROLES,
    OPERATOR_AND_MANAGER,
    OPERATOR_ONLY,
    Actor,
    AuthenticatedHttpRequest,
    console_view,
)
from contacts.forms import TagForm, TagGroupForm
from contacts.models import Customer, CustomerGroup, CustomerGroupMember, Tag, TagGroup
from contacts.views.customers import tag_groups


def _tag_counts(actor: Actor) -> dict[int, int]:
    """Customers per tag within the actor's scope, in one query over the denormalized tag arrays."""
    from django.db.models import Func, IntegerField

    rows = (
        actor.scope(Customer.objects.all())
        .annotate(tid=Func("tag_ids", function="unnest", output_field=IntegerField()))
        .values("tid")
        .annotate(n=Count("id"))
        .values_list("tid", "n")
    )
    return dict(rows)


@console_view(OPERATOR_AND_MANAGER)
def tag_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    if request.method == "POST":
        actor.require_role(OPERATOR_ONLY)
        try:
            _tag_action(request, actor)
        except services.TagInUse as exc:  # stored rules use it: show where, and ask (or say what to do first)
            return _delete_confirm(request, actor, exc)
        return redirect(reverse("contacts:tag_list"))
    groups = tag_groups(actor)
    counts = _tag_counts(actor)
    sections = [{"group": g, "tags": [{"tag": t, "count": counts.get(t.pk, 0)} for t in g.tags.all()]} for g in groups]
    context: dict[str, Any] = {
        "sections": sections,
        "group_form": TagGroupForm(),
        "can_edit": actor.is_operator,
        "notices": services.tag_notices(actor.organization.pk),
    }
    return render(request, "contacts/tag_list.html", context)


def _tag_action(request: HttpRequest, actor: Actor) -> None:
    action = request.POST.get("action", "")
    groups = actor.scope(TagGroup.objects.all())
    tags = actor.scope(Tag.objects.all())
    try:
        if action == "group_create":
            form = TagGroupForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("请填写标签组名称（最多 50 字）并选择单选或多选"))
                return
            services.tag_group_create(organization=actor.organization, **form.cleaned_data)
            messages.success(request, _("标签组已创建"))
        elif action == "group_rename":
            group = get_object_or_404(groups, pk=request.POST.get("group"))
            form = TagGroupForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("请填写标签组名称（最多 50 字）并选择单选或多选"))
                return
            services.tag_group_update(group=group, by=actor.staff, **form.cleaned_data)
            messages.success(request, _("标签组已保存"))
        elif action == "group_delete":
            group = get_object_or_404(groups, pk=request.POST.get("group"))
            services.tag_group_delete(group=group, by=actor.staff, confirmed=request.POST.get("confirmed") == "1")
            messages.success(request, _("标签组及其标签已删除"))
        elif action == "tag_create":
            group = get_object_or_404(groups, pk=request.POST.get("group"))
            form = TagForm(request.POST)  # type: ignore[assignment]
            if not form.is_valid():
                messages.error(request, _("请填写标签名称（最多 50 字）"))
                return
            services.tag_create(group=group, name=form.cleaned_data["name"], by=actor.staff)
            messages.success(request, _("标签已创建"))
        elif action == "tag_rename":
            tag = get_object_or_404(tags.select_related("group"), pk=request.POST.get("tag"))
            form = TagForm(request.POST)  # type: ignore[assignment]
            if not form.is_valid():
                messages.error(request, _("请填写标签名称（最多 50 字）"))
                return
            services.tag_update(tag=tag, name=form.cleaned_data["name"], by=actor.staff)
            messages.success(request, _("标签已重命名"))
        elif action in ("tag_move", "group_move"):
            step = 1 if request.POST.get("step") == "down" else -1
            if action == "tag_move":
                services.tag_move(tag=get_object_or_404(tags, pk=request.POST.get("tag")), step=step, by=actor.staff)
            else:
                group = get_object_or_404(groups, pk=request.POST.get("group"))
                services.tag_group_move(group=group, step=step, by=actor.staff)
            messages.success(request, _("顺序已调整"))
        elif action == "tag_delete":
            tag = get_object_or_404(tags, pk=request.POST.get("tag"))
            confirmed = request.POST.get("confirmed") == "1"
            services.tag_delete(tag=tag, by=actor.staff, confirmed=confirmed)
            messages.success(
                request,
                _("标签已删除，已从所有客户身上和使用它的规则中移除")
                if confirmed
                else _("标签已删除，已从所有客户身上移除"),
            )
        else:
            messages.error(request, _("未知操作，请刷新页面后重试"))
    except services.TagInUse:
        raise
    except services.CataloguePending as exc:  # WeCom unreachable: recorded, retried, applied once accepted
        messages.warning(request, str(exc))
    except ValueError as exc:  # the services' refusals (duplicates, single-choice clashes; WeCom's, in Chinese)
        messages.error(request, str(exc))
    except IntegrityError:
        messages.error(request, _("名称已存在：同一组内的标签、同一企业的标签组不能重名，请换一个名称"))


def _delete_confirm(request: HttpRequest, actor: Actor, exc: services.TagInUse) -> HttpResponse:
    """Where the tag is used, what its deletion does to each rule (and the count before and after,
    within the actor's scope), and a confirm button unless a use refuses the deletion."""
    rows = []
    for usage in exc.usages:
        counts = None
        if isinstance(usage.expression_before, dict):
            try:
                counts = (
                    segments.segment_count(actor=actor, expression=usage.expression_before),
                    segments.segment_count(actor=actor, expression=usage.expression_after or {}),
                )
            except segments.SegmentError:  # a stored rule the engine refuses: shown without counts
                counts = None
        rows.append({"usage": usage, "counts": counts})
    context = {
        "rows": rows,
        "blocked": any(u.blocked for u in exc.usages),
        "message": str(exc),
        "action": request.POST.get("action", ""),
        "tag": request.POST.get("tag", ""),
        "group": request.POST.get("group", ""),
    }
    return render(request, "contacts/tag_delete_confirm.html", context, status=409)


@console_view(ALL_ROLES)
def group_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    q = (request.GET.get("q") or "").strip()
    qs = actor.scope(CustomerGroup.objects.select_related("owner", "store")).order_by(
        "dismissed_at", "-member_count", "id"
    )
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(owner__name__icontains=q))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "contacts/group_list.html", {"page": page, "q": q, "query": f"q={q}" if q else ""})


@console_view(ALL_ROLES)
def group_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    group = get_object_or_404(actor.scope(CustomerGroup.objects.select_related("owner", "store")), pk=pk)
    members = (
        actor.scope(CustomerGroupMember.objects.filter(group=group))
        .select_related("customer")
        .order_by("left_at", "member_type", "-joined_at")
    )
    page = Paginator(members, 50).get_page(request.GET.get("page"))
    return render(request, "contacts/group_detail.html", {"group": group, "page": page})
