"""REST API for custom customer fields: the definitions (operators write, everyone reads) and one
customer's values (anyone who may see the customer edits them). Mounted by ``contacts.api_urls``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import services
from contacts.access import ALL_ROLES, OPERATOR_ONLY
from contacts.api import ContactsAPIView
from contacts.models import CustomField, CustomFieldKind
from contacts.services.custom_fields import KEY_MESSAGE, KEY_PATTERN


class CustomFieldSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = CustomField
        fields = [
            "id",
            "key",
            "label",
            "kind",
            "kind_label",
            "options",
            "required",
            "show_on_profile",
            "show_in_sidebar",
            "order",
            "created_at",
        ]
        read_only_fields = fields


# The ``label`` and ``required`` fields carry ``type: ignore[assignment]``: DRF collects declared
# fields from the class, but for mypy the names shadow ``Field.label`` / ``Field.required``.
class CustomFieldInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    # The service's own rule, so the schema carries it as a pattern.
    key = serializers.RegexField(
        KEY_PATTERN,
        max_length=40,
        help_text="小写字母、数字、下划线，以字母开头；创建后不能修改",
        error_messages={"invalid": KEY_MESSAGE},
    )
    label = serializers.CharField(max_length=50)  # type: ignore[assignment]
    kind = serializers.ChoiceField(choices=CustomFieldKind.choices)
    options = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    required = serializers.BooleanField(required=False, default=False)  # type: ignore[assignment]
    show_on_profile = serializers.BooleanField(required=False, default=True)
    show_in_sidebar = serializers.BooleanField(required=False, default=False)
    order = serializers.IntegerField(required=False, default=0, min_value=-1000, max_value=1000)


class CustomFieldUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    label = serializers.CharField(max_length=50, required=False)  # type: ignore[assignment]
    options = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]
    show_on_profile = serializers.BooleanField(required=False)
    show_in_sidebar = serializers.BooleanField(required=False)
    order = serializers.IntegerField(required=False, min_value=-1000, max_value=1000)


class CustomerFieldValuesSerializer(serializers.Serializer):  # type: ignore[type-arg]
    # Absent or {}: nothing to change (a PATCH of nothing), answered with the current values.
    values = serializers.DictField(help_text="字段标识 → 值；值为 null 表示清除", required=False, default=dict)


FIELD_EXAMPLE = OpenApiExample(
    "会员等级（单选）",
    value={"key": "member_level", "label": "会员等级", "kind": "choice", "options": ["银卡", "金卡", "黑金"]},
    request_only=True,
)
VALUES_EXAMPLE = OpenApiExample(
    "修改两个字段",
    value={"values": {"member_level": "金卡", "skin_type": None}},
)


class CustomFieldListView(ContactsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    write_roles = OPERATOR_ONLY
    serializer_class = CustomFieldSerializer
    pagination_class = None  # at most services.custom_fields.FIELDS_PER_ORG per organization

    def scoped_queryset(self) -> QuerySet[CustomField]:
        return self.actor.scope(CustomField.objects.all())

    @extend_schema(
        request=CustomFieldInputSerializer,
        responses={201: CustomFieldSerializer},
        examples=[FIELD_EXAMPLE],
        summary="新建自定义字段（运营）",
    )
    def post(self, request: Request) -> Response:
        data = CustomFieldInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        field = services.custom_field_create(organization=self.actor.organization, **data.validated_data)
        return Response(CustomFieldSerializer(field).data, status=status.HTTP_201_CREATED)


class CustomFieldDetailView(ContactsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    write_roles = OPERATOR_ONLY
    serializer_class = CustomFieldSerializer

    def scoped_queryset(self) -> QuerySet[CustomField]:
        return self.actor.scope(CustomField.objects.all())

    @extend_schema(request=CustomFieldUpdateSerializer, responses=CustomFieldSerializer, summary="修改自定义字段")
    def patch(self, request: Request, pk: int) -> Response:
        field = self.get_object()
        data = CustomFieldUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes: dict[str, Any] = {
            "label": field.label,
            "options": field.options,
            "required": field.required,
            "show_on_profile": field.show_on_profile,
            "show_in_sidebar": field.show_in_sidebar,
            "order": field.order,
            **data.validated_data,
        }
        field = services.custom_field_update(field=field, **changes)
        return Response(CustomFieldSerializer(field).data)

    @extend_schema(responses={204: None}, summary="删除自定义字段（并清除所有客户的该字段值）")
    def delete(self, request: Request, pk: int) -> Response:
        services.custom_field_delete(field=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerFieldValuesView(ContactsAPIView):
    allowed_roles = ALL_ROLES

    def _answer(self, customer: Any) -> Response:
        keys = set(self.actor.scope(CustomField.objects.all()).values_list("key", flat=True))
        values = {k: v for k, v in (customer.attributes or {}).items() if k in keys}
        return Response({"values": values})

    @extend_schema(responses=CustomerFieldValuesSerializer, summary="客户的自定义字段值")
    def get(self, request: Request, pk: int) -> Response:
        return self._answer(self.scoped_customer(pk))

    @extend_schema(
        request=CustomerFieldValuesSerializer,
        responses=CustomerFieldValuesSerializer,
        examples=[VALUES_EXAMPLE],
        summary="修改客户的自定义字段值（全部校验通过才保存）",
    )
    def patch(self, request: Request, pk: int) -> Response:
        customer = self.scoped_customer(pk)
        data = CustomerFieldValuesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.customer_update(customer=customer, by=self.actor.staff, values=data.validated_data["values"])
        return self._answer(customer)
