"""DRF serializers of the contacts API. Output only: writes go through input serializers + services.

Phone numbers: every serializer that shows one asks the actor in ``context["actor"]``; store staff
get the masked number (``138****8000``), everyone else the full one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.imports import upload_refusal
from contacts.models import (
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    Follow,
    Identity,
    ImportJob,
    Note,
    Segment,
    Tag,
    TagChoice,
    TagGroup,
)
from contacts.segment_schema import ExpressionField

INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1  # integer columns (order) and ids
EXPRESSION_HELP = '分群条件，例如 {"tags": {"all": [1]}, "consent": "granted"}；null 或 {} 表示全部客户'


def phone_for(context: Mapping[str, Any], customer: Customer) -> str:
    actor = context.get("actor")
    if actor is not None and actor.sees_full_phone:
        return customer.phone
    return customer.phone_masked


class StoreRefSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    name = serializers.CharField()


class CustomerSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    phone = serializers.SerializerMethodField()
    home_store = StoreRefSerializer(allow_null=True, read_only=True)
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "gender",
            "avatar",
            "phone",
            "unionid",
            "home_store",
            "source_channel",
            "lifecycle",
            "marketing_consent",
            "opted_out_at",
            "tag_ids",
            "tags",
            "ltv",
            "order_count",
            "last_order_at",
            "rfm_segment",
            "first_touch_at",
            "created_at",
        ]

    @extend_schema_field(serializers.CharField())
    def get_phone(self, obj: Customer) -> str:
        return phone_for(self.context, obj)

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_tags(self, obj: Customer) -> list[dict[str, Any]]:
        tags = self.context.get("tags") or {}
        return [
            {"id": t.pk, "name": t.name, "group_id": t.group_id}
            for t in (tags.get(tag_id) for tag_id in obj.tag_ids)
            if t is not None
        ]


class IdentitySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Identity
        fields = ["platform", "account", "external_id", "created_at"]


class FollowSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    staff_name = serializers.CharField(source="staff.name", read_only=True)

    class Meta:
        model = Follow
        fields = ["staff", "staff_name", "added_at", "add_way", "state", "remark", "description", "deleted_at"]


class CustomerDetailSerializer(CustomerSerializer):
    identities = IdentitySerializer(many=True, read_only=True)
    follows = FollowSerializer(many=True, read_only=True)

    class Meta(CustomerSerializer.Meta):
        fields = [
            *CustomerSerializer.Meta.fields,
            "first_touch",
            "attributes",
            "consent_at",
            "consent_source",
            "opt_out_source",
            "first_order_at",
            "avg_order_value",
            "identities",
            "follows",
        ]


class TagInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    tag = serializers.IntegerField(min_value=1, max_value=INT4_MAX)


class BulkTagInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    tag = serializers.IntegerField(min_value=1, max_value=INT4_MAX)
    customer_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=INT4_MAX), required=False, max_length=100000
    )
    expression = ExpressionField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("customer_ids" in attrs) == ("expression" in attrs):
            raise serializers.ValidationError(_("请提供 customer_ids（客户 ID 列表）或 expression（分群条件）二者之一"))
        return attrs


class NoteSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    author_name = serializers.CharField(source="author.name", read_only=True, default="")

    class Meta:
        model = Note
        fields = ["id", "body", "author", "author_name", "created_at"]
        read_only_fields = ["id", "author", "author_name", "created_at"]


class NoteInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    body = serializers.CharField(max_length=2000)


class OptOutInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    source = serializers.CharField(max_length=50, required=False, default="api")  # type: ignore[assignment]  # the metaclass pops declared fields


class EraseInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    reason = serializers.CharField(max_length=300)


class TagSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Tag
        fields = ["id", "group", "name", "wecom_tag_id", "order", "created_at"]
        read_only_fields = ["id", "wecom_tag_id", "created_at"]


class TagGroupSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    tags = TagSerializer(many=True, read_only=True)

    class Meta:
        model = TagGroup
        fields = ["id", "name", "choice", "origin", "order", "tags", "created_at"]
        read_only_fields = ["id", "origin", "tags", "created_at"]


class TagGroupInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=50, required=False)
    choice = serializers.ChoiceField(choices=TagChoice.choices, required=False)
    order = serializers.IntegerField(required=False, min_value=INT4_MIN, max_value=INT4_MAX)


class TagGroupCreateSerializer(TagGroupInputSerializer):
    name = serializers.CharField(max_length=50)


class TagInputCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    group = serializers.IntegerField(min_value=1, max_value=INT4_MAX)
    name = serializers.CharField(max_length=50)
    order = serializers.IntegerField(required=False, default=0, min_value=INT4_MIN, max_value=INT4_MAX)


class TagUpdateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=50, required=False)
    order = serializers.IntegerField(required=False, min_value=INT4_MIN, max_value=INT4_MAX)


class CustomerGroupSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    owner_name = serializers.CharField(source="owner.name", read_only=True, default="")
    store_name = serializers.CharField(source="store.name", read_only=True, default="")

    class Meta:
        model = CustomerGroup
        fields = [
            "id",
            "wecom_chat_id",
            "name",
            "owner",
            "owner_name",
            "store",
            "store_name",
            "notice",
            "member_count",
            "created_at",
            "dismissed_at",
        ]


class GroupMemberSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = CustomerGroupMember
        fields = ["member_id", "member_type", "name", "customer", "join_scene", "joined_at", "left_at"]


class CustomerGroupDetailSerializer(CustomerGroupSerializer):
    members = serializers.SerializerMethodField()

    class Meta(CustomerGroupSerializer.Meta):
        fields = [*CustomerGroupSerializer.Meta.fields, "members"]

    @extend_schema_field(GroupMemberSerializer(many=True))
    def get_members(self, obj: CustomerGroup) -> list[dict[str, Any]]:
        return GroupMemberSerializer(self.context.get("members", []), many=True).data  # type: ignore[return-value]


class SegmentSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    expression = ExpressionField(read_only=True)
    last_count = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="全品牌人数（保存、重新统计及每晚更新）"
    )
    last_counted_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="last_count 的统计时间")

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "expression",
            "last_count",
            "last_counted_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_count", "last_counted_at", "created_at", "updated_at"]


class SegmentInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    expression = ExpressionField(allow_null=True, help_text=EXPRESSION_HELP)


class SegmentPreviewInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    expression = ExpressionField(allow_null=True, help_text=EXPRESSION_HELP)
    limit = serializers.IntegerField(min_value=0, max_value=100, required=False, default=20)


class SegmentPreviewSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    description = serializers.CharField(
        help_text="规则的中文说明（一句话），例如 有标签“护肤”或“彩妆”，且最近 30 天下过单。"
    )
    sample = CustomerSerializer(many=True)


class ImportJobSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    # Plain text, not an enum: another app's "status" choices would collide in the OpenAPI enum names.
    status = serializers.CharField(
        read_only=True, help_text="pending 排队中 / running 导入中 / done 已完成 / failed 失败"
    )

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "filename",
            "status",
            "total_rows",
            "processed_rows",
            "created_count",
            "updated_count",
            "rejected_count",
            "to_lead_pool",
            "errors",
            "message",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ImportInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    file = serializers.FileField()
    to_lead_pool = serializers.BooleanField(
        required=False,
        default=False,
        help_text="导入后进入线索公海：有手机号、还不是企业微信好友的客户进入线索公海",
    )

    def validate_file(self, upload: Any) -> Any:
        refusal = upload_refusal(upload.size)
        if refusal:
            raise serializers.ValidationError(refusal)
        return upload
