"""REST API of analytics: orders (list/filter, idempotent create by external_ref, refund)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import services
from analytics.models import Order, OrderSource, OrderStatus
from contacts import crypto, selectors
from contacts.access import ALL_ROLES, OPERATOR_AND_MANAGER, AuthenticatedRequest, ScopedQuerysetMixin
from contacts.models import Customer, Staff, Store
from scrm.fields import BoundedDateTimeField, BoundedIsoDateTimeFilter, IdFilter


class OrderOut(serializers.ModelSerializer[Order]):
    store_name = serializers.CharField(source="store.name", default="", read_only=True)
    staff_name = serializers.CharField(source="staff.name", default="", read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "customer",
            "store",
            "store_name",
            "staff",
            "staff_name",
            "channel",
            "campaign_id",
            "is_private",
            "amount",
            "refunded_amount",
            "status",
            "paid_at",
            "refunded_at",
            "source",
            "external_ref",
            "items",
            "created_at",
        ]


class OrderIn(serializers.Serializer[Any]):
    external_ref = serializers.CharField(max_length=128)
    # A declared field named like Field.source: DRF's metaclass collects it, mypy sees an attribute.
    source = serializers.ChoiceField(choices=OrderSource.choices, default=OrderSource.API)  # type: ignore[assignment]
    customer_id = serializers.IntegerField(required=False)
    phone = serializers.CharField(required=False, allow_blank=True)
    store_id = serializers.IntegerField(required=False, allow_null=True)
    staff_id = serializers.IntegerField(required=False, allow_null=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    refunded_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, default=Decimal(0))
    status = serializers.ChoiceField(choices=OrderStatus.choices, default=OrderStatus.PAID)
    paid_at = BoundedDateTimeField()
    items = serializers.ListField(child=serializers.JSONField(), required=False, default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("customer_id") and not attrs.get("phone"):
            raise serializers.ValidationError("请提供 customer_id 或 phone 以确定下单客户")
        return attrs


class RefundIn(serializers.Serializer[Any]):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    at = BoundedDateTimeField(required=False)


class OrderFilter(filters.FilterSet):  # type: ignore[misc]  # django-filter ships no stubs
    # Ids, not model choices: an id outside the caller's scope is an empty list, never a 400 that would
    # tell another organization's customer from one that does not exist.
    customer = IdFilter(field_name="customer_id")
    store = IdFilter(field_name="store_id")
    staff = IdFilter(field_name="staff_id")
    campaign_id = IdFilter(field_name="campaign_id")
    paid_after = BoundedIsoDateTimeFilter(field_name="paid_at", lookup_expr="gte")
    paid_before = BoundedIsoDateTimeFilter(field_name="paid_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["customer", "store", "staff", "source", "status", "channel", "campaign_id", "external_ref"]


class OrderListCreate(ScopedQuerysetMixin, generics.ListAPIView[Order]):
    """GET: orders in your scope (filters: customer, store, staff, source, status, channel, campaign_id,
    external_ref, paid_after, paid_before). POST: record an order — idempotent per (source, external_ref):
    201 when created, 200 with the existing order on a repeat; 403 naming ``external_ref`` when that
    key belongs to an order outside your stores (nothing is changed)."""

    allowed_roles = ALL_ROLES
    write_roles = OPERATOR_AND_MANAGER
    base_queryset = Order.objects.select_related("store", "staff").order_by("-paid_at", "-id")
    serializer_class = OrderOut
    filterset_class = OrderFilter

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no actor
            return Order.objects.none()
        return super().get_queryset()

    def get_serializer_class(self) -> Any:
        return OrderIn if self.request.method == "POST" else OrderOut

    @extend_schema(
        request=OrderIn,
        responses={
            201: OrderOut,
            200: OpenApiResponse(OrderOut, description="该外部单号的订单已存在：返回已有订单，不重复记录"),
            404: OpenApiResponse(description="找不到该客户（或不在你的门店范围内），请先创建客户"),
        },
        summary="记录订单（按 source + external_ref 幂等）",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        actor = request.actor_obj
        data_in = OrderIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        customers: QuerySet[Customer] = actor.scope(Customer.objects.all())
        if data.get("customer_id"):
            customer = customers.filter(pk=data["customer_id"]).first()
        else:
            try:
                customer = customers.filter(phone_hash=crypto.phone_hash(data["phone"])).first()
            except crypto.InvalidPhone as exc:
                return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        if customer is None:
            return Response({"detail": "找不到该客户（或不在你的门店范围内），请先创建客户"}, status=404)
        store = None
        if data.get("store_id"):
            store = actor.scope(Store.objects.filter(pk=data["store_id"])).first()
            if store is None:
                return Response({"detail": "找不到该门店或无权操作"}, status=status.HTTP_400_BAD_REQUEST)
        staff = None
        if data.get("staff_id"):
            staff = Staff.objects.filter(organization_id=actor.organization_id, pk=data["staff_id"]).first()
            if staff is None:
                return Response({"detail": "找不到该员工"}, status=status.HTTP_400_BAD_REQUEST)
        try:
            order, created = services.order_record(
                organization=actor.organization,
                customer=customer,
                store=store,
                amount=data["amount"],
                paid_at=data["paid_at"],
                source=data["source"],
                external_ref=data["external_ref"],
                staff=staff,
                status=data["status"],
                items=data["items"],
                refunded_amount=data["refunded_amount"],
                store_ids=actor.store_ids,
            )
        except services.OrderScopeError as exc:
            # The key names an order outside your stores: refused, and not taken for a new order.
            return Response({"detail": str(exc), exc.field: [str(exc)]}, status=status.HTTP_403_FORBIDDEN)
        except services.OrderError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(OrderOut(order).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class OrderRefund(APIView):
    """POST {amount, at?}: refund part or all of an order in your scope."""

    allowed_roles = OPERATOR_AND_MANAGER
    serializer_class = RefundIn

    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        actor = request.actor_obj
        order = get_object_or_404(actor.scope(Order.objects.all()), pk=pk)
        data_in = RefundIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        try:
            order = services.order_refund(
                order=order,
                amount=data_in.validated_data["amount"],
                at=data_in.validated_data.get("at") or timezone.now(),
            )
        except services.OrderError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(OrderOut(order).data)


# One order; drf-spectacular wraps a list example in the pagination envelope (count/next/previous/results).
CUSTOMER_ORDER_EXAMPLE = {
    "id": 812,
    "customer": 42,
    "store": 3,
    "store_name": "静安嘉里店",
    "staff": 17,
    "staff_name": "王敏",
    "channel": "wecom",
    "campaign_id": None,
    "is_private": True,
    "amount": "699.00",
    "refunded_amount": "0.00",
    "status": "paid",
    "paid_at": "2026-11-20T14:30:00+08:00",
    "refunded_at": None,
    "source": "pos_import",
    "external_ref": "POS-20261120-0031",
    "items": [{"sku": "SERUM-30", "name": "修护精华 30ml", "qty": 1, "price": "699.00"}],
    "created_at": "2026-11-20T14:31:05+08:00",
}


class CustomerOrderList(generics.ListAPIView[Order]):
    """A customer's orders, newest paid first (``limit``/``offset``). The customer is looked up exactly
    as the customer detail does: another organization's customer, or (for a manager or store staff
    member) a customer of a store outside theirs, is a 404. A customer you may see shows all their
    orders, the ones their ``order_count``/``ltv`` on the detail add up."""

    allowed_roles = ALL_ROLES
    serializer_class = OrderOut
    filter_backends: list[Any] = []  # the path names the customer; no further filters

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no actor
            return Order.objects.none()
        actor = cast("AuthenticatedRequest", self.request).actor_obj  # HasActor set it
        customer = selectors.customer_get(actor=actor, pk=self.kwargs["pk"])
        if customer is None:
            raise Http404(_("客户不存在，或不属于你可查看的门店"))
        return (
            Order.objects.filter(organization_id=actor.organization_id, customer=customer)
            .select_related("store", "staff")
            .order_by("-paid_at", "-id")
        )

    @extend_schema(
        summary="客户的订单（最新在前，分页）",
        responses={
            200: OrderOut(many=True),
            404: OpenApiResponse(description="客户不存在，或不属于你可查看的门店（含其他品牌的客户）"),
        },
        examples=[
            OpenApiExample("一位客户的订单", value=CUSTOMER_ORDER_EXAMPLE, response_only=True, status_codes=["200"])
        ],
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
