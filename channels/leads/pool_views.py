"""Console pages of the lead pool (公海): the pool list with its figures and the managers' hand
assignment, the assignment rules, and the one-tap phone copy (logged)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from channels.leads.pool import LeadPoolError, RuleInput, lead_pool_assign, lead_pool_phone_reveal, lead_pool_rule_save
from channels.leads.pool_selectors import PoolFilterForm, assignable_staff, pool_entries, pool_figures, pool_rules
from channels.models import LeadPoolRule, PoolMemberRole, PoolStatus
from contacts.access import ALL_ROLES, OPERATOR_AND_MANAGER, Actor, AuthenticatedHttpRequest, console_view
from contacts.models import Staff, Store

PAGE_SIZE = 30
WEEKDAYS = [
    (1, gettext_lazy("周一")),
    (2, gettext_lazy("周二")),
    (3, gettext_lazy("周三")),
    (4, gettext_lazy("周四")),
    (5, gettext_lazy("周五")),
    (6, gettext_lazy("周六")),
    (7, gettext_lazy("周日")),
]


def _posted_ids(values: list[str]) -> list[int]:
    if not values or not all(v.strip().isdigit() and len(v.strip()) < 19 for v in values):
        raise LeadPoolError(_("请至少勾选一条线索"), field="entry_ids")
    return [int(v) for v in values]


def _posted_staff(raw: str) -> int:
    raw = raw.strip()
    if not raw.isdigit() or len(raw) > 18:
        raise LeadPoolError(_("请选择成员"), field="staff_id")
    return int(raw)


@console_view(ALL_ROLES)
def pool_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The pool: waiting / assigned / converted / returned, filtered and paginated, with the figures per
    member and per source. A POST (managers, operators) assigns or reassigns the ticked people."""
    actor = request.actor_obj
    if request.method == "POST":
        actor.require_role(OPERATOR_AND_MANAGER)
        try:
            done = lead_pool_assign(
                actor=actor,
                entry_ids=_posted_ids(request.POST.getlist("entry")),
                staff_id=_posted_staff(request.POST.get("staff", "")),
            )
        except LeadPoolError as exc:
            context = _pool_context(request, actor)
            context["assign_error"] = {"field": exc.field, "message": str(exc)}
            return render(request, "channels/leads/pool_list.html", context, status=400)
        messages.success(request, _("已分配 %(n)s 条线索，成员会收到待办和应用消息") % {"n": len(done)})
        return redirect(request.get_full_path())
    return render(request, "channels/leads/pool_list.html", _pool_context(request, actor))


def _pool_context(request: AuthenticatedHttpRequest, actor: Actor) -> dict[str, Any]:
    form = PoolFilterForm(request.GET or None, actor=actor)
    page = Paginator(pool_entries(actor, form), PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    tabs = [("", _("全部")), *PoolStatus.choices]
    current = request.GET.get("status", "")
    base = {k: v for k, v in request.GET.items() if k not in ("page", "status") and v}
    return {
        "form": form,
        "page": page,
        "rows": page.object_list,
        "query": query,
        "tabs": [
            {
                "label": label,
                "url": "?" + urlencode({**base, **({"status": value} if value else {})}),
                "on": value == current,
            }
            for value, label in tabs
        ],
        "figures": pool_figures(actor, form),
        "can_assign": actor.role in OPERATOR_AND_MANAGER,
        "assign_staff": list(assignable_staff(actor)) if actor.role in OPERATOR_AND_MANAGER else [],
    }


@require_POST
@console_view(ALL_ROLES)
def pool_phone(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The one-tap copy: the full number as JSON, written to the audit log."""
    try:
        phone = lead_pool_phone_reveal(actor=request.actor_obj, entry_id=pk)
    except LeadPoolError as exc:
        return JsonResponse({"detail": str(exc), "field": exc.field}, status=404)
    return JsonResponse({"phone": phone})


# ---- rules ----------------------------------------------------------------------------------------


class RuleForm(forms.Form):
    store = forms.ModelChoiceField(
        label=gettext_lazy("门店"),
        required=False,
        queryset=Store.objects.none(),
        empty_label=gettext_lazy("品牌默认（未分配门店的线索和没有规则的门店）"),
    )
    is_active = forms.BooleanField(label=gettext_lazy("启用"), required=False, initial=True)
    members = forms.ModelMultipleChoiceField(
        label=gettext_lazy("分配成员（按顺序轮流）"), queryset=Staff.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    backups = forms.ModelMultipleChoiceField(
        label=gettext_lazy("备用成员（成员满额、停用或离职时接手）"),
        required=False,
        queryset=Staff.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    daily_cap = forms.IntegerField(label=gettext_lazy("每人每日上限"), min_value=1, max_value=500, initial=20)
    work_start = forms.TimeField(
        label=gettext_lazy("上班时间（北京时间）"), initial=dt.time(9), widget=forms.TimeInput(attrs={"type": "time"})
    )
    work_end = forms.TimeField(
        label=gettext_lazy("下班时间（北京时间）"), initial=dt.time(21), widget=forms.TimeInput(attrs={"type": "time"})
    )
    work_days = forms.TypedMultipleChoiceField(
        label=gettext_lazy("工作日"),
        choices=WEEKDAYS,
        coerce=int,
        initial=[1, 2, 3, 4, 5, 6, 7],
        widget=forms.CheckboxSelectMultiple,
    )
    return_days = forms.IntegerField(label=gettext_lazy("几天未添加退回公海"), min_value=1, max_value=60, initial=3)
    import_enters_pool = forms.BooleanField(
        label=gettext_lazy("导入的客户进入公海（有手机号、还不是好友）"), required=False, initial=False
    )

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = actor.scope(Store.objects.filter(is_active=True)).order_by("code")  # type: ignore[attr-defined]
        if not actor.is_operator:
            self.fields["store"].required = True
        staff = assignable_staff(actor)
        self.fields["members"].queryset = staff  # type: ignore[attr-defined]
        self.fields["backups"].queryset = staff  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("work_start") and data.get("work_end") and data["work_start"] >= data["work_end"]:
            self.add_error("work_end", _("下班时间必须晚于上班时间"))
        if set(data.get("members") or []) & set(data.get("backups") or []):
            self.add_error("backups", _("同一成员不能既是分配成员又是备用成员"))
        return data

    def to_input(self) -> RuleInput:
        data = self.cleaned_data
        return RuleInput(
            store_id=data["store"].pk if data.get("store") else None,
            is_active=bool(data.get("is_active")),
            daily_cap=data["daily_cap"],
            work_start=data["work_start"],
            work_end=data["work_end"],
            work_days=list(data["work_days"]),
            return_days=data["return_days"],
            member_ids=[s.pk for s in data["members"]],
            backup_ids=[s.pk for s in data.get("backups") or []],
            import_enters_pool=bool(data.get("import_enters_pool")),
        )


def _initial(rule: LeadPoolRule) -> dict[str, Any]:
    members = list(rule.members.all())
    return {
        "store": rule.store_id,
        "is_active": rule.is_active,
        "members": [m.staff_id for m in members if m.role == PoolMemberRole.MEMBER],
        "backups": [m.staff_id for m in members if m.role == PoolMemberRole.BACKUP],
        "daily_cap": rule.daily_cap,
        "work_start": rule.work_start,
        "work_end": rule.work_end,
        "work_days": rule.work_days or [1, 2, 3, 4, 5, 6, 7],
        "return_days": rule.return_days,
        "import_enters_pool": rule.import_enters_pool,
    }


@console_view(OPERATOR_AND_MANAGER)
def pool_rule_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "channels/leads/pool_rules.html", {"rules": list(pool_rules(request.actor_obj))})


@console_view(OPERATOR_AND_MANAGER)
def pool_rule_edit(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """Create or edit one rule; a refusal re-shows the form with the field that is wrong."""
    actor = request.actor_obj
    rule = None
    if pk is not None:
        rule = pool_rules(actor).filter(pk=pk).first()
        if rule is None:
            messages.error(request, _("规则不存在或不在你的范围内"))
            return redirect("channels:lead_pool_rules")
    if request.method == "POST":
        form = RuleForm(request.POST, actor=actor)
        if form.is_valid():
            try:
                lead_pool_rule_save(actor=actor, data=form.to_input(), rule_id=rule.pk if rule else None)
            except LeadPoolError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, _("分配规则已保存，下一分钟起按新规则分配"))
                return redirect("channels:lead_pool_rules")
        status = 400
    else:
        form = RuleForm(initial=_initial(rule) if rule else None, actor=actor)
        status = 200
    return render(request, "channels/leads/pool_rule_form.html", {"form": form, "rule": rule}, status=status)
