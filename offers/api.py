"""REST API of offers: coupon templates, issuing, the coupons list, redemption (POS / mall
systems) and the per-template report. Refusals are 400 ``{"<field>": ["reason"]}``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import OrderSource
from contacts.access import ALL_ROLES, OPERATOR_AND_MANAGER, OPERATOR_ONLY, AuthenticatedRequest, ScopedQuerysetMixin
from contacts.models import Customer, CustomerGroup, Segment, Store
from offers import selectors, services
from offers.models import CouponTemplate, IssuedCoupon, Redemption
from scrm.fields import BoundedDateTimeField, IdFilter

TEMPLATE_EXAMPLE = {
    "id": 7,
    "name": "新人立减5元",
    "kind": "amount",
    "kind_label": "立减金额",
    "amount_off": "5.00",
    "percent_off": None,
    "threshold": "0.00",
    "benefit": "立减 ¥5",
    "validity": "relative",
    "validity_label": "领取后 N 天内有效",
    "valid_from": None,
    "valid_to": None,
    "valid_days": 7,
    "stock": 1000,
    "issued": 312,
    "remaining": 688,
    "per_customer_limit": 1,
    "stores": [],
    "stackable": False,
    "refund_restores": True,
    "is_active": True,
    "created_at": "2026-11-20T10:00:00+08:00",
}
TEMPLATE_IN_EXAMPLE = {
    "name": "满100减20",
    "kind": "amount",
    "amount_off": "20.00",
    "threshold": "100.00",
    "validity": "fixed",
    "valid_from": "2026-12-01T00:00:00+08:00",
    "valid_to": "2026-12-31T23:59:59+08:00",
    "stock": 500,
    "per_customer_limit": 1,
    "store_ids": [3, 4],
}
COUPON_EXAMPLE = {
    "id": 901,
    "template": 7,
    "template_name": "新人立减5元",
    "customer": 42,
    "code": "K7PQ2M9X",
    "status": "issued",
    "status_label": "未使用",
    "source": "welcome",
    "source_label": "新好友欢迎语",
    "campaign_id": 15,
    "issued_at": "2026-12-03T10:00:00+08:00",
    "valid_from": "2026-12-03T10:00:00+08:00",
    "valid_until": "2026-12-10T10:00:00+08:00",
    "redeemed_at": None,
    "link": "https://scrm.example.com/c/3f2a…:Vb1c…/",
}
REDEMPTION_EXAMPLE = {
    "id": 55,
    "code": "K7PQ2M9X",
    "template": 7,
    "customer": 42,
    "order": 812,
    "store": 3,
    "staff": 17,
    "external_ref": "MALL-20261203-0031",
    "amount": "128.00",
    "campaign_id": 15,
    "redeemed_at": "2026-12-03T15:20:00+08:00",
}
REPORT_EXAMPLE = {
    "template_id": 7,
    "name": "新人立减5元",
    "benefit": "立减 ¥5",
    "stock": 1000,
    "issued": 312,
    "redeemed": 96,
    "redemption_rate": 0.3077,
    "gmv": "18240.00",
    "redeemers": 96,
    "non_redeemers": 216,
    "ltv_redeemers": "412.50",
    "ltv_non_redeemers": "88.20",
}


def _refused(exc: services.CouponError) -> Response:
    return Response({exc.field: [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)


# -- templates --------------------------------------------------------------------------------------
class TemplateOut(serializers.ModelSerializer[CouponTemplate]):
    benefit = serializers.CharField(read_only=True)
    remaining = serializers.IntegerField(read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    validity_label = serializers.CharField(source="get_validity_display", read_only=True)

    class Meta:
        model = CouponTemplate
        fields = [
            "id",
            "name",
            "kind",
            "kind_label",
            "amount_off",
            "percent_off",
            "threshold",
            "benefit",
            "validity",
            "validity_label",
            "valid_from",
            "valid_to",
            "valid_days",
            "stock",
            "issued",
            "remaining",
            "per_customer_limit",
            "stores",
            "stackable",
            "refund_restores",
            "is_active",
            "created_at",
        ]


class TemplateIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=60)
    kind = serializers.ChoiceField(choices=CouponTemplate._meta.get_field("kind").choices)  # type: ignore[arg-type]
    amount_off = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False, allow_null=True)
    percent_off = serializers.IntegerField(min_value=1, max_value=99, required=False, allow_null=True)
    threshold = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    validity = serializers.ChoiceField(choices=CouponTemplate._meta.get_field("validity").choices)  # type: ignore[arg-type]
    valid_from = BoundedDateTimeField(required=False, allow_null=True)
    valid_to = BoundedDateTimeField(required=False, allow_null=True)
    valid_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)
    stock = serializers.IntegerField(min_value=1, max_value=10_000_000)
    per_customer_limit = serializers.IntegerField(min_value=1, max_value=100, required=False)
    store_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    stackable = serializers.BooleanField(required=False)
    refund_restores = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


class TemplatePatch(TemplateIn):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)


def _stores(request: AuthenticatedRequest, ids: list[int]) -> list[Store] | Response:
    stores = list(request.actor_obj.scope(Store.objects.filter(pk__in=ids)))
    if len(stores) != len(set(ids)):
        return Response({"store_ids": ["所选门店不存在或无权使用"]}, status=status.HTTP_400_BAD_REQUEST)
    return stores


class TemplateListCreate(ScopedQuerysetMixin, generics.ListAPIView[CouponTemplate]):
    """GET: the brand's coupon templates (filter ``is_active``). POST (operators): create one."""

    allowed_roles = OPERATOR_AND_MANAGER
    write_roles = OPERATOR_ONLY
    base_queryset = CouponTemplate.objects.prefetch_related("stores").order_by("-created_at", "-id")
    serializer_class = TemplateOut
    filterset_fields = ["is_active", "kind"]

    def get_queryset(self) -> QuerySet[CouponTemplate]:
        if getattr(self, "swagger_fake_view", False):
            return CouponTemplate.objects.none()
        return super().get_queryset()

    @extend_schema(
        summary="优惠券模板列表",
        examples=[OpenApiExample("一张模板", value=TEMPLATE_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=TemplateIn,
        responses={201: TemplateOut},
        summary="新建优惠券模板",
        examples=[
            OpenApiExample("满减券", value=TEMPLATE_IN_EXAMPLE, request_only=True),
            OpenApiExample("已创建", value=TEMPLATE_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data_in = TemplateIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = dict(data_in.validated_data)
        stores = _stores(request, data.pop("store_ids", []))
        if isinstance(stores, Response):
            return stores
        try:
            template = services.coupon_template_save(
                organization=request.actor_obj.organization, data=data, stores=stores, by=request.actor_obj.staff
            )
        except services.CouponError as exc:
            return _refused(exc)
        return Response(TemplateOut(template).data, status=status.HTTP_201_CREATED)


class TemplateDetail(APIView):
    """GET one template; PATCH (operators) changes the given fields (stock not below what was issued)."""

    allowed_roles = OPERATOR_AND_MANAGER
    write_roles = OPERATOR_ONLY
    serializer_class = TemplateOut

    @extend_schema(
        responses={200: TemplateOut},
        summary="优惠券模板详情",
        examples=[OpenApiExample("一张模板", value=TEMPLATE_EXAMPLE, response_only=True)],
    )
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        return Response(TemplateOut(get_object_or_404(selectors.templates_for(request.actor_obj), pk=pk)).data)

    @extend_schema(
        request=TemplatePatch,
        responses={200: TemplateOut},
        summary="修改优惠券模板",
        examples=[
            OpenApiExample("加库存", value={"stock": 2000}, request_only=True),
            OpenApiExample("已修改", value=TEMPLATE_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        template = get_object_or_404(selectors.templates_for(request.actor_obj), pk=pk)
        data_in = TemplatePatch(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = dict(data_in.validated_data)
        stores: list[Store] | Response = list(template.stores.all())
        if "store_ids" in request.data:
            stores = _stores(request, data.pop("store_ids", []))
        data.pop("store_ids", None)
        if isinstance(stores, Response):
            return stores
        try:
            template = services.coupon_template_save(
                organization=request.actor_obj.organization, data=data, stores=stores, template=template
            )
        except services.CouponError as exc:
            return _refused(exc)
        return Response(TemplateOut(template).data)


# -- coupons ----------------------------------------------------------------------------------------
class CouponOut(serializers.ModelSerializer[IssuedCoupon]):
    template_name = serializers.CharField(source="template.name", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    source_label = serializers.CharField(source="get_source_display", read_only=True)
    link = serializers.SerializerMethodField()

    class Meta:
        model = IssuedCoupon
        fields = [
            "id",
            "template",
            "template_name",
            "customer",
            "code",
            "status",
            "status_label",
            "source",
            "source_label",
            "campaign_id",
            "issued_at",
            "valid_from",
            "valid_until",
            "redeemed_at",
            "link",
        ]

    def get_link(self, obj: IssuedCoupon) -> str:
        """The customer's page of this coupon (send it to them; it opens without login)."""
        return services.coupon_link(obj.token)


class CouponFilter(filters.FilterSet):  # type: ignore[misc]  # django-filter ships no stubs
    customer = IdFilter(field_name="customer_id")
    template = IdFilter(field_name="template_id")

    class Meta:
        model = IssuedCoupon
        fields = ["customer", "template", "status", "source", "code"]


class CouponList(ScopedQuerysetMixin, generics.ListAPIView[IssuedCoupon]):
    """Issued coupons in your scope (customers of your stores), newest first."""

    allowed_roles = ALL_ROLES
    base_queryset = IssuedCoupon.objects.select_related("template").order_by("-issued_at", "-id")
    serializer_class = CouponOut
    filterset_class = CouponFilter

    def get_queryset(self) -> QuerySet[IssuedCoupon]:
        if getattr(self, "swagger_fake_view", False):
            return IssuedCoupon.objects.none()
        return super().get_queryset()

    @extend_schema(
        summary="已发放的优惠券",
        examples=[OpenApiExample("一张券", value=COUPON_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class IssueIn(serializers.Serializer[Any]):
    template_id = serializers.IntegerField()
    customer_id = serializers.IntegerField(required=False)
    group_id = serializers.IntegerField(required=False)
    segment_id = serializers.IntegerField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [k for k in ("customer_id", "group_id", "segment_id") if attrs.get(k)]
        if len(given) != 1:
            raise serializers.ValidationError({"customer_id": ["请只填写 customer_id、group_id、segment_id 中的一个"]})
        return attrs


class IssueOut(serializers.Serializer[Any]):
    targets = serializers.IntegerField(help_text="发放对象人数")
    issued = serializers.IntegerField(help_text="本次发出的张数")
    at_limit = serializers.IntegerField(help_text="已领满、未重复发放的人数")
    coupons = CouponOut(many=True)


class CouponIssue(APIView):
    """Issue a template's coupon to one customer, a customer group's members, or a saved segment.
    Stock and the per-customer limit are held by the database; a shortfall of stock issues nothing."""

    allowed_roles = ALL_ROLES
    serializer_class = IssueIn

    @extend_schema(
        request=IssueIn,
        responses={201: IssueOut},
        summary="发放优惠券",
        examples=[
            OpenApiExample("发给一位客户", value={"template_id": 7, "customer_id": 42}, request_only=True),
            OpenApiExample("发给客户群（群专享）", value={"template_id": 7, "group_id": 5}, request_only=True),
            OpenApiExample(
                "结果",
                value={"targets": 1, "issued": 1, "at_limit": 0, "coupons": [COUPON_EXAMPLE]},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        actor = request.actor_obj
        data_in = IssueIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        template = selectors.templates_for(actor).filter(pk=data["template_id"]).first()
        if template is None:
            return Response({"template_id": ["优惠券模板不存在"]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            if data.get("customer_id"):
                customer = actor.scope(Customer.objects.filter(pk=data["customer_id"])).first()
                if customer is None:
                    return Response({"customer_id": ["客户不存在，或不在你可查看的门店"]}, status=400)
                coupon = services.coupon_issue(template=template, customer=customer, by=actor.staff, source="api")
                result = services.IssueResult(targets=1, issued=1, coupon_ids=[coupon.pk])
            elif data.get("group_id"):
                if actor.is_store_staff:
                    return Response({"group_id": ["店员只能给单个客户发券"]}, status=400)
                group = actor.scope(CustomerGroup.objects.filter(pk=data["group_id"])).first()
                if group is None:
                    return Response({"group_id": ["客户群不存在或无权使用"]}, status=400)
                result = services.coupon_issue_group(template=template, group=group, by=actor.staff)
            else:
                if actor.is_store_staff:
                    return Response({"segment_id": ["店员只能给单个客户发券"]}, status=400)
                segment = actor.scope(Segment.objects.filter(pk=data["segment_id"])).first()
                if segment is None:
                    return Response({"segment_id": ["客户分群不存在或无权使用"]}, status=400)
                result = services.coupon_issue_segment(
                    template=template, segment=segment, store_ids=actor.store_ids, by=actor.staff
                )
        except services.CouponError as exc:
            return _refused(exc)
        coupons = IssuedCoupon.objects.filter(pk__in=result.coupon_ids[:100]).select_related("template")
        return Response(
            {
                "targets": result.targets,
                "issued": result.issued,
                "at_limit": result.at_limit,
                "coupons": CouponOut(coupons, many=True).data,
            },
            status=status.HTTP_201_CREATED,
        )


# -- redemption -------------------------------------------------------------------------------------
class RedeemIn(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=20, help_text="券码（不区分大小写，可含空格或短横线）")
    external_ref = serializers.CharField(max_length=128, help_text="订单的外部单号；同一单号重复提交不会重复核销")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, help_text="订单实付金额（元）")
    store_code = serializers.CharField(max_length=50, required=False, help_text="核销门店编码（与 store_id 二选一）")
    store_id = serializers.IntegerField(required=False)
    source = serializers.ChoiceField(choices=OrderSource.choices, default=OrderSource.POS_IMPORT)  # type: ignore[assignment]
    paid_at = BoundedDateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("store_code") and not attrs.get("store_id"):
            raise serializers.ValidationError({"store_code": ["请填写核销门店编码 store_code（或 store_id）"]})
        return attrs


class RedemptionOut(serializers.ModelSerializer[Redemption]):
    code = serializers.CharField(source="coupon.code", read_only=True)
    template = serializers.IntegerField(source="coupon.template_id", read_only=True)
    customer = serializers.IntegerField(source="coupon.customer_id", read_only=True)
    campaign_id = serializers.IntegerField(source="order.campaign_id", read_only=True, allow_null=True)

    class Meta:
        model = Redemption
        fields = [
            "id",
            "code",
            "template",
            "customer",
            "order",
            "store",
            "staff",
            "external_ref",
            "amount",
            "campaign_id",
            "redeemed_at",
        ]


class CouponRedeem(APIView):
    """Redeem a coupon on an order (POS / mall systems, the sidebar). Idempotent by ``external_ref``:
    a repeat of the same code and order answers 200 with the first redemption. Of two devices
    redeeming one code at once exactly one succeeds; the other gets a 400 naming ``code``. The order
    is recorded (or linked when it exists) and attributed to the staff member, store, campaign and
    coupon."""

    allowed_roles = ALL_ROLES
    serializer_class = RedeemIn

    @extend_schema(
        request=RedeemIn,
        responses={
            201: RedemptionOut,
            200: OpenApiResponse(RedemptionOut, description="同一券码与外部单号已核销过：返回已有的核销记录"),
        },
        summary="核销优惠券（按外部单号幂等）",
        examples=[
            OpenApiExample(
                "商场 POS 核销",
                value={
                    "code": "K7PQ2M9X",
                    "external_ref": "MALL-20261203-0031",
                    "amount": "128.00",
                    "store_code": "A01",
                },
                request_only=True,
            ),
            OpenApiExample("已核销", value=REDEMPTION_EXAMPLE, response_only=True, status_codes=["201", "200"]),
        ],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        actor = request.actor_obj
        data_in = RedeemIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        stores = actor.scope(Store.objects.all())
        if data.get("store_id"):
            store = stores.filter(pk=data["store_id"]).first()
            field = "store_id"
        else:
            store = stores.filter(code=data["store_code"]).first()
            field = "store_code"
        if store is None:
            return Response({field: ["门店不存在，或不在你管理的门店范围内"]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            redemption, created = services.coupon_redeem(
                organization=actor.organization,
                code=data["code"],
                store=store,
                amount=data["amount"],
                external_ref=data["external_ref"],
                staff=actor.staff,
                store_ids=actor.store_ids,
                source=data["source"],
                paid_at=data.get("paid_at"),
            )
        except services.CouponError as exc:
            if exc.field == "store":
                exc.field = field
            return _refused(exc)
        return Response(
            RedemptionOut(redemption).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


# -- report -----------------------------------------------------------------------------------------
class ReportRowOut(serializers.Serializer[Any]):
    template_id = serializers.IntegerField()
    name = serializers.CharField()
    benefit = serializers.CharField()
    stock = serializers.IntegerField()
    issued = serializers.IntegerField()
    redeemed = serializers.IntegerField()
    redemption_rate = serializers.FloatField(allow_null=True)
    gmv = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="核销订单的实收金额（扣除退款）")
    redeemers = serializers.IntegerField()
    non_redeemers = serializers.IntegerField()
    ltv_redeemers = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    ltv_non_redeemers = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)


class CouponReport(generics.GenericAPIView[CouponTemplate]):
    """Per template: issued, redeemed, redemption rate, GMV of the redeemed orders, and the average
    LTV of redeemers vs holders who did not redeem (customers of your stores)."""

    allowed_roles = ALL_ROLES
    serializer_class = ReportRowOut
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[CouponTemplate]:
        if getattr(self, "swagger_fake_view", False):
            return CouponTemplate.objects.none()
        return selectors.templates_for(self.request.actor_obj)  # type: ignore[attr-defined]

    @extend_schema(
        responses={200: ReportRowOut(many=True)},
        summary="优惠券效果报表",
        examples=[OpenApiExample("一张券的效果", value=REPORT_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        templates = list(page if page is not None else self.get_queryset())
        rows = [
            {**figures.__dict__, "redemption_rate": figures.redemption_rate}
            for figures in selectors.template_figures(request.actor_obj, templates)
        ]
        data = ReportRowOut(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)
