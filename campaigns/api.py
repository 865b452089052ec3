"""JSON API of campaigns: the wizard's dry-run preview and create + submit, the list and detail, the
lifecycle actions (pause, resume, cancel: the console's own services) and the results the campaign
page shows. The campaign pages' roles (operators and managers) and look-up (the brand's campaigns)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import selectors, services
from campaigns.models import MAX_VALUE_PER_CONVERSION, Campaign, CampaignKind, CampaignStatus, Recurrence
from campaigns.views import ACTIONS
from channels.models import ContactWay, ContactWayKind
from contacts.access import OPERATOR_AND_MANAGER, Actor, AuthenticatedRequest
from contacts.models import CustomerGroup, Segment
from contacts.segment_schema import ExpressionField
from offers import selectors as offer_selectors
from scrm.fields import BoundedDateTimeField


class CampaignInput(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100, required=False, default="未命名活动")
    kind = serializers.ChoiceField(choices=CampaignKind.choices, default=CampaignKind.BROADCAST_SINGLE)
    text = serializers.CharField(allow_blank=True, required=False, default="")
    attachments = serializers.ListField(child=serializers.DictField(), required=False, default=list)
    segment_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    expression = ExpressionField(required=False, default=dict)
    group_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    exclusion_segment_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    holdout_percent = serializers.IntegerField(min_value=0, max_value=50, default=0)
    # The same seed for the previews and the submit: the holdout (and so the count) stays the same.
    holdout_seed = serializers.IntegerField(min_value=0, max_value=2**62, required=False, allow_null=True, default=None)
    priority = serializers.IntegerField(min_value=-100, max_value=100, default=0)
    # ¥ per conversion, for the joint allocation by expected value (campaigns.allocation).
    value_per_conversion = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal(0),
        max_value=MAX_VALUE_PER_CONVERSION,
        default=Decimal(0),
        error_messages={
            "invalid": _l("每次转化价值须是数字（元），例如 50 或 12.5"),
            "min_value": _l("每次转化价值不能为负数"),
            "max_value": _l("每次转化价值不能超过 10000000 元"),
            "max_decimal_places": _l("每次转化价值最多两位小数（精确到分）"),
            "max_digits": _l("每次转化价值不能超过 10000000 元"),
            "max_whole_digits": _l("每次转化价值不能超过 10000000 元"),
        },
    )
    due_at = BoundedDateTimeField(required=False, allow_null=True, default=None)
    recurrence = serializers.ChoiceField(choices=Recurrence.choices, required=False, default="")
    recurrence_until = BoundedDateTimeField(required=False, allow_null=True, default=None)
    # Welcome templates: the 渠道活码 it answers; empty = the default for every 活码.
    contact_way_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    # Welcome templates: a new-friend coupon (offers) issued to the new customer, its link in the text.
    coupon_template_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    # Moments: only customers with one of these tags see the post (empty: every customer).
    moment_tag_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)


def _values(actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    segments = actor.scope(Segment.objects.all())
    segment = segments.filter(pk=data["segment_id"]).first() if data.get("segment_id") else None
    if data.get("segment_id") and segment is None:
        raise ValidationError(["所选分群不存在或无权使用，请重新选择"])
    exclusions = list(segments.filter(pk__in=data.get("exclusion_segment_ids") or []))
    group_ids = list(data.get("group_ids") or [])
    if group_ids:
        group_ids = list(actor.scope(CustomerGroup.objects.filter(pk__in=group_ids)).values_list("pk", flat=True))
    contact_way = None
    coupon_template = None
    if data.get("coupon_template_id") and data["kind"] == CampaignKind.WELCOME_TEMPLATE:
        coupon_template = offer_selectors.template_for(actor, data["coupon_template_id"])
        if coupon_template is None:
            raise ValidationError([_("所选优惠券不存在或无权使用，请重新选择")])
    if data["kind"] == CampaignKind.WELCOME_TEMPLATE:
        if data.get("contact_way_id"):
            ways = actor.scope(ContactWay.objects.filter(kind=ContactWayKind.CONTACT))
            contact_way = ways.filter(pk=data["contact_way_id"]).first()
            if contact_way is None:
                raise ValidationError([_("所选渠道活码不存在或无权使用，请重新选择")])
        elif not actor.is_operator:
            # The default answers every 活码 of the brand, beyond a manager's stores.
            raise ValidationError([_("只有运营可以设置默认欢迎语模板，请选择一个渠道活码")])
    return {
        "name": data.get("name") or "未命名活动",
        "kind": data["kind"],
        "text": data.get("text", ""),
        "attachments": data.get("attachments") or [],
        "segment": segment,
        "expression": data.get("expression") or {},
        "group_ids": group_ids,
        "exclusion_segments": exclusions,
        "holdout_percent": data["holdout_percent"],
        "holdout_seed": data.get("holdout_seed"),
        "priority": data["priority"],
        "value_per_conversion": data.get("value_per_conversion", Decimal(0)),
        "due_at": data.get("due_at"),
        "recurrence": data.get("recurrence") or "",
        "recurrence_until": data.get("recurrence_until"),
        # A manager's campaign reaches exactly the customers of their stores (own + managed), the
        # same ``actor.store_ids`` their segment preview counts; an operator's reaches the brand.
        "store": actor.staff.store if actor.store_ids is not None else None,
        "audience_store_ids": actor.store_ids,
        "created_by": actor.staff,
        "contact_way": contact_way,
        "coupon_template": coupon_template,
        "moment_tag_ids": list(data.get("moment_tag_ids") or []) if data["kind"] == CampaignKind.MOMENT else [],
    }


def _errors(exc: Exception) -> Response:
    msgs = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
    return Response({"detail": "；".join(msgs), "errors": msgs}, status=400)


class ExclusionOut(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(help_text="排除原因代码（opted_out / no_consent / excluded_segment / holdout …）")
    label = serializers.CharField()  # type: ignore[assignment]  # the field is named "label" in the API
    count = serializers.IntegerField()


class SenderCountOut(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()


class QuotaPictureOut(serializers.Serializer):  # type: ignore[type-arg]
    customer_mode = serializers.CharField()
    group_mode = serializers.CharField()
    moments_per_day = serializers.IntegerField()
    brand_cap = serializers.IntegerField()
    brand_cap_period = serializers.CharField()
    quiet_hours = serializers.CharField(help_text="免打扰时段，如 22:00–08:00，或“未设置”")
    require_consent = serializers.BooleanField()
    approval_threshold = serializers.IntegerField()


class CampaignPreviewOut(serializers.Serializer):  # type: ignore[type-arg]
    recipients = serializers.IntegerField(help_text="会收到的人数")
    audience = serializers.IntegerField(help_text="受众总人数（含被排除的）")
    exclusions = ExclusionOut(many=True)
    batches = serializers.IntegerField(required=False, help_text="发送批次数（欢迎语模板无此项）")
    senders = SenderCountOut(many=True, required=False, help_text="人数最多的 10 位发送员工")
    send_after = serializers.CharField(required=False, help_text="最早发送时间（免打扰时段后），ISO 8601")
    quota = QuotaPictureOut(required=False)


class CampaignPreviewView(APIView):
    allowed_roles = OPERATOR_AND_MANAGER

    @extend_schema(
        request=CampaignInput,
        responses={200: CampaignPreviewOut},
        summary="活动预览（精确人数、排除原因、批次与配额，不占用配额）",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        ser = CampaignInput(data=request.data)
        ser.is_valid(raise_exception=True)
        actor = request.actor_obj
        if ser.validated_data["kind"] == CampaignKind.WELCOME_TEMPLATE:
            # No audience: a welcome template answers whoever adds a staff member.
            return Response({"recipients": 0, "exclusions": [], "audience": 0})
        try:
            values = _values(actor, ser.validated_data)
            # The count must not fail on content still being typed: preview with a placeholder text.
            values["text"] = values["text"] or "预览"
            values["attachments"] = []
            return Response(selectors.campaign_preview(actor=actor, values=values))
        except (ValidationError, ValueError) as exc:
            return _errors(exc)


# --- list, detail, lifecycle actions, results ---------------------------------------------------


class RefOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    name = serializers.CharField()


class CampaignOut(serializers.ModelSerializer):  # type: ignore[type-arg]
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    recurrence_label = serializers.CharField(source="get_recurrence_display", read_only=True)
    segment = RefOut(allow_null=True, read_only=True)
    store = RefOut(allow_null=True, read_only=True)
    contact_way = RefOut(allow_null=True, read_only=True)
    created_by = RefOut(allow_null=True, read_only=True)
    approved_by = RefOut(allow_null=True, read_only=True)
    exclusion_segment_ids = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "kind",
            "kind_label",
            "status",
            "status_label",
            "text",
            "attachments",
            "segment",
            "expression",
            "group_ids",
            "exclusion_segment_ids",
            "holdout_percent",
            "priority",
            "value_per_conversion",
            "due_at",
            "recurrence",
            "recurrence_label",
            "recurrence_until",
            "store",
            "audience_store_ids",
            "contact_way",
            "created_by",
            "approved_by",
            "approved_at",
            "planned_at",
            "send_after",
            "finished_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_exclusion_segment_ids(self, obj: Campaign) -> list[int]:
        return sorted(s.pk for s in obj.exclusion_segments.all())


CAMPAIGN_EXAMPLE = {
    "id": 88,
    "name": "双十二老客回购",
    "kind": "broadcast_single",
    "kind_label": "客户群发",
    "status": "sending",
    "status_label": "发送中",
    "text": "亲爱的会员，双十二专享价已开启～",
    "attachments": [],
    "segment": {"id": 5, "name": "90 天内复购客户"},
    "expression": {},
    "group_ids": [],
    "exclusion_segment_ids": [9],
    "holdout_percent": 10,
    "priority": 0,
    "due_at": "2026-12-12T10:00:00+08:00",
    "recurrence": "",
    "recurrence_label": "",
    "recurrence_until": None,
    "store": None,
    "audience_store_ids": None,
    "contact_way": None,
    "created_by": {"id": 2, "name": "运营小周"},
    "approved_by": None,
    "approved_at": None,
    "planned_at": "2026-12-12T10:00:03+08:00",
    "send_after": "2026-12-12T10:00:00+08:00",
    "finished_at": None,
    "created_at": "2026-12-10T15:20:00+08:00",
    "updated_at": "2026-12-12T10:05:00+08:00",
}


class CampaignFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    status = django_filters.ChoiceFilter(choices=CampaignStatus.choices, method="apply", label=_l("状态"))
    kind = django_filters.ChoiceFilter(choices=CampaignKind.choices, method="apply", label=_l("类型"))
    q = django_filters.CharFilter(method="apply", label=_l("搜索：名称 / 文字内容"), max_length=100)

    class Meta:
        model = Campaign
        fields: list[str] = []

    def apply(self, queryset: QuerySet[Campaign], name: str, value: Any) -> QuerySet[Campaign]:
        return selectors.campaign_filter(queryset, **{name: value})


def _actor(view: APIView) -> Actor:
    return cast("AuthenticatedRequest", view.request).actor_obj  # HasActor set it before any handler


def _campaigns(actor: Actor) -> QuerySet[Campaign]:
    # The console's look-up (campaigns.views._campaign_for): the brand's campaigns, managers included.
    return actor.scope(
        Campaign.objects.select_related("segment", "store", "contact_way", "created_by", "approved_by")
    ).prefetch_related("exclusion_segments")


def _campaign(actor: Actor, pk: int) -> Campaign:
    campaign = _campaigns(actor).filter(pk=pk).first()
    if campaign is None:
        raise Http404(_("活动不存在"))
    return campaign


class CampaignListCreateView(generics.ListAPIView):  # type: ignore[type-arg]
    """GET: the brand's campaigns, newest first (filters: status, kind, q). POST: create (and by
    default submit) a campaign, as the wizard does."""

    allowed_roles = OPERATOR_AND_MANAGER  # the campaign pages' roles
    serializer_class = CampaignOut
    filterset_class = CampaignFilterSet

    def get_queryset(self) -> QuerySet[Campaign]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no actor
            return Campaign.objects.none()
        return _campaigns(_actor(self)).order_by("-created_at", "-id")

    @extend_schema(
        summary="活动列表（最新在前；筛选：状态、类型、搜索）",
        examples=[OpenApiExample("发送中的群发", value=CAMPAIGN_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=CampaignInput,
        responses={201: OpenApiResponse(description="id, status, url")},
        summary="新建活动（默认同时提交；submit=false 只存草稿）",
        examples=[
            OpenApiExample(
                "给一个分群群发",
                value={
                    "name": "双十二老客回购",
                    "text": "双十二专享价已开启～",
                    "segment_id": 5,
                    "holdout_percent": 10,
                },
                request_only=True,
            ),
            OpenApiExample(
                "已提交",
                value={"id": 88, "status": "scheduled", "url": "/campaigns/88/"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        ser = CampaignInput(data=request.data)
        ser.is_valid(raise_exception=True)
        actor = request.actor_obj
        try:
            campaign = services.campaign_create(organization=actor.organization, **_values(actor, ser.validated_data))
            if not isinstance(request.data, dict) or request.data.get("submit", True):
                campaign = services.campaign_submit(campaign=campaign, by=actor.staff)
        except (ValidationError, ValueError) as exc:
            return _errors(exc)
        return Response(
            {
                "id": campaign.pk,
                "status": campaign.status,
                "url": reverse("campaigns:campaign_detail", args=[campaign.pk]),
            },
            status=201,
        )


class CampaignDetailView(generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_AND_MANAGER
    serializer_class = CampaignOut

    def get_object(self) -> Campaign:
        return _campaign(_actor(self), self.kwargs["pk"])

    @extend_schema(
        summary="活动详情",
        examples=[OpenApiExample("发送中的群发", value=CAMPAIGN_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# The lifecycle steps the API offers, each the console's own service (campaigns.views.ACTIONS).
API_ACTIONS = {name: ACTIONS[name] for name in ("submit", "approve", "reject", "pause", "resume", "cancel")}
REVIEWS = ("approve", "reject")
ACTION_SUMMARIES = {
    "submit": "提交草稿（超过审批门槛时进入待审批）",
    "approve": "审批通过（店长不能审批自己创建的活动）",
    "reject": "驳回，退回草稿（店长不能驳回自己创建的活动）",
    "pause": "暂停活动（已排期或发送中）",
    "resume": "恢复已暂停的活动",
    "cancel": "取消活动（未发出的不再发送，预留的配额释放，未确认的企业微信任务撤回）",
}


ACTION_OUTCOMES = {
    "submit": CampaignStatus.SCHEDULED,
    "approve": CampaignStatus.SCHEDULED,
    "reject": CampaignStatus.DRAFT,
    "pause": CampaignStatus.PAUSED,
    "resume": CampaignStatus.SENDING,
    "cancel": CampaignStatus.CANCELLED,
}


class CampaignActionView(APIView):
    allowed_roles = OPERATOR_AND_MANAGER
    action_name = "pause"

    def act(self, request: AuthenticatedRequest, pk: int) -> Response:
        actor = request.actor_obj
        campaign = _campaign(actor, pk)
        if self.action_name in REVIEWS:
            refusal = services.campaign_review_refusal(campaign=campaign, staff=actor.staff, role=actor.role)
            if refusal:
                return Response({"detail": refusal}, status=403)
        try:
            API_ACTIONS[self.action_name](campaign=campaign, by=actor.staff)
        except (services.CampaignError, ValidationError) as exc:
            return _errors(exc)
        return Response(CampaignOut(_campaign(actor, pk)).data)


def action_view(name: str) -> Any:
    """The view of one lifecycle step (its own summary, operation and example in the schema)."""

    def post(self: CampaignActionView, request: AuthenticatedRequest, pk: int) -> Response:
        return self.act(request, pk)

    outcome = ACTION_OUTCOMES[name]
    post = extend_schema(
        request=None,
        responses={
            200: CampaignOut,
            400: OpenApiResponse(description="当前状态不能执行该操作，detail 说明原因"),
            403: OpenApiResponse(description="角色不允许；或店长审批自己创建的活动"),
            404: OpenApiResponse(description="活动不存在（含其他品牌的活动）"),
        },
        summary=ACTION_SUMMARIES[name],
        operation_id=f"campaigns_{name}",
        examples=[
            OpenApiExample(
                str(outcome.label),
                value={**CAMPAIGN_EXAMPLE, "status": outcome.value, "status_label": str(outcome.label)},
                response_only=True,
                status_codes=["200"],
            )
        ],
    )(post)
    view: type[CampaignActionView] = type(
        f"Campaign{name.title()}View", (CampaignActionView,), {"action_name": name, "post": post}
    )
    return view.as_view()


class ResultsOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=CampaignStatus.choices)
    status_label = serializers.CharField()
    progress = serializers.DictField(help_text="计划 / 已创建任务 / 送达 / 失败、排除原因、每位员工的确认情况")
    results = serializers.DictField(
        allow_null=True,
        help_text="归因订单、GMV、转化率（发送组 / 对照组）、提升及 95% 置信区间；尚未计算时为 null",
    )


RESULTS_EXAMPLE = {
    "id": 88,
    "status": "done",
    "status_label": "已完成",
    "progress": {
        "status": "done",
        "status_label": "已完成",
        "planned": 1200,
        "task_created": 1200,
        "confirmed_batches": 6,
        "total_batches": 6,
        "delivered": 1130,
        "failed": 70,
        "percent": 100,
        "exclusions": [{"reason": "holdout", "label": "对照组", "count": 133}],
        "failures": [{"reason": "quota_used_elsewhere", "label": "客户本周已收到其他企业群发", "count": 70}],
        "staff": [
            {
                "staff": "王敏",
                "batches": 1,
                "recipients": 200,
                "created": 1,
                "confirmed": 1,
                "delivered": 190,
                "problems": 0,
            }
        ],
        "needs_operator": 0,
    },
    "results": {
        "computed_at": "2026-12-20T03:00:00+08:00",
        "window_days": 7,
        "orders": 96,
        "buyers": 90,
        "gmv": "61234.00",
        "treated": {"customers": 1200, "converted": 90, "gmv": "61234.00"},
        "holdout": {"customers": 133, "converted": 5, "gmv": "2980.00"},
        "rate_treated": 0.075,
        "rate_holdout": 0.0376,
        "lift": 0.0374,
        "relative_lift": 0.995,
        "ci": [0.0019, 0.0729],
        "significant": True,
    },
}


class CampaignResultsView(APIView):
    """What the campaign page shows: the send's progress and, once computed, its results."""

    allowed_roles = OPERATOR_AND_MANAGER

    @extend_schema(
        responses={200: ResultsOut, 404: OpenApiResponse(description="活动不存在（含其他品牌的活动）")},
        summary="活动效果：发送进度、归因订单、转化率与提升（95% 置信区间）",
        examples=[OpenApiExample("已完成的群发", value=RESULTS_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        campaign = _campaign(request.actor_obj, pk)
        progress = selectors.campaign_progress(campaign=campaign)
        return Response(
            {
                "id": campaign.pk,
                "status": campaign.status,
                "status_label": str(campaign.get_status_display()),
                "progress": progress,
                "results": campaign.results or None,
            }
        )
