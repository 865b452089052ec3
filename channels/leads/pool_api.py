"""REST API of the lead pool (公海), mounted by ``channels.api_urls``: the pool list (the page's filters
and scope) and the managers' assignment (the page's service)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _l
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from channels.api import ChannelsAPIView, RefSerializer
from channels.leads.pool import LeadPoolError, lead_pool_assign
from channels.leads.pool_selectors import PoolFilterForm, pool_entries
from channels.models import LeadPoolEntry, PoolSource, PoolStatus
from contacts.access import ALL_ROLES, OPERATOR_AND_MANAGER
from contacts.serializers import INT4_MAX

extend_schema_field_ref = extend_schema_field(RefSerializer(allow_null=True))


class PoolEntrySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    source_label = serializers.CharField(source="get_source_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    phone = serializers.CharField(source="customer.phone_mask", read_only=True, help_text="脱敏手机号")
    store = serializers.SerializerMethodField()
    assignee = serializers.SerializerMethodField()

    class Meta:
        model = LeadPoolEntry
        fields = [
            "id",
            "customer",
            "lead",
            "source",
            "source_label",
            "status",
            "status_label",
            "phone",
            "store",
            "assignee",
            "entered_at",
            "assigned_at",
            "returns",
            "converted_at",
        ]
        read_only_fields = fields

    @staticmethod
    def _ref(obj: Any) -> dict[str, Any] | None:
        return {"id": obj.pk, "name": str(obj.name)} if obj is not None else None

    @extend_schema_field_ref
    def get_store(self, obj: LeadPoolEntry) -> dict[str, Any] | None:
        return self._ref(obj.store)

    @extend_schema_field_ref
    def get_assignee(self, obj: LeadPoolEntry) -> dict[str, Any] | None:
        return self._ref(obj.assignee)


class PoolFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    # Parsed here for the schema and the 400s; applied by the pool page's own selector (pool_entries).
    status = django_filters.ChoiceFilter(choices=PoolStatus.choices, method="keep", label=_l("状态"))
    source = django_filters.ChoiceFilter(choices=PoolSource.choices, method="keep", label=_l("来源"))
    store = django_filters.NumberFilter(method="keep", label=_l("门店 ID"), min_value=1, max_value=INT4_MAX)
    staff = django_filters.NumberFilter(method="keep", label=_l("成员 ID"), min_value=1, max_value=INT4_MAX)
    date_from = django_filters.DateFilter(method="keep", label=_l("入池开始日期（北京时间，含）"))
    date_to = django_filters.DateFilter(method="keep", label=_l("入池结束日期（北京时间，含）"))

    class Meta:
        model = LeadPoolEntry
        fields: list[str] = []

    def keep(self, queryset: QuerySet[LeadPoolEntry], name: str, value: Any) -> QuerySet[LeadPoolEntry]:
        return queryset  # every filter is applied together in filter_queryset

    def filter_queryset(self, queryset: QuerySet[LeadPoolEntry]) -> QuerySet[LeadPoolEntry]:
        data = self.form.cleaned_data
        actor = self.request.actor_obj
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError({"date_to": [_l("结束日期不能早于开始日期")]})
        form = PoolFilterForm(
            {k: ("" if data.get(k) is None else (int(data[k]) if k in ("store", "staff") else data[k])) for k in data},
            actor=actor,
        )
        if not form.is_valid():  # a store or member outside the caller's scope: an empty list
            return queryset.none()
        return pool_entries(actor, form)


class PoolListView(ChannelsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES  # the pool page's roles; store staff see the people assigned to them
    serializer_class = PoolEntrySerializer
    filterset_class = PoolFilterSet

    def scoped_queryset(self) -> QuerySet[LeadPoolEntry]:
        return self.actor.scope(LeadPoolEntry.objects.select_related("store", "assignee", "customer")).order_by(
            "-entered_at", "-pk"
        )

    @extend_schema(summary="线索公海列表（筛选：状态、来源、门店、成员、入池日期）")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class PoolAssignInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    entry_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=INT4_MAX), min_length=1, max_length=200
    )
    staff_id = serializers.IntegerField(min_value=1, max_value=INT4_MAX)


class PoolAssignedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    assigned = serializers.IntegerField(help_text="新建的分配数（已分给该成员的不重复分配）")


class PoolAssignView(ChannelsAPIView):
    allowed_roles = OPERATOR_AND_MANAGER

    @extend_schema(
        request=PoolAssignInputSerializer,
        responses=PoolAssignedSerializer,
        summary="手动分配或改派公海线索（仅限自己门店范围内的线索和成员）",
    )
    def post(self, request: Request) -> Response:
        data = PoolAssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            done = lead_pool_assign(
                actor=self.actor, entry_ids=data.validated_data["entry_ids"], staff_id=data.validated_data["staff_id"]
            )
        except LeadPoolError as exc:
            raise ValidationError({exc.field: [str(exc)]}) from exc
        return Response({"assigned": len(done)})
