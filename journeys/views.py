"""Console pages: the journey list, the builder / journey page, and the staff to-do lists (console and
sidebar). Thin: parse, call one service or selector, render. A refused change answers 400 with the
reason, naming the field, and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
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
from contacts.models import CustomField, CustomFieldKind, Identity, Lifecycle, Platform, Segment, Staff, Tag
from journeys import selectors, services
from journeys.models import (
    ConditionKind,
    EntryRule,
    Journey,
    JourneyStatus,
    JourneyStep,
    StepKind,
    TriggerKind,
    Weekday,
)
from journeys.services import JourneyError, StepSpec
from offers.models import CouponTemplate
from todos import selectors as todo_selectors
from todos.models import Todo, TodoKind, TodoStatus
from todos.services import TodoError, todo_complete

PAGE_SIZE = 20


def _int(value: Any, field: str, label: str, *, default: int | None = 0) -> int | None:
    text = str(value if value is not None else "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise JourneyError(_("%(label)s须为整数") % {"label": label}, field) from None


def _time(value: Any) -> dt.time | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise JourneyError(_("时刻格式应为 时:分，如 10:00"), "at_time") from None


def _journey(actor: Actor, pk: int) -> Journey:
    journey = selectors.journey_for_actor(actor, pk)
    if journey is None:
        from django.http import Http404

        raise Http404(_("旅程不存在或不在你的范围内"))
    return journey


def _step(actor: Actor, pk: int) -> JourneyStep:
    return get_object_or_404(
        JourneyStep.objects.select_related("journey"), pk=pk, journey__organization_id=actor.organization_id
    )


def _refused(request: AuthenticatedHttpRequest, journey: Journey, exc: JourneyError) -> HttpResponse:
    """Re-render the journey page with the reason (400): the form's field is named in the message."""
    return _detail(request, journey, error=str(exc), error_field=exc.field, status=400)


# --- journeys -------------------------------------------------------------------------------------


@console_view(OPERATOR_AND_MANAGER)
def journey_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    status = request.GET.get("status", "")
    if status not in JourneyStatus.values:
        status = ""
    q = (request.GET.get("q") or "").strip()[:100]
    page = Paginator(selectors.journeys_for_actor(actor, status=status, q=q), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = "&".join(f"{k}={v}" for k, v in (("status", status), ("q", q)) if v)
    return render(
        request,
        "journeys/journey_list.html",
        {
            "page": page,
            "query": query,
            "f": {"status": status, "q": q},
            "statuses": JourneyStatus.choices,
            "templates": services.templates(),
            "triggers": TriggerKind.choices,
            "can_edit": actor.is_operator,
        },
    )


@console_view(OPERATOR_ONLY)
@require_POST
def journey_create(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    actor = request.actor_obj
    try:
        if request.POST.get("template"):
            journey = services.journey_from_template(
                actor=actor,
                key=request.POST["template"],
                name=(request.POST.get("name") or "").strip(),
                trigger_state=(request.POST.get("trigger_state") or "").strip(),
            )
        else:
            journey = services.journey_create(
                actor=actor,
                name=request.POST.get("name", ""),
                trigger=request.POST.get("trigger", ""),
            )
    except JourneyError as exc:
        messages.error(request, str(exc))
        response = journey_list(request)
        response.status_code = 400
        return response
    messages.success(request, _("已创建旅程“%(name)s”，请检查每一步后启用") % {"name": journey.name})
    return redirect("journeys:journey_detail", journey.pk)


def _detail(
    request: AuthenticatedHttpRequest,
    journey: Journey,
    *,
    error: str = "",
    error_field: str = "",
    status: int = 200,
) -> HttpResponse:
    actor = request.actor_obj
    figures = selectors.journey_figures(actor, journey)
    return render(
        request,
        "journeys/journey_detail.html",
        {
            "journey": journey,
            "figures": figures,
            "error": error,
            "error_field": error_field,
            "can_edit": actor.is_operator and journey.status != JourneyStatus.ARCHIVED,
            "step_kinds": StepKind.choices,
            "conditions": ConditionKind.choices,
            "triggers": TriggerKind.choices,
            "entry_rules": EntryRule.choices,
            "tags": Tag.objects.filter(organization_id=actor.organization_id).order_by("group__order", "order", "pk"),
            "segments": actor.scope(Segment.objects.all()).order_by("name"),
            "staff": actor.scope(Staff.objects.filter(is_active=True)).order_by("name"),
            "statuses": JourneyStatus,
            "weekdays": Weekday.choices,
            "lifecycles": Lifecycle.choices,
            "date_fields": CustomField.objects.filter(
                organization_id=actor.organization_id, kind=CustomFieldKind.DATE
            ).order_by("order", "pk"),
            "coupons": CouponTemplate.objects.filter(organization_id=actor.organization_id, is_active=True).order_by(
                "-pk"
            ),
        },
        status=status,
    )


@console_view(OPERATOR_AND_MANAGER)
def journey_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    journey = _journey(actor, pk)
    if request.method == "POST":
        actor.require_role(OPERATOR_ONLY)
        try:
            services.journey_update(
                actor=actor,
                journey=journey,
                name=request.POST.get("name", ""),
                trigger=request.POST.get("trigger", ""),
                trigger_state=request.POST.get("trigger_state", ""),
                trigger_tag_id=_int(request.POST.get("trigger_tag"), "trigger_tag", _("触发标签"), default=None),
                trigger_days=_int(request.POST.get("trigger_days"), "trigger_days", _("天数")) or 0,
                trigger_segment_id=_int(
                    request.POST.get("trigger_segment"), "trigger_segment", _("分群"), default=None
                ),
                trigger_field_id=_int(request.POST.get("trigger_field"), "trigger_field", _("日期字段"), default=None),
                trigger_lifecycle=request.POST.get("trigger_lifecycle", ""),
                entry_rule=request.POST.get("entry_rule", ""),
                entry_days=_int(request.POST.get("entry_days"), "entry_days", _("再次进入间隔")) or 30,
                exit_on_order=bool(request.POST.get("exit_on_order")),
                exit_on_opt_out=bool(request.POST.get("exit_on_opt_out")),
                goal_days=_int(request.POST.get("goal_days"), "goal_days", _("目标天数")) or 0,
                holdout_percent=_int(request.POST.get("holdout_percent"), "holdout_percent", _("对照组比例")) or 0,
            )
        except JourneyError as exc:
            return _refused(request, journey, exc)
        messages.success(request, _("旅程设置已保存"))
        return redirect("journeys:journey_detail", journey.pk)
    return _detail(request, journey)


@console_view(OPERATOR_ONLY)
@require_POST
def journey_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    journey = _journey(actor, pk)
    try:
        services.journey_set_status(actor=actor, journey=journey, status=request.POST.get("status", ""))
    except JourneyError as exc:
        return _refused(request, journey, exc)
    journey.refresh_from_db()
    messages.success(request, _("旅程状态：%(s)s") % {"s": journey.get_status_display()})
    return redirect("journeys:journey_detail", journey.pk)


def _step_spec(post: Any) -> StepSpec:
    return StepSpec(
        kind=post.get("kind", ""),
        days=_int(post.get("days"), "days", _("天数")) or 0,
        hours=_int(post.get("hours"), "hours", _("小时数")) or 0,
        at_time=_time(post.get("at_time")),
        condition=post.get("condition", ""),
        no_goto=_int(post.get("no_goto"), "no_goto", _("否则跳到第几步"), default=None),
        tag_id=_int(post.get("tag"), "tag", _("标签"), default=None),
        text=post.get("text", ""),
        notify_staff_id=_int(post.get("notify_staff"), "notify_staff", _("通知员工"), default=None),
        weekday=_int(post.get("weekday"), "weekday", _("星期几"), default=None),
        segment_id=_int(post.get("segment"), "segment", _("分群"), default=None),
        coupon_template_id=_int(post.get("coupon_template"), "coupon_template", _("优惠券"), default=None),
        lifecycle=post.get("lifecycle", ""),
    )


@console_view(OPERATOR_ONLY)
@require_POST
def step_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    journey = _journey(actor, pk)
    try:
        position = _int(request.POST.get("position"), "position", _("序号"), default=None)
        services.step_add(actor=actor, journey=journey, spec=_step_spec(request.POST), position=position)
    except JourneyError as exc:
        return _refused(request, journey, exc)
    messages.success(request, _("已添加步骤"))
    return redirect("journeys:journey_detail", journey.pk)


@console_view(OPERATOR_ONLY)
@require_POST
def step_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    step = _step(actor, pk)
    action = request.POST.get("action", "save")
    try:
        if action == "delete":
            services.step_delete(actor=actor, step=step)
            messages.success(request, _("已删除步骤"))
        elif action in ("up", "down"):
            services.step_move(actor=actor, step=step, by=-1 if action == "up" else 1)
        else:
            services.step_update(actor=actor, step=step, spec=_step_spec(request.POST))
            messages.success(request, _("第 %(n)s 步已保存") % {"n": step.position})
    except JourneyError as exc:
        return _refused(request, step.journey, exc)
    return redirect("journeys:journey_detail", step.journey_id)


@console_view(OPERATOR_AND_MANAGER)
@require_POST
def journey_enrol(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    journey = _journey(actor, pk)
    try:
        raw = (request.POST.get("customer_ids") or "").replace(",", "\n").split()
        ids: list[int] = []
        for item in raw:
            if not item.isdigit():
                raise JourneyError(_("客户编号须为数字（每行一个）：%(v)s") % {"v": item[:20]}, "customer_ids")
            ids.append(int(item))
        segment_id = _int(request.POST.get("segment"), "segment", _("分群"), default=None)
        n = services.journey_enrol_manual(actor=actor, journey=journey, segment_id=segment_id, customer_ids=ids)
    except JourneyError as exc:
        return _refused(request, journey, exc)
    messages.success(request, _("已加入 %(n)s 位客户（已在旅程中或不符合进入规则的不会重复加入）") % {"n": n})
    return redirect("journeys:journey_detail", journey.pk)


# --- to-dos ---------------------------------------------------------------------------------------


def _todo_rows(todos: list[Todo]) -> list[dict[str, Any]]:
    """Each to-do with what the page needs: overdue, and the customer's WeCom id for the JS-SDK send."""
    now = timezone.now()
    customer_ids = [t.customer_id for t in todos if t.customer_id]
    external = dict(
        Identity.objects.filter(customer_id__in=customer_ids, platform=Platform.WECOM).values_list(
            "customer_id", "external_id"
        )
    )
    return [
        {
            "todo": t,
            "overdue": t.status == TodoStatus.OPEN and t.due_at < now,
            "external_userid": external.get(t.customer_id or 0, ""),
            "sendable": t.is_sendable,
        }
        for t in todos
    ]


@console_view(ALL_ROLES)
def todo_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The console's to-do list: one list per member, by due time (store staff: their own)."""
    actor = request.actor_obj
    status = request.GET.get("status", TodoStatus.OPEN)
    if status not in TodoStatus.values and status != "all":
        status = TodoStatus.OPEN
    kind = request.GET.get("kind", "")
    todos = todo_selectors.todos_for_actor(actor, status=None if status == "all" else TodoStatus(status))
    if kind in TodoKind.values:
        todos = todos.filter(kind=kind)
    assignee = request.GET.get("assignee", "")
    members = []
    if not actor.is_store_staff:
        members = list(actor.scope(Staff.objects.filter(is_active=True)).order_by("name"))
        if assignee.isdigit():
            todos = todos.filter(assignee_id=int(assignee))
    else:
        assignee = ""
    if request.GET.get("overdue"):
        todos = todos.filter(status=TodoStatus.OPEN, due_at__lt=timezone.now())
    page = Paginator(todos, PAGE_SIZE).get_page(request.GET.get("page"))
    query = "&".join(
        f"{k}={v}"
        for k, v in (
            ("status", status),
            ("kind", kind),
            ("assignee", assignee),
            ("overdue", request.GET.get("overdue", "")),
        )
        if v
    )
    return render(
        request,
        "journeys/todo_list.html",
        {
            "page": page,
            "rows": _todo_rows(list(page.object_list)),
            "query": query,
            "f": {"status": status, "kind": kind, "assignee": assignee, "overdue": request.GET.get("overdue", "")},
            "statuses": [*TodoStatus.choices, ("all", _("全部"))],
            "kinds": TodoKind.choices,
            "members": members,
            "counts": todo_selectors.todo_counts(actor),
        },
    )


@console_view(ALL_ROLES)
def sidebar_todos(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The sidebar's to-do list (390 px): the member's own open to-dos by due time, with 发送 and 完成."""
    actor = request.actor_obj
    todos = todo_selectors.todos_for_actor(actor, mine=True)
    page = Paginator(todos, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "journeys/sidebar_todos.html",
        {"page": page, "rows": _todo_rows(list(page.object_list)), "counts": todo_selectors.todo_counts(actor)},
    )


@console_view(ALL_ROLES)
@require_POST
def todo_done(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    actor = request.actor_obj
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        todo = todo_complete(actor=actor, todo_id=pk)
    except TodoError as exc:
        if wants_json:
            return JsonResponse({"error": str(exc)}, status=400)
        messages.error(request, str(exc))
        return redirect("journeys:todo_list")
    if wants_json:
        return JsonResponse({"id": todo.pk, "status": todo.status})
    messages.success(request, _("已完成：%(t)s") % {"t": todo.title})
    nxt = request.POST.get("next", "")
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt)
    return redirect(reverse("journeys:todo_list"))
