"""Console pages of group SOP (营销 › 群SOP): the list, the builder / SOP page with per-step delivery, and
start / pause / resume / archive. Thin: parse, call one service or selector, render. A refused change
answers 400 with the reason and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from channels.models import MaterialKind
from channels.selectors import materials_for
from contacts.access import OPERATOR_AND_MANAGER, AuthenticatedHttpRequest, console_view
from contacts.models import CustomerGroup, Staff, Store
from journeys import group_selectors as selectors
from journeys import group_sop as services
from journeys.group_models import (
    GroupSop,
    GroupSopDelivery,
    GroupSopSchedule,
    GroupSopStatus,
    GroupSopTarget,
)
from journeys.group_sop import GroupSopError, GroupStepSpec

PAGE_SIZE = 20
WEEKDAYS = [
    (1, gettext_lazy("周一")),
    (2, gettext_lazy("周二")),
    (3, gettext_lazy("周三")),
    (4, gettext_lazy("周四")),
    (5, gettext_lazy("周五")),
    (6, gettext_lazy("周六")),
    (7, gettext_lazy("周日")),
]
BLANK_ROWS = 2


def _sop(request: AuthenticatedHttpRequest, pk: int) -> GroupSop:
    sop = selectors.group_sop_for_actor(request.actor_obj, pk)
    if sop is None:
        raise Http404(_("群SOP不存在或不在你的范围内"))
    return sop


def _int_or_none(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if str(v).strip().isdigit()]


def _choices(request: AuthenticatedHttpRequest) -> dict[str, Any]:
    actor = request.actor_obj
    return {
        "statuses": GroupSopStatus.choices,
        "deliveries": GroupSopDelivery.choices,
        "targets": GroupSopTarget.choices,
        "schedules": GroupSopSchedule.choices,
        "weekdays": WEEKDAYS,
        "stores": actor.scope(Store.objects.all()).order_by("code", "pk"),
        "owners": actor.scope(Staff.objects.filter(is_active=True)).order_by("name", "pk"),
        "groups": actor.scope(CustomerGroup.objects.filter(dismissed_at__isnull=True)).order_by("name", "pk")[:500],
        "images": materials_for(actor).filter(kind=MaterialKind.IMAGE).order_by("-pk")[:200],
    }


@console_view(OPERATOR_AND_MANAGER)
def group_sop_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    status = request.GET.get("status", "")
    if status not in GroupSopStatus.values:
        status = ""
    owner = _int_or_none(request.GET.get("owner"))
    store = _int_or_none(request.GET.get("store"))
    page = Paginator(
        selectors.group_sops_for_actor(actor, status=status, owner_id=owner, store_id=store), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    query = "&".join(f"{k}={v}" for k, v in (("status", status), ("owner", owner), ("store", store)) if v)
    return render(
        request,
        "journeys/group_sop_list.html",
        {
            "page": page,
            "query": query,
            "f": {"status": status, "owner": owner, "store": store},
            "templates": services.templates(),
            **_choices(request),
        },
    )


@console_view(OPERATOR_AND_MANAGER)
@require_POST
def group_sop_create(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    actor = request.actor_obj
    try:
        if request.POST.get("template"):
            sop = services.group_sop_from_template(
                actor=actor, key=request.POST["template"], name=(request.POST.get("name") or "").strip()
            )
        else:
            sop = services.group_sop_create(
                actor=actor,
                name=request.POST.get("name", ""),
                store_id=_int_or_none(request.POST.get("store")) or (min(actor.store_ids) if actor.store_ids else None),
            )
    except GroupSopError as exc:
        messages.error(request, str(exc))
        response = group_sop_list(request)
        response.status_code = 400
        return response
    messages.success(request, _("已创建群SOP“%(name)s”，请选择目标客户群、检查每一步后启用") % {"name": sop.name})
    return redirect("journeys:group_sop_detail", sop.pk)


def _time(value: Any, position: int) -> dt.time:
    try:
        return dt.time.fromisoformat(str(value or "").strip())
    except ValueError:
        raise GroupSopError(_("第 %(i)d 步：时刻格式应为 时:分，如 08:30") % {"i": position}, "at_time") from None


def _steps(post: Any) -> list[GroupStepSpec]:
    """The builder's step rows in order; a row marked for removal or left empty is dropped."""
    specs: list[GroupStepSpec] = []
    rows = sorted({int(k.split("-")[1]) for k in post if k.startswith("step-") and k.split("-")[1].isdigit()})
    for row in rows:

        def get(name: str, row: int = row) -> str:
            return str(post.get(f"step-{row}-{name}", ""))

        if post.get(f"step-{row}-delete") or not (get("schedule") and (get("text").strip() or get("image"))):
            continue
        attachments: list[dict[str, Any]] = []
        if _int_or_none(get("image")):
            attachments.append({"msgtype": "image", "image": {"material_id": int(get("image"))}})
        if get("link_url").strip():
            link = {"title": get("link_title").strip(), "url": get("link_url").strip()}
            attachments.append({"msgtype": "link", "link": link})
        days = _int_or_none(get("days"))
        specs.append(
            GroupStepSpec(
                schedule=get("schedule"),
                at_time=_time(get("at_time"), len(specs) + 1),
                weekdays=tuple(_ids(post.getlist(f"step-{row}-weekdays"))),
                days=days or 0,
                text=get("text"),
                attachments=tuple(attachments),
            )
        )
    return specs


def _detail(
    request: AuthenticatedHttpRequest, sop: GroupSop, *, error: str = "", error_field: str = "", status: int = 200
) -> HttpResponse:
    figures = selectors.group_sop_figures(sop)
    rows = []
    for f in figures.steps:
        s = f.step
        image = next((a["image"]["material_id"] for a in s.attachments if a.get("msgtype") == "image"), None)
        link: dict[str, Any] = next((a["link"] for a in s.attachments if a.get("msgtype") == "link"), {})
        rows.append({"n": s.position, "step": s, "fig": f, "image": image, "link": link})
    blank: list[dict[str, Any]] = [
        {"n": len(rows) + i + 1, "step": None, "fig": None, "image": None, "link": {}} for i in range(BLANK_ROWS)
    ]
    return render(
        request,
        "journeys/group_sop_detail.html",
        {
            "sop": sop,
            "rows": rows,
            "blank_rows": blank,
            "can_edit": sop.status != GroupSopStatus.ARCHIVED,
            "error": error,
            "error_field": error_field,
            **_choices(request),
        },
        status=status,
    )


@console_view(OPERATOR_AND_MANAGER)
def group_sop_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    sop = _sop(request, pk)
    if request.method == "POST":
        target = request.POST.get("target", "")
        try:
            services.group_sop_update(
                actor=actor,
                sop=sop,
                name=request.POST.get("name", ""),
                delivery=request.POST.get("delivery", ""),
                target=target,
                target_ids=_ids(request.POST.getlist(f"target_ids_{target}")),
                store_id=_int_or_none(request.POST.get("store")),
                steps=_steps(request.POST),
            )
        except GroupSopError as exc:
            return _detail(request, sop, error=str(exc), error_field=exc.field, status=400)
        messages.success(request, _("群SOP已保存"))
        return redirect("journeys:group_sop_detail", sop.pk)
    return _detail(request, sop)


@console_view(OPERATOR_AND_MANAGER)
@require_POST
def group_sop_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    sop = _sop(request, pk)
    try:
        sop = services.group_sop_set_status(actor=request.actor_obj, sop=sop, status=request.POST.get("status", ""))
    except GroupSopError as exc:
        return _detail(request, sop, error=str(exc), error_field=exc.field, status=400)
    messages.success(request, _("群SOP状态：%(s)s") % {"s": sop.get_status_display()})
    return redirect("journeys:group_sop_detail", sop.pk)
