"""REST API of the brand's set-up: stores and staff (mounted by ``contacts.api_urls``).

The same doors as the settings pages (``contacts/views/organization.py``): operators only
(``OPERATOR_ONLY``, the role set those pages are decorated with), every look-up through
``actor.scope``, every write through the same ``contacts.services.organization`` service, so it is
audited and refused for the same reasons (a taken store code, one's own role). No password, token or
set-password link ever leaves here.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import selectors, services
from contacts.access import ALL_ROLES, OPERATOR_ONLY, role_of
from contacts.api import ContactsAPIView
from contacts.models import Role, Staff, Store
from contacts.serializers import INT4_MAX, StoreRefSerializer

# --- serializers ---------------------------------------------------------------------------------


class StoreSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    staff_count = serializers.IntegerField(read_only=True, help_text="在职员工数")

    class Meta:
        model = Store
        fields = ["id", "code", "name", "city", "address", "is_active", "staff_count", "created_at"]
        read_only_fields = fields


class StoreInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    # The settings page's StoreForm bounds (contacts/settings_forms.py).
    code = serializers.CharField(max_length=50)
    name = serializers.CharField(max_length=100)
    city = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class StaffSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    store = StoreRefSerializer(allow_null=True, read_only=True)
    managed_store_ids = serializers.SerializerMethodField()
    login = serializers.SerializerMethodField()
    login_active = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()
    role_label = serializers.SerializerMethodField()

    class Meta:
        model = Staff
        fields = [
            "id",
            "name",
            "wecom_userid",
            "store",
            "managed_store_ids",
            "is_active",
            "departed_at",
            "login",
            "login_active",
            "role",
            "role_label",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_managed_store_ids(self, obj: Staff) -> list[int]:
        return sorted(s.pk for s in obj.managed_stores.all())

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="控制台登录账号；未开通为 null"))
    def get_login(self, obj: Staff) -> str | None:
        return obj.user.get_username() if obj.user else None

    @extend_schema_field(serializers.BooleanField())
    def get_login_active(self, obj: Staff) -> bool:
        return bool(obj.user and obj.user.is_active)

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, obj: Staff) -> str | None:
        role = role_of(obj.user) if obj.user else None
        return role.value if role else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_role_label(self, obj: Staff) -> str | None:
        role = role_of(obj.user) if obj.user else None
        return str(role.label) if role else None


class StaffUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    role = serializers.ChoiceField(choices=Role.choices, required=False, help_text="需已开通登录账号；不能改自己的角色")
    store = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=INT4_MAX, help_text="所属门店 ID；null 表示无门店"
    )
    managed_stores = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=INT4_MAX),
        required=False,
        max_length=1000,
        help_text="另外管理的门店 ID（店长）",
    )


STORE_EXAMPLE = {
    "id": 3,
    "code": "SH-JA01",
    "name": "静安嘉里店",
    "city": "上海",
    "address": "南京西路 1515 号 B1",
    "is_active": True,
    "staff_count": 6,
    "created_at": "2026-03-02T10:00:00+08:00",
}
STAFF_EXAMPLE = {
    "id": 17,
    "name": "王敏",
    "wecom_userid": "wangmin",
    "store": {"id": 3, "name": "静安嘉里店"},
    "managed_store_ids": [],
    "is_active": True,
    "departed_at": None,
    "login": "wangmin",
    "login_active": True,
    "role": "store_staff",
    "role_label": "店员/导购",
    "created_at": "2026-03-02T10:05:00+08:00",
}


# --- stores --------------------------------------------------------------------------------------


class StoreFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    q = django_filters.CharFilter(method="apply", label=_l("搜索：名称 / 编码 / 城市"), max_length=100)
    status = django_filters.ChoiceFilter(
        choices=[("open", _l("营业中")), ("closed", _l("已停用"))], method="apply", label=_l("状态")
    )
    code = django_filters.CharFilter(
        field_name="code", lookup_expr="exact", max_length=50, label=_l("门店编码（精确）")
    )

    class Meta:
        model = Store
        fields: list[str] = []

    def apply(self, queryset: QuerySet[Store], name: str, value: Any) -> QuerySet[Store]:
        return selectors.store_filter(queryset, **{name: value})


def _stores(view: ContactsAPIView) -> QuerySet[Store]:
    return view.actor.scope(Store.objects.all()).annotate(
        staff_count=Count("staff", filter=Q(staff__is_active=True), distinct=True)
    )


class StoreListView(ContactsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    # Everyone reads the stores they may see (an integrator maps codes to ids); operators create them.
    allowed_roles = ALL_ROLES
    write_roles = OPERATOR_ONLY
    serializer_class = StoreSerializer
    filterset_class = StoreFilterSet

    def scoped_queryset(self) -> QuerySet[Store]:
        return _stores(self).order_by("code", "id")

    @extend_schema(
        summary="门店列表（按可见范围：运营看全部，店长、店员看自己的门店；可按编码筛选）",
        examples=[OpenApiExample("一家门店", value=STORE_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=StoreInputSerializer,
        responses={201: StoreSerializer},
        summary="新建门店（运营，留痕）",
        examples=[
            OpenApiExample(
                "新门店",
                value={"code": "SH-JA01", "name": "静安嘉里店", "city": "上海", "address": "南京西路 1515 号 B1"},
                request_only=True,
            ),
            OpenApiExample(
                "已创建", value={**STORE_EXAMPLE, "staff_count": 0}, response_only=True, status_codes=["201"]
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = StoreInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        store = services.store_create(organization=self.actor.organization, by=self.actor.staff, **data.validated_data)
        return Response(StoreSerializer(_stores(self).get(pk=store.pk)).data, status=status.HTTP_201_CREATED)


class StoreDetailView(ContactsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_ONLY
    serializer_class = StoreSerializer

    def scoped_queryset(self) -> QuerySet[Store]:
        return _stores(self)

    @extend_schema(
        summary="门店详情（运营）",
        examples=[OpenApiExample("门店", value=STORE_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=StoreInputSerializer(partial=True),
        responses=StoreSerializer,
        summary="修改门店（只改给出的字段，留痕）",
        examples=[
            OpenApiExample("改地址", value={"address": "南京西路 1601 号 2F"}, request_only=True),
            OpenApiExample(
                "已修改",
                value={**STORE_EXAMPLE, "address": "南京西路 1601 号 2F"},
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def patch(self, request: Request, pk: int) -> Response:
        store = self.get_object()
        data = StoreInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {k: v for k, v in data.validated_data.items() if k in request.data}
        services.store_update(store=store, by=self.actor.staff, **changes)
        return Response(StoreSerializer(_stores(self).get(pk=store.pk)).data)


class StoreActiveView(ContactsAPIView):
    """POST …/close/ or …/reopen/: the settings page's 停用 / 重新启用 (a store is never deleted)."""

    allowed_roles = OPERATOR_ONLY
    active = False

    @extend_schema(
        request=None,
        responses=StoreSerializer,
        summary="停用 / 重新启用门店（留痕）",
        examples=[
            OpenApiExample(
                "已停用", value={**STORE_EXAMPLE, "is_active": False}, response_only=True, status_codes=["200"]
            )
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        store = generics.get_object_or_404(_stores(self), pk=pk)
        services.store_set_active(store=store, by=self.actor.staff, active=self.active)
        return Response(StoreSerializer(_stores(self).get(pk=store.pk)).data)


# --- staff ---------------------------------------------------------------------------------------


class StaffFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    q = django_filters.CharFilter(method="apply", label=_l("搜索：姓名 / 企业微信账号 / 登录账号"), max_length=100)
    store = django_filters.NumberFilter(method="apply", label=_l("所属门店 ID"), min_value=1, max_value=INT4_MAX)
    login = django_filters.ChoiceFilter(
        choices=[("yes", _l("已开通登录")), ("no", _l("未开通登录"))], method="apply", label=_l("登录账号")
    )
    role = django_filters.ChoiceFilter(choices=Role.choices, method="apply", label=_l("角色"))

    class Meta:
        model = Staff
        fields: list[str] = []

    def apply(self, queryset: QuerySet[Staff], name: str, value: Any) -> QuerySet[Staff]:
        filters: dict[str, Any] = {name: int(value) if name == "store" else value}
        return selectors.staff_filter(queryset, **filters)


def _staff(view: ContactsAPIView) -> QuerySet[Staff]:
    return view.actor.scope(Staff.objects.select_related("store", "user")).prefetch_related(
        "user__groups", "managed_stores"
    )


class StaffListView(ContactsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_ONLY
    serializer_class = StaffSerializer
    filterset_class = StaffFilterSet

    def scoped_queryset(self) -> QuerySet[Staff]:
        return _staff(self).order_by("store__code", "name", "id")

    @extend_schema(
        summary="员工列表（运营）",
        examples=[OpenApiExample("一位员工", value=STAFF_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class StaffDetailView(ContactsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_ONLY
    serializer_class = StaffSerializer

    def scoped_queryset(self) -> QuerySet[Staff]:
        return _staff(self)

    @extend_schema(
        summary="员工详情（运营）",
        examples=[OpenApiExample("员工", value=STAFF_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=StaffUpdateSerializer,
        responses=StaffSerializer,
        summary="修改员工的角色、所属门店和管理的门店（留痕）",
        examples=[
            OpenApiExample(
                "设为店长并管理两家店",
                value={"role": "manager", "store": 3, "managed_stores": [4, 5]},
                request_only=True,
            ),
            OpenApiExample(
                "已修改",
                value={**STAFF_EXAMPLE, "role": "manager", "role_label": "店长/经理", "managed_store_ids": [4, 5]},
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def patch(self, request: Request, pk: int) -> Response:
        member = self.get_object()
        data = StaffUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        stores = self.actor.scope(Store.objects.all())
        store = member.store
        if "store" in values:
            store = stores.filter(pk=values["store"]).first() if values["store"] else None
            if values["store"] and store is None:
                raise ValidationError({"store": [_("门店不存在或不属于本企业")]})
        managed = list(member.managed_stores.all())
        if "managed_stores" in values:
            wanted = set(values["managed_stores"])
            managed = list(stores.filter(pk__in=wanted))
            if len(managed) != len(wanted):
                raise ValidationError({"managed_stores": [_("门店不存在或不属于本企业")]})
        try:
            # One transaction: a refused role (one's own, a member without a login) changes nothing.
            services.staff_update(
                staff=member,
                by=self.actor.staff,
                role=Role(values["role"]) if "role" in values else None,
                stores=(store, managed) if {"store", "managed_stores"} & set(values) else None,
            )
        except ValueError as exc:  # ContactsError and staff_set_role's refusal; the stores were checked above
            raise ValidationError({"role": [str(exc)]}) from exc
        return Response(StaffSerializer(_staff(self).get(pk=member.pk)).data)
