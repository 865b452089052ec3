"""REST API of channels (mounted at /api/v1/ by ``channels.api_urls``): connected accounts, 活码
(ContactWay) and leads.

The same doors as the console pages: the role sets their views are decorated with
(``channels/views.py``, ``channels/wecom/views.py``, ``channels/leads/views.py``), every look-up
through ``actor.scope``. A 活码 is validated by the console's own :class:`ContactWayForm` (whose
choices are the actor's stores, staff and tags) and saved through the same service, so it is pushed
to WeCom exactly as from the page. No credential (secret, token, EncodingAESKey) ever leaves here.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from channels import selectors
from channels.errors import PlatformError, TransientError
from channels.leads.views import LeadFilterForm, leads_filter
from channels.models import ChannelAccount, ChannelPlatform, ContactWay, ContactWayKind, Lead, LeadSource
from channels.wecom import contact_ways
from channels.wecom.forms import ContactWayForm, contact_way_initial, contact_way_save_from_form
from contacts.access import OPERATOR_AND_MANAGER, OPERATOR_ONLY
from contacts.api import ContactsAPIView
from contacts.models import SourceChannel
from contacts.serializers import INT4_MAX, StoreRefSerializer


class ChannelsAPIView(ContactsAPIView):
    # The contacts base (actor, scoped querysets, refusals as 400) plus the 活码 service's refusals.

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, contact_ways.ContactWayError):
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, PlatformError | TransientError):
            message = _("企业微信调用失败：%(e)s，请稍后重试") % {"e": exc}
            return Response({"detail": message}, status=status.HTTP_502_BAD_GATEWAY)
        return super().handle_exception(exc)


class RefSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    name = serializers.CharField()


# --- channel accounts ----------------------------------------------------------------------------


class ChannelAccountSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """What the 渠道账号 page shows. The credentials are write-only on the page and absent here."""

    platform_label = serializers.CharField(source="get_platform_display", read_only=True)
    default_store = StoreRefSerializer(allow_null=True, read_only=True)
    has_credentials = serializers.SerializerMethodField()
    callback_url = serializers.SerializerMethodField()

    class Meta:
        model = ChannelAccount
        fields = [
            "id",
            "platform",
            "platform_label",
            "name",
            "external_id",
            "agent_id",
            "default_store",
            "is_active",
            "has_credentials",
            "callback_url",
            "last_tested_at",
            "last_test_ok",
            "last_error",
            "last_synced_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField(help_text="是否已保存凭据（凭据本身从不返回）"))
    def get_has_credentials(self, obj: ChannelAccount) -> bool:
        return bool(obj.credentials_encrypted)

    @extend_schema_field(serializers.CharField(help_text="填入平台后台的回调地址（与渠道账号页相同）"))
    def get_callback_url(self, obj: ChannelAccount) -> str:
        return selectors.callback_url(obj)


ACCOUNT_EXAMPLE = {
    "id": 1,
    "platform": "wecom",
    "platform_label": "企业微信",
    "name": "悦享生活企业微信",
    "external_id": "ww6a1f0c2d3e4b5a69",
    "agent_id": "1000002",
    "default_store": {"id": 3, "name": "静安嘉里店"},
    "is_active": True,
    "has_credentials": True,
    "callback_url": "https://scrm.example.com/hooks/wecom/Zk3…/",
    "last_tested_at": "2026-11-30T09:12:00+08:00",
    "last_test_ok": True,
    "last_error": "",
    "last_synced_at": "2026-12-01T03:00:05+08:00",
    "created_at": "2026-03-01T10:00:00+08:00",
}


class ChannelAccountFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    platform = django_filters.ChoiceFilter(choices=ChannelPlatform.choices, label=_l("平台"))
    is_active = django_filters.BooleanFilter(label=_l("启用"))

    class Meta:
        model = ChannelAccount
        fields: list[str] = []


class ChannelAccountListView(ChannelsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_ONLY  # the 渠道账号 page's roles (channels.views.account_list)
    serializer_class = ChannelAccountSerializer
    filterset_class = ChannelAccountFilterSet

    def scoped_queryset(self) -> QuerySet[ChannelAccount]:
        return self.actor.scope(ChannelAccount.objects.select_related("default_store")).order_by("platform", "id")

    @extend_schema(
        summary="渠道账号列表（运营；不含任何凭据）",
        examples=[OpenApiExample("企业微信账号", value=ACCOUNT_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ChannelAccountDetailView(ChannelsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_ONLY
    serializer_class = ChannelAccountSerializer

    def scoped_queryset(self) -> QuerySet[ChannelAccount]:
        return self.actor.scope(ChannelAccount.objects.select_related("default_store"))

    @extend_schema(
        summary="渠道账号详情（运营；不含任何凭据）",
        examples=[OpenApiExample("企业微信账号", value=ACCOUNT_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# --- 活码 (ContactWay) ----------------------------------------------------------------------------


class ContactWaySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    channel_label = serializers.CharField(source="get_channel_display", read_only=True)
    store = StoreRefSerializer(allow_null=True, read_only=True)
    staff = RefSerializer(many=True, read_only=True)
    backup_staff = RefSerializer(many=True, read_only=True)
    tags = RefSerializer(many=True, read_only=True)

    class Meta:
        model = ContactWay
        fields = [
            "id",
            "account",
            "kind",
            "kind_label",
            "name",
            "state",
            "channel",
            "channel_label",
            "store",
            "staff",
            "tags",
            "welcome_text",
            "skip_verify",
            "chat_ids",
            "auto_create_room",
            "room_base_name",
            "room_base_id",
            "remark_template",
            "daily_cap",
            "member_caps",
            "backup_staff",
            "qr_code",
            "is_active",
            "sync_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ContactWayInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The 活码 form's fields as JSON (ids for store, staff and tags). On PATCH only the given fields
    change; the rest keep their current values. Bounds and scoping are the console form's."""

    kind = serializers.ChoiceField(
        choices=ContactWayKind.choices, required=False, help_text="创建时有效：contact 渠道活码 / join 群活码"
    )
    name = serializers.CharField(max_length=100, required=False)
    state = serializers.CharField(max_length=30, required=False, allow_blank=True, help_text="渠道参数；留空自动生成")
    channel = serializers.ChoiceField(choices=SourceChannel.choices, required=False)
    store = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=INT4_MAX)
    staff = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=INT4_MAX), required=False, max_length=100
    )
    tags = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=INT4_MAX), required=False, max_length=100
    )
    welcome_text = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    skip_verify = serializers.BooleanField(required=False)
    chat_ids = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=5)
    auto_create_room = serializers.BooleanField(required=False)
    room_base_name = serializers.CharField(max_length=40, required=False, allow_blank=True)
    room_base_id = serializers.IntegerField(required=False, min_value=1, max_value=INT4_MAX)
    remark_template = serializers.CharField(max_length=60, required=False, allow_blank=True)
    daily_cap = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10000)
    member_caps = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=10000), required=False, help_text="企业微信账号 → 上限"
    )
    backup_staff = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=INT4_MAX), required=False, max_length=100
    )


def _form_value(value: Any) -> Any:
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, list):
        return [_form_value(v) for v in value]
    return "" if value is None else value


def _form_data(way: ContactWay | None, changes: dict[str, Any]) -> dict[str, Any]:
    """The form's data: the code's current values (none for a new one) overlaid with ``changes``."""
    data = {k: _form_value(v) for k, v in (contact_way_initial(way) if way else {}).items()}
    if way is None:
        data.update(skip_verify=True, auto_create_room=True, channel=SourceChannel.WECOM, room_base_id=1)
    for key, value in changes.items():
        if key == "chat_ids":
            data[key] = "\n".join(value)
        elif key == "member_caps":
            data[key] = "\n".join(f"{u}={n}" for u, n in value.items())
        else:
            data[key] = _form_value(value)
    if way is not None:
        data["kind"] = way.kind  # the kind of an existing code never changes
    return data


def _form_errors(form: ContactWayForm) -> dict[str, list[str]]:
    return {
        ("non_field_errors" if field == "__all__" else field): [str(m) for m in messages]
        for field, messages in form.errors.items()
    }


CONTACT_WAY_EXAMPLE = {
    "id": 12,
    "account": 1,
    "kind": "contact",
    "kind_label": "渠道活码",
    "name": "静安店前台海报",
    "state": "cw_ja_poster",
    "channel": "offline",
    "channel_label": "线下门店",
    "store": {"id": 3, "name": "静安嘉里店"},
    "staff": [{"id": 17, "name": "王敏"}, {"id": 18, "name": "李娜"}],
    "tags": [{"id": 40, "name": "门店扫码"}],
    "welcome_text": "您好，我是静安店的专属顾问～",
    "skip_verify": True,
    "chat_ids": [],
    "auto_create_room": True,
    "room_base_name": "",
    "room_base_id": 1,
    "remark_template": "{channel}-{store}",
    "daily_cap": 50,
    "member_caps": {"wangmin": 30},
    "backup_staff": [{"id": 19, "name": "陈静"}],
    "qr_code": "https://wework.qpic.cn/wwpic/…/0",
    "is_active": True,
    "sync_error": "",
    "created_at": "2026-11-01T10:00:00+08:00",
    "updated_at": "2026-11-20T16:30:00+08:00",
}
CONTACT_WAY_INPUT_EXAMPLE = OpenApiExample(
    "两位导购接待的门店活码",
    value={
        "kind": "contact",
        "name": "静安店前台海报",
        "channel": "offline",
        "store": 3,
        "staff": [17, 18],
        "tags": [40],
        "welcome_text": "您好，我是静安店的专属顾问～",
        "daily_cap": 50,
        "member_caps": {"wangmin": 30},
        "backup_staff": [19],
    },
    request_only=True,
)


class ContactWayFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    kind = django_filters.ChoiceFilter(choices=ContactWayKind.choices, label=_l("类型"))
    store = django_filters.NumberFilter(field_name="store_id", label=_l("门店 ID"), min_value=1, max_value=INT4_MAX)
    is_active = django_filters.BooleanFilter(label=_l("启用"))
    q = django_filters.CharFilter(method="search", label=_l("搜索：名称 / 渠道参数"), max_length=100)

    class Meta:
        model = ContactWay
        fields: list[str] = []

    def search(self, queryset: QuerySet[ContactWay], name: str, value: str) -> QuerySet[ContactWay]:
        return queryset.filter(Q(name__icontains=value.strip()) | Q(state__icontains=value.strip()))


def _ways(view: ContactsAPIView) -> QuerySet[ContactWay]:
    return view.actor.scope(ContactWay.objects.select_related("store", "account")).prefetch_related(
        "tags", "staff", "backup_staff"
    )


def _saved(view: ChannelsAPIView, way: ContactWay | None, request: Request) -> ContactWay:
    data_in = ContactWayInputSerializer(data=request.data, partial=way is not None)
    data_in.is_valid(raise_exception=True)
    changes = dict(data_in.validated_data)
    if way is None and "name" not in changes:
        raise ValidationError({"name": [_("请填写活码名称")]})
    form = ContactWayForm(_form_data(way, changes), actor=view.actor)
    if not form.is_valid():
        raise ValidationError(_form_errors(form))
    account = way.account if way else selectors.wecom_account_for(organization=view.actor.organization)
    if account is None:
        raise ValidationError({"detail": _("还没有连接企业微信：请先在“渠道账号”页连接，再创建活码")})
    saved = contact_way_save_from_form(account=account, way=way, data=form.cleaned_data, by=view.actor.staff)
    return _ways(view).get(pk=saved.pk)


class ContactWayListView(ChannelsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    # The pages' roles: the list for operators and managers (their stores' codes), edits for operators.
    allowed_roles = OPERATOR_AND_MANAGER
    write_roles = OPERATOR_ONLY
    serializer_class = ContactWaySerializer
    filterset_class = ContactWayFilterSet

    def scoped_queryset(self) -> QuerySet[ContactWay]:
        return _ways(self).order_by("-created_at", "-id")

    @extend_schema(
        summary="活码列表（渠道活码 / 群活码）",
        examples=[OpenApiExample("渠道活码", value=CONTACT_WAY_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ContactWayInputSerializer,
        responses={201: ContactWaySerializer},
        examples=[
            CONTACT_WAY_INPUT_EXAMPLE,
            OpenApiExample("已创建并同步", value=CONTACT_WAY_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
        summary="新建活码并同步到企业微信（运营；同步失败时 sync_error 说明原因）",
    )
    def post(self, request: Request) -> Response:
        way = _saved(self, None, request)
        return Response(ContactWaySerializer(way).data, status=status.HTTP_201_CREATED)


class ContactWayDetailView(ChannelsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_AND_MANAGER
    write_roles = OPERATOR_ONLY
    serializer_class = ContactWaySerializer

    def scoped_queryset(self) -> QuerySet[ContactWay]:
        return _ways(self)

    @extend_schema(
        summary="活码详情",
        examples=[OpenApiExample("渠道活码", value=CONTACT_WAY_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ContactWayInputSerializer,
        responses=ContactWaySerializer,
        examples=[
            OpenApiExample("改名称", value={"name": "静安店收银台"}, request_only=True),
            OpenApiExample(
                "已修改并同步",
                value={**CONTACT_WAY_EXAMPLE, "name": "静安店收银台"},
                response_only=True,
                status_codes=["200"],
            ),
        ],
        summary="修改活码并同步到企业微信（运营；只改给出的字段）",
    )
    def patch(self, request: Request, pk: int) -> Response:
        way = _saved(self, self.get_object(), request)
        return Response(ContactWaySerializer(way).data)

    @extend_schema(
        responses={
            204: None,
            502: OpenApiResponse(description="企业微信调用失败，活码未停用，可稍后重试"),
        },
        summary="停用活码（在企业微信删除，保留本地记录以便归因）",
    )
    def delete(self, request: Request, pk: int) -> Response:
        contact_ways.contact_way_disable(way=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- leads ---------------------------------------------------------------------------------------


class LeadSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    source_label = serializers.CharField(source="get_source_display", read_only=True)
    phone = serializers.CharField(source="phone_masked", read_only=True, help_text="脱敏手机号（与线索页相同）")
    store = StoreRefSerializer(allow_null=True, read_only=True)
    form = serializers.SerializerMethodField()
    converted = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id",
            "source",
            "source_label",
            "account",
            "form",
            "name",
            "phone",
            "ad_id",
            "ad_name",
            "campaign_name",
            "store",
            "customer",
            "converted",
            "marketing_consent",
            "occurred_at",
            "received_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_form(self, obj: Lead) -> dict[str, Any] | None:
        return {"id": obj.form.pk, "name": obj.form.title} if obj.form else None

    @extend_schema_field(serializers.BooleanField(help_text="是否已建档为客户"))
    def get_converted(self, obj: Lead) -> bool:
        return obj.customer_id is not None


LEAD_EXAMPLE = {
    "id": 305,
    "source": "ocean_engine",
    "source_label": "巨量引擎广告线索",
    "account": 2,
    "form": None,
    "name": "示例客户",
    "phone": "138****8000",
    "ad_id": "1790000000001",
    "ad_name": "双十二焕肤体验",
    "campaign_name": "上海-女性-25~40",
    "store": {"id": 3, "name": "静安嘉里店"},
    "customer": 42,
    "converted": True,
    "marketing_consent": True,
    "occurred_at": "2026-11-28T20:15:00+08:00",
    "received_at": "2026-11-28T20:16:02+08:00",
}
LEAD_STATUSES = [("converted", _l("已建档客户")), ("not_converted", _l("未建档（无手机号）"))]


class LeadFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    # Parsed here for the schema and the 400s; applied by the leads page's own filter (leads_filter).
    q = django_filters.CharFilter(method="keep", label=_l("搜索：姓名 / 广告名称 / 广告ID / 计划"), max_length=100)
    source = django_filters.ChoiceFilter(choices=LeadSource.choices, method="keep", label=_l("来源"))
    status = django_filters.ChoiceFilter(choices=LEAD_STATUSES, method="keep", label=_l("是否建档"))
    date_from = django_filters.DateFilter(method="keep", label=_l("开始日期（北京时间，含）"))
    date_to = django_filters.DateFilter(method="keep", label=_l("结束日期（北京时间，含）"))
    store = django_filters.NumberFilter(method="keep", label=_l("门店 ID"), min_value=1, max_value=INT4_MAX)

    class Meta:
        model = Lead
        fields: list[str] = []

    def keep(self, queryset: QuerySet[Lead], name: str, value: Any) -> QuerySet[Lead]:
        return queryset  # every filter is applied together in filter_queryset

    def filter_queryset(self, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        data = self.form.cleaned_data
        page_form = LeadFilterForm(
            {
                "q": data.get("q") or "",
                "source": data.get("source") or "",
                "converted": {"converted": "yes", "not_converted": "no"}.get(data.get("status") or "", ""),
                "date_from": data.get("date_from") or "",
                "date_to": data.get("date_to") or "",
            }
        )
        # The page's filter, which scopes to the actor itself; the store within that scope.
        leads = leads_filter(self.request.actor_obj, page_form)
        if data.get("store"):
            leads = leads.filter(store_id=int(data["store"]))
        return leads.order_by("-occurred_at", "-id")


class LeadListView(ChannelsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_AND_MANAGER  # the leads page's roles (channels.leads.views.lead_list)
    serializer_class = LeadSerializer
    filterset_class = LeadFilterSet

    def scoped_queryset(self) -> QuerySet[Lead]:
        return self.actor.scope(Lead.objects.select_related("form", "store")).order_by("-occurred_at", "-id")

    @extend_schema(
        summary="线索列表（筛选：来源、是否建档、门店、日期）",
        examples=[OpenApiExample("一条线索", value=LEAD_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class LeadDetailView(ChannelsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_AND_MANAGER
    serializer_class = LeadSerializer

    def scoped_queryset(self) -> QuerySet[Lead]:
        return self.actor.scope(Lead.objects.select_related("form", "store"))

    @extend_schema(
        summary="线索详情",
        examples=[OpenApiExample("一条线索", value=LEAD_EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
