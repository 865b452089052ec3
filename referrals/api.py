"""REST API of 任务宝: list campaigns, enrol a participant, a participant's progress. Refusals are
400 ``{"<field>": ["reason"]}``; rows outside the caller's scope are 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.access import ALL_ROLES, AuthenticatedRequest
from contacts.models import Customer
from referrals import selectors, services
from referrals.models import EnrolSource, ReferralCampaign, ReferralParticipant

CAMPAIGN_EXAMPLE = {
    "id": 3,
    "name": "老带新·邀 3 位好友得 10 元券",
    "status": "running",
    "status_label": "进行中",
    "goal": 3,
    "reward": "任务宝奖励 10 元",
    "goal2": 10,
    "reward2": "任务宝奖励 50 元",
    "store": None,
    "starts_at": "2026-12-01T00:00:00+08:00",
    "ends_at": "2026-12-31T23:59:59+08:00",
}
PROGRESS_EXAMPLE = {
    "id": 41,
    "campaign_id": 3,
    "customer_id": 1024,
    "poster_url": "https://scrm.example.com/r/3f2a…:sig/",
    "valid": 2,
    "pending": 1,
    "goal": 3,
    "tiers": [
        {"tier": 1, "goal": 3, "reward": "任务宝奖励 10 元", "reached": False, "status": "", "status_label": ""},
        {"tier": 2, "goal": 10, "reward": "任务宝奖励 50 元", "reached": False, "status": "", "status_label": ""},
    ],
}


class ReferralCampaignOut(serializers.ModelSerializer[ReferralCampaign]):
    status = serializers.CharField(help_text="draft 草稿 / running 进行中 / ended 已结束")
    status_label = serializers.CharField(source="get_status_display")
    reward = serializers.CharField(source="reward.name")
    reward2 = serializers.CharField(source="reward2.name", default=None, allow_null=True)
    store = serializers.IntegerField(source="store_id", allow_null=True)

    class Meta:
        model = ReferralCampaign
        fields = [
            "id",
            "name",
            "status",
            "status_label",
            "goal",
            "reward",
            "goal2",
            "reward2",
            "store",
            "starts_at",
            "ends_at",
        ]


class ReferralTierOut(serializers.Serializer[Any]):
    tier = serializers.IntegerField()
    goal = serializers.IntegerField()
    reward = serializers.CharField()
    reached = serializers.BooleanField()
    status = serializers.CharField(help_text="'' 未达成 / pending 发放中 / issued 已发放 / failed 发放失败")
    status_label = serializers.CharField()


class ReferralProgressOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    campaign_id = serializers.IntegerField()
    customer_id = serializers.IntegerField()
    poster_url = serializers.CharField(help_text="参与者专属海报（签名链接，无需登录，不含手机号）")
    valid = serializers.IntegerField(help_text="有效新好友（添加满 24 小时且未删除）")
    pending = serializers.IntegerField(help_text="待确认的新好友（添加不满 24 小时）")
    goal = serializers.IntegerField()
    tiers = ReferralTierOut(many=True)


def _progress(participant: ReferralParticipant) -> dict[str, Any]:
    data = selectors.progress(participant)
    return {
        "id": participant.pk,
        "campaign_id": participant.campaign_id,
        "customer_id": participant.customer_id,
        "poster_url": services.poster_link(participant.token),
        **data,
    }


class CampaignList(generics.ListAPIView[ReferralCampaign]):
    """任务宝 campaigns you can see (brand-wide ones and those of your stores), newest first."""

    allowed_roles = ALL_ROLES
    serializer_class = ReferralCampaignOut

    def get_queryset(self) -> QuerySet[ReferralCampaign]:
        if getattr(self, "swagger_fake_view", False):
            return ReferralCampaign.objects.none()
        return selectors.campaigns_for_actor(self.request.actor_obj)  # type: ignore[attr-defined]

    @extend_schema(
        summary="任务宝活动列表",
        examples=[OpenApiExample("一个活动", value=CAMPAIGN_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ReferralEnrolIn(serializers.Serializer[Any]):
    customer_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class ParticipantEnrol(APIView):
    """Enrol one customer of your scope in a running campaign; their 渠道活码 is made on WeCom.
    Enrolling again returns the existing participant (200)."""

    allowed_roles = ALL_ROLES
    serializer_class = ReferralEnrolIn

    @extend_schema(
        request=ReferralEnrolIn,
        responses={
            201: ReferralProgressOut,
            200: OpenApiResponse(ReferralProgressOut, description="已在活动中：原参与者"),
        },
        summary="邀请客户参加任务宝",
        examples=[
            OpenApiExample("邀请一位客户", value={"customer_id": 1024}, request_only=True),
            OpenApiExample("参与者", value=PROGRESS_EXAMPLE, response_only=True, status_codes=["201", "200"]),
        ],
    )
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        actor = request.actor_obj
        campaign = selectors.campaign_for_actor(actor, pk)
        if campaign is None:
            return Response({"detail": "任务宝活动不存在，或不在你的范围内"}, status=status.HTTP_404_NOT_FOUND)
        data_in = ReferralEnrolIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        customer = actor.scope(Customer.objects.filter(pk=data_in.validated_data["customer_id"])).first()
        if customer is None:
            return Response({"customer_id": ["客户不存在，或不在你可查看的门店"]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            participant, created = services.referral_participant_enrol(
                campaign=campaign, customer=customer, by=actor.staff, source=EnrolSource.API
            )
        except services.ReferralError as exc:
            return Response({exc.field or "detail": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        services.referral_code_ensure(participant=participant)
        return Response(_progress(participant), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ParticipantProgress(APIView):
    """A participant's progress (valid and pending new friends, each reward tier) and poster link."""

    allowed_roles = ALL_ROLES

    @extend_schema(
        responses={200: ReferralProgressOut},
        summary="任务宝参与者进度",
        examples=[OpenApiExample("进度", value=PROGRESS_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        actor = request.actor_obj
        participant = (
            actor.scope(ReferralParticipant.objects.filter(pk=pk, erased_at__isnull=True))
            .select_related("campaign__reward", "campaign__reward2")
            .first()
        )
        if participant is None or selectors.campaign_for_actor(actor, participant.campaign_id) is None:
            return Response({"detail": "参与者不存在，或不在你的范围内"}, status=status.HTTP_404_NOT_FOUND)
        return Response(_progress(participant))
