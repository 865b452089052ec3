"""The leads list every lead source shares: which ad, form or live room brought whom."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.leads.services import LeadAssignError, lead_store_assign
from channels.models import Lead, LeadSource
from contacts.access import OPERATOR_AND_MANAGER, OPERATOR_ONLY, Actor, AuthenticatedHttpRequest, console_view
from contacts.models import Store

PAGE_SIZE = 30


# ---- leads list ---------------------------------------------------------------------------------


class LeadFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("搜索"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("姓名 / 广告名称 / 广告ID / 计划")}),
    )
    source = forms.ChoiceField(
        label=gettext_lazy("来源"), required=False, choices=[("", gettext_lazy("全部来源")), *LeadSource.choices]
    )
    converted = forms.ChoiceField(
        label=gettext_lazy("是否建档"),
        required=False,
        choices=[
            ("", gettext_lazy("全部")),
            ("yes", gettext_lazy("已建档客户")),
            ("no", gettext_lazy("未建档（无手机号）")),
        ],
    )
    assigned = forms.ChoiceField(
        label=gettext_lazy("门店"),
        required=False,
        choices=[("", gettext_lazy("全部")), ("no", gettext_lazy("未分配门店"))],
    )
    date_from = forms.DateField(
        label=gettext_lazy("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


def leads_filter(actor: Actor, form: LeadFilterForm) -> QuerySet[Lead]:
    qs = actor.scope(Lead.objects.select_related("customer", "form", "store", "account"))
    if not form.is_valid():
        return qs
    data = form.cleaned_data
    if data.get("q"):
        q = data["q"].strip()
        qs = qs.filter(Q(name__icontains=q) | Q(ad_name__icontains=q) | Q(ad_id=q) | Q(campaign_name__icontains=q))
    if data.get("source"):
        qs = qs.filter(source=data["source"])
    if data.get("converted") == "yes":
        qs = qs.filter(customer__isnull=False)
    elif data.get("converted") == "no":
        qs = qs.filter(customer__isnull=True)
    if data.get("assigned") == "no":
        qs = qs.filter(store__isnull=True)
    tz = timezone.get_current_timezone()
    if data.get("date_from"):
        qs = qs.filter(occurred_at__gte=datetime.combine(data["date_from"], time.min, tzinfo=tz))
    if data.get("date_to"):
        qs = qs.filter(occurred_at__lte=datetime.combine(data["date_to"], time.max, tzinfo=tz))
    return qs


@console_view(OPERATOR_AND_MANAGER)
def lead_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The leads list; a POST (operators) assigns the ticked leads without a store to one store."""
    actor = request.actor_obj
    if request.method == "POST":
        actor.require_role(OPERATOR_ONLY)
        try:
            n = lead_store_assign(
                actor=actor, lead_ids=_posted_ids(request.POST.getlist("lead")), store_id=_posted_store(request)
            )
        except LeadAssignError as exc:
            context = _list_context(request, actor)
            context["assign_error"] = {"field": exc.field, "message": str(exc)}
            return render(request, "channels/leads/lead_list.html", context, status=400)
        messages.success(request, _("已把 %(n)s 条线索分配到门店") % {"n": n})
        return redirect(request.get_full_path())
    return render(request, "channels/leads/lead_list.html", _list_context(request, actor))


def _posted_ids(values: list[str]) -> list[int]:
    if not values or not all(v.strip().isdigit() and len(v.strip()) < 19 for v in values):
        raise LeadAssignError(_("请至少勾选一条线索"), field="lead")
    return [int(v) for v in values]


def _posted_store(request: AuthenticatedHttpRequest) -> int:
    raw = request.POST.get("store", "").strip()
    if not raw.isdigit() or len(raw) > 18:
        raise LeadAssignError(_("请选择门店"), field="store")
    return int(raw)


def _list_context(request: AuthenticatedHttpRequest, actor: Actor) -> dict[str, Any]:
    form = LeadFilterForm(request.GET or None)
    qs = leads_filter(actor, form).order_by("-occurred_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    by_ad = (
        leads_filter(actor, form)
        .exclude(ad_id="")
        .values("ad_id", "ad_name", "campaign_name")
        .annotate(n=Count("id"), customers=Count("customer"))
        .order_by("-n")[:8]
    )
    query = urlencode({k: v for k, v in request.GET.items() if k != "page" and v})
    # Operators give leads without a store to one (the home page's to-do links here with ?assigned=no).
    assignable = actor.is_operator and any(lead.store_id is None for lead in page.object_list)
    return {
        "form": form,
        "page": page,
        "rows": page.object_list,
        "query": query,
        "by_ad": list(by_ad),
        "assign_stores": list(actor.scope(Store.objects.filter(is_active=True)).order_by("code")) if assignable else [],
    }
