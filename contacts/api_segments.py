"""Segment members for integrators: ``GET /segments/{id}/members/`` and ``POST /customers/search/``
(an expression or a saved segment in the body), both paged with the stable snapshot cursor of
:mod:`contacts.segment_members` — the way to export a segment of a million customers."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import selectors
from contacts.access import ALL_ROLES, OPERATOR_AND_MANAGER
from contacts.api import ContactsAPIView
from contacts.models import Segment
from contacts.segment_members import DEFAULT_LIMIT, MAX_LIMIT, CursorError, MembersPage, members_page
from contacts.segment_schema import ExpressionField
from contacts.serializers import EXPRESSION_HELP, INT4_MAX, CustomerSerializer

CURSOR_HELP = "上一页返回的 next_cursor；不填为第一页（此时固定快照：之后新建的客户不会出现在本次翻页中）"


class MembersPageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    as_of = serializers.DateTimeField(help_text="快照时间（第一页请求时）；翻页期间新建的客户不计入")
    next_cursor = serializers.CharField(allow_null=True, help_text="下一页的 cursor；null 表示已到最后一页")
    next = serializers.CharField(allow_null=True, help_text="下一页的地址（GET 接口），或 null")
    results = CustomerSerializer(many=True)


class SearchInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    expression = ExpressionField(required=False, allow_null=True, help_text=EXPRESSION_HELP)
    segment = serializers.IntegerField(required=False, min_value=1, max_value=INT4_MAX, help_text="已保存分群的 ID")
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text=CURSOR_HELP)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("expression" in attrs) == ("segment" in attrs):
            raise serializers.ValidationError(_("请提供 expression（分群条件）或 segment（分群 ID）二者之一"))
        return attrs


MEMBERS_EXAMPLE = {
    "as_of": "2026-12-03T22:10:00+08:00",
    "next_cursor": "eyJhIjo1MDIsIm0iOjk5OTl9:1t...",
    "next": "/api/v1/segments/7/members/?cursor=eyJhIjo1MDIsIm0iOjk5OTl9%3A1t...&limit=200",
    "results": [],
}


class _MembersBase(ContactsAPIView):
    def page_response(self, page: MembersPage, next_url: str | None) -> Response:
        context = {
            **self.get_serializer_context(),
            "tags": selectors.tag_map(organization_id=self.actor.organization_id),
        }
        return Response(
            {
                "as_of": page.as_of,
                "next_cursor": page.next_cursor,
                "next": next_url,
                "results": CustomerSerializer(page.customers, many=True, context=context).data,
            }
        )

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, CursorError):
            exc = ValidationError({"cursor": [str(exc)]})
        return super().handle_exception(exc)

    def scoped_segment(self, pk: int) -> Segment | None:
        return self.actor.scope(Segment.objects.all()).filter(pk=pk).first()


def _limit(request: Request) -> int:
    raw = str(request.query_params.get("limit", DEFAULT_LIMIT)).strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 5 or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError({"limit": [_("必须是 1 到 %(max)s 之间的整数") % {"max": MAX_LIMIT}]})
    return int(raw)


class SegmentMembersView(_MembersBase):
    allowed_roles = OPERATOR_AND_MANAGER

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str, description=CURSOR_HELP),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                description=f"每页条数，1–{MAX_LIMIT}，默认 {DEFAULT_LIMIT}",
            ),
        ],
        responses=MembersPageSerializer,
        summary="分群成员（按客户 ID 翻页，快照游标，仅限可见门店）",
        examples=[OpenApiExample("一页成员", value=MEMBERS_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, pk: int) -> Response:
        segment = self.scoped_segment(pk)
        if segment is None:
            raise Http404(_("分群不存在"))
        cursor = str(request.query_params.get("cursor", ""))
        if len(cursor) > 2000:
            raise ValidationError({"cursor": [_("cursor 过长：请使用上一页返回的 next_cursor")]})
        limit = _limit(request)
        page = members_page(actor=self.actor, expression=segment.expression, cursor=cursor or None, limit=limit)
        next_url = (
            f"{request.path}?{urlencode({'cursor': page.next_cursor, 'limit': str(limit)})}"
            if page.next_cursor
            else None
        )
        return self.page_response(page, next_url)


class CustomerSearchView(_MembersBase):
    allowed_roles = ALL_ROLES

    @extend_schema(
        request=SearchInputSerializer,
        responses=MembersPageSerializer,
        summary="按分群条件查找客户（按客户 ID 翻页，快照游标，仅限可见门店）",
        examples=[
            OpenApiExample(
                "金卡且同意营销",
                value={"expression": {"tags": {"all": [1]}, "consent": "granted"}, "limit": 200},
                request_only=True,
            ),
            OpenApiExample(
                "一页客户", value={**MEMBERS_EXAMPLE, "next": None}, response_only=True, status_codes=["200"]
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = SearchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "segment" in values:
            segment = self.scoped_segment(values["segment"])
            if segment is None:
                raise ValidationError({"segment": [_("分群不存在，请刷新分群列表后重试")]})
            expression = segment.expression
        else:
            expression = values["expression"]
        page = members_page(
            actor=self.actor, expression=expression, cursor=values.get("cursor") or None, limit=values["limit"]
        )
        return self.page_response(page, None)
