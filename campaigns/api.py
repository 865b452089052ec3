"""JSON API for the wizard: a dry-run preview (live count, exclusions, quota) and create + submit."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import selectors, services
from campaigns.models import CampaignKind, Recurrence
from channels.models import ContactWay, ContactWayKind
from contacts.access import OPERATOR_AND_MANAGER, Actor, AuthenticatedRequest
from contacts.models import CustomerGroup, Segment
from contacts.segment_schema import ExpressionField
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
    due_at = BoundedDateTimeField(required=False, allow_null=True, default=None)
    recurrence = serializers.ChoiceField(choices=Recurrence.choices, required=False, default="")
    recurrence_until = BoundedDateTimeField(required=False, allow_null=True, default=None)
    # Welcome templates: the 渠道活码 it answers; empty = the default for every 活码.
    contact_way_id = serializers.IntegerField(required=False, allow_null=True, default=None)


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
        "due_at": data.get("due_at"),
        "recurrence": data.get("recurrence") or "",
        "recurrence_until": data.get("recurrence_until"),
        # A manager's campaign reaches exactly the customers of their stores (own + managed), the
        # same ``actor.store_ids`` their segment preview counts; an operator's reaches the brand.
        "store": actor.staff.store if actor.store_ids is not None else None,
        "audience_store_ids": actor.store_ids,
        "created_by": actor.staff,
        "contact_way": contact_way,
    }


def _errors(exc: Exception) -> Response:
    msgs = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
    return Response({"detail": "；".join(msgs), "errors": msgs}, status=400)


class CampaignPreviewView(APIView):
    allowed_roles = OPERATOR_AND_MANAGER

    @extend_schema(
        request=CampaignInput,
        responses={200: OpenApiResponse(description="recipients, audience, exclusions by reason, batches, quota")},
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


class CampaignCreateView(APIView):
    allowed_roles = OPERATOR_AND_MANAGER

    @extend_schema(request=CampaignInput, responses={201: OpenApiResponse(description="id, status, url")})
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
