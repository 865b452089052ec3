"""The lead pool (公海): reads for the pool page and the API, scoped to the actor.

Operators read the brand, managers their stores, store staff only the people assigned to them now and
those they added. The figures (assigned, converted, conversion rate, median time-to-add) are read from the
assignments, per member and per source, with the page's filters.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django import forms
from django.db.models import Aggregate, Count, FloatField, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from channels.models import AssignmentStatus, LeadAssignment, LeadPoolEntry, LeadPoolRule, PoolSource, PoolStatus
from contacts.access import Actor
from contacts.models import Role, Staff, Store


class Median(Aggregate):
    function = "percentile_cont"
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


class PoolFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("状态"), required=False, choices=[("", gettext_lazy("全部状态")), *PoolStatus.choices]
    )
    source = forms.ChoiceField(
        label=gettext_lazy("来源"), required=False, choices=[("", gettext_lazy("全部来源")), *PoolSource.choices]
    )
    store = forms.ModelChoiceField(
        label=gettext_lazy("门店"), required=False, queryset=Store.objects.none(), empty_label=gettext_lazy("全部门店")
    )
    staff = forms.ModelChoiceField(
        label=gettext_lazy("成员"), required=False, queryset=Staff.objects.none(), empty_label=gettext_lazy("全部成员")
    )
    date_from = forms.DateField(
        label=gettext_lazy("入池开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("入池结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = actor.scope(Store.objects.filter(is_active=True)).order_by("code")  # type: ignore[attr-defined]
        self.fields["staff"].queryset = actor.scope(Staff.objects.all()).order_by("name", "pk")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", gettext_lazy("结束日期不能早于开始日期"))
        return data


def _day_bounds(data: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(data["date_from"], time.min, tzinfo=tz) if data.get("date_from") else None
    end = datetime.combine(data["date_to"], time.max, tzinfo=tz) if data.get("date_to") else None
    return start, end


def pool_entries(actor: Actor, form: PoolFilterForm) -> QuerySet[LeadPoolEntry]:
    """The pool list: the actor's scope, the form's filters (an invalid form filters nothing more)."""
    qs = actor.scope(LeadPoolEntry.objects.select_related("customer", "store", "assignee", "converted_by"))
    if actor.role == Role.STORE_STAFF:  # the people they hold now, and those they added
        qs = qs.filter(Q(assignee=actor.staff) | Q(status=PoolStatus.CONVERTED, converted_by=actor.staff))
    if not form.is_valid():
        return qs.order_by("-entered_at", "-pk")
    data = form.cleaned_data
    if data.get("status"):
        qs = qs.filter(status=data["status"])
    if data.get("source"):
        qs = qs.filter(source=data["source"])
    if data.get("store"):
        qs = qs.filter(store=data["store"])
    if data.get("staff"):
        staff = data["staff"]
        qs = qs.filter(Q(assignee=staff) | Q(converted_by=staff) | Q(previous_assignee=staff))
    start, end = _day_bounds(data)
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lte=end)
    return qs.order_by("-entered_at", "-pk")


def _assignments(actor: Actor, form: PoolFilterForm) -> QuerySet[LeadAssignment]:
    qs = actor.scope(LeadAssignment.objects.all())
    if actor.role == Role.STORE_STAFF:
        qs = qs.filter(staff=actor.staff)
    if not form.is_valid():
        return qs
    data = form.cleaned_data
    if data.get("source"):
        qs = qs.filter(source=data["source"])
    if data.get("store"):
        qs = qs.filter(store=data["store"])
    if data.get("staff"):
        qs = qs.filter(staff=data["staff"])
    start, end = _day_bounds(data)
    if start:
        qs = qs.filter(assigned_at__gte=start)
    if end:
        qs = qs.filter(assigned_at__lte=end)
    return qs


def _figures(qs: QuerySet[LeadAssignment], key: str) -> list[dict[str, Any]]:
    converted = Q(status=AssignmentStatus.CONVERTED)
    rows = (
        qs.values(key)
        .annotate(
            assigned=Count("pk"),
            converted=Count("pk", filter=converted),
            median_seconds=Median("seconds_to_add", filter=converted),
        )
        .order_by("-assigned", key)
    )
    out = []
    for row in rows:
        row["rate"] = round(100 * row["converted"] / row["assigned"], 1) if row["assigned"] else 0.0
        seconds = row["median_seconds"]
        row["median_hours"] = round(seconds / 3600, 1) if seconds is not None else None
        out.append(row)
    return out


def pool_figures(actor: Actor, form: PoolFilterForm) -> dict[str, list[dict[str, Any]]]:
    """Per member and per source: assigned, converted, conversion rate (%), median time-to-add (hours)."""
    qs = _assignments(actor, form)
    by_member = _figures(qs, "staff")
    names = dict(Staff.objects.filter(pk__in=[r["staff"] for r in by_member]).values_list("pk", "name"))
    for row in by_member:
        row["name"] = names.get(row["staff"], "")
    by_source = _figures(qs, "source")
    labels = dict(PoolSource.choices)
    for row in by_source:
        row["label"] = labels.get(row["source"], row["source"])
    return {"by_member": by_member, "by_source": by_source}


def pool_rules(actor: Actor) -> QuerySet[LeadPoolRule]:
    """The rules the actor may see (managers: their stores'; the brand default only for operators)."""
    return (
        actor.scope(LeadPoolRule.objects.select_related("store"))
        .prefetch_related("members__staff")
        .order_by("store__code", "pk")
    )


def assignable_staff(actor: Actor) -> QuerySet[Staff]:
    """Members a manager may hand leads to: in post, with a WeCom account, in the actor's stores."""
    return (
        actor.scope(Staff.objects.filter(is_active=True, departed_at__isnull=True))
        .exclude(wecom_userid="")
        .order_by("name", "pk")
    )
