"""REST API of the contacts app (``/api/v1/``): thin views — parse, call one service/selector, render.

Permissions: ``contacts.access.HasActor`` (default) with ``allowed_roles`` / ``write_roles`` per view;
every object is fetched through the actor's scope, so another store's or organization's row is a 404,
never a 403 that would confirm it exists. Refused writes change nothing (services are atomic).
"""

from __future__ import annotations

from typing import Any, cast

import django_filters
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts import crypto, imports, selectors, services
from contacts.access import ALL_ROLES, OPERATOR_AND_MANAGER, OPERATOR_ONLY, Actor, AuthenticatedRequest
from contacts.models import (
    Customer,
    CustomerGroup,
    ImportJob,
    Lifecycle,
    Note,
    Segment,
    SourceChannel,
    Tag,
    TagGroup,
)
from contacts.segments import SegmentError, describe, segment_count, segment_queryset, segment_sample, validate
from contacts.serializers import (
    BulkTagInputSerializer,
    CustomerDetailSerializer,
    CustomerGroupDetailSerializer,
    CustomerGroupSerializer,
    CustomerSerializer,
    EraseInputSerializer,
    ImportInputSerializer,
    ImportJobSerializer,
    NoteInputSerializer,
    NoteSerializer,
    OptOutInputSerializer,
    SegmentInputSerializer,
    SegmentPreviewInputSerializer,
    SegmentPreviewSerializer,
    SegmentSerializer,
    TagGroupCreateSerializer,
    TagGroupInputSerializer,
    TagGroupSerializer,
    TagInputCreateSerializer,
    TagInputSerializer,
    TagSerializer,
    TagUpdateSerializer,
)
from contacts.views.imports import export_response
from scrm.fields import ID_SCHEMA, BoundedDateTimeField, IdFilter, TextFilter

CONSENT_FILTER = [("granted", _l("同意营销")), ("not_granted", _l("未授权")), ("opted_out", _l("已退订"))]
REFUSALS = (services.ContactsError, SegmentError, crypto.InvalidPhone)
# A tag-catalogue change WeCom could not be reached for: recorded and retried, applied once accepted.
# (A refusal by WeCom is a 400 whose detail carries WeCom's reason in Chinese.)
PENDING_202 = OpenApiResponse(
    response=inline_serializer(
        "CataloguePending", {"detail": serializers.CharField(), "pending": serializers.BooleanField()}
    ),
    description="企业微信暂时无法连接：修改已记录并自动重试，企业微信接受后生效",
)


class TagUsageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.CharField(help_text="segment 分群 / campaign 营销活动 / journey 旅程 …")
    kind_label = serializers.CharField()
    object_id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(help_text="控制台中的页面地址")
    status = serializers.CharField(help_text="营销活动的状态（其他为空）")
    effects = serializers.ListField(
        child=serializers.CharField(),
        help_text="删除后规则的变化：widens_all / narrows_any / drops_any / widens_none / everyone / inverted / "
        "moment_visibility / moment_everyone",
    )
    effect_labels = serializers.ListField(child=serializers.CharField(), help_text="同上，中文说明")
    blocked = serializers.CharField(help_text="非空：该使用处阻止删除，说明需先做什么")


TAG_IN_USE_409 = OpenApiResponse(
    response=inline_serializer(
        "TagInUse", {"detail": serializers.CharField(), "usages": TagUsageSerializer(many=True)}
    ),
    description="标签被分群或活动规则使用：未确认（confirm=true）时列出使用位置；有阻止删除的使用处时即使确认也拒绝",
)
CONFIRM_PARAM = OpenApiParameter(
    "confirm", bool, description="确认删除：同时从使用该标签的分群、未开始的活动规则中移除（同一事务）"
)


def _confirmed(request: Request) -> bool:
    value = str(request.query_params.get("confirm", "")).strip().lower()
    if value not in ("", "true", "false", "1", "0"):
        raise ValidationError({"confirm": _("只能是 true 或 false")})
    return value in ("true", "1")


class ContactsAPIView(APIView):
    # Base: ``self.actor``, scoped querysets, refused writes (Chinese message) as 400. (A comment, not a
    # docstring: drf-spectacular would show it as the description of every endpoint.)

    @property
    def actor(self) -> Actor:
        # HasActor ran before any handler, so the request carries the actor.
        return cast("AuthenticatedRequest", self.request).actor_obj

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.TagInUse):  # stored rules use the tag: where, and what to do
            return Response(
                {"detail": str(exc), "usages": TagUsageSerializer(exc.usages, many=True).data},
                status=status.HTTP_409_CONFLICT,
            )
        if isinstance(exc, services.CataloguePending):  # recorded; applied once WeCom accepts it
            return Response({"detail": str(exc), "pending": True}, status=status.HTTP_202_ACCEPTED)
        if isinstance(exc, REFUSALS):
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return super().handle_exception(exc)

    def get_serializer_context(self) -> dict[str, Any]:
        return {"request": self.request, "actor": self.actor, "view": self}

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no actor
            return self.serializer_class.Meta.model.objects.none()  # type: ignore[attr-defined,no-any-return]
        return self.scoped_queryset()

    def scoped_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def scoped_customer(self, pk: int) -> Customer:
        customer = selectors.customer_get(actor=self.actor, pk=pk)
        if customer is None:
            raise Http404(_("客户不存在，或不属于你可查看的门店"))
        return customer

    def scoped_tag(self, pk: int) -> Tag:
        tag = self.actor.scope(Tag.objects.select_related("group")).filter(pk=pk).first()
        if tag is None:
            raise ValidationError({"tag": _("标签不存在，请刷新标签列表后重试")})
        return tag


# --- customers -----------------------------------------------------------------------------------


class CustomerFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    store = IdFilter(method="apply", label=_l("门店 ID"))
    tag = IdFilter(method="apply", label=_l("标签 ID"))
    source_channel = django_filters.ChoiceFilter(choices=SourceChannel.choices, method="apply", label=_l("来源渠道"))
    lifecycle = django_filters.ChoiceFilter(choices=Lifecycle.choices, method="apply", label=_l("生命周期"))
    consent = django_filters.ChoiceFilter(choices=CONSENT_FILTER, method="apply", label=_l("营销授权"))
    q = TextFilter(method="apply", label=_l("搜索：姓名 / 完整手机号 / 跟进备注"))
    segment = IdFilter(method="apply_segment", label=_l("已保存分群 ID（成员按分群条件实时计算）"))

    class Meta:
        model = Customer
        fields: list[str] = []

    def apply(self, queryset: QuerySet[Customer], name: str, value: Any) -> QuerySet[Customer]:
        return selectors.customer_filter(queryset, **{name: value})

    def apply_segment(self, queryset: QuerySet[Customer], name: str, value: Any) -> QuerySet[Customer]:
        actor: Actor = self.request.actor_obj
        segment = actor.scope(Segment.objects.all()).filter(pk=value).first()
        if segment is None:
            raise ValidationError({"segment": [_("分群不存在，请刷新分群列表后重试")]})
        try:
            members = segment_queryset(actor=actor, expression=segment.expression).values("pk")
        except SegmentError as exc:
            raise ValidationError({"segment": [str(exc)]}) from exc
        return queryset.filter(pk__in=members)


class CustomerListView(ContactsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    """Customers the caller may see, newest first; filter by store, tag, source, lifecycle, consent, q,
    segment (a saved segment's members; to walk a large segment use its ``members/`` cursor instead)."""

    allowed_roles = ALL_ROLES
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet

    def scoped_queryset(self) -> QuerySet[Customer]:
        return selectors.customer_list(actor=self.actor)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["tags"] = selectors.tag_map(organization_id=self.actor.organization_id)
        return context


class CustomerDetailView(ContactsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    serializer_class = CustomerDetailSerializer

    def get_object(self) -> Customer:
        customer = selectors.customer_detail(actor=self.actor, pk=self.kwargs["pk"])
        if customer is None:
            raise Http404(_("客户不存在，或不属于你可查看的门店"))
        return customer

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["tags"] = selectors.tag_map(organization_id=self.actor.organization_id)
        return context


TagChange = inline_serializer("TagChange", {"changed": serializers.BooleanField(), "tag_ids": serializers.ListField()})


class CustomerTagAddView(ContactsAPIView):
    allowed_roles = ALL_ROLES

    @extend_schema(request=TagInputSerializer, responses=TagChange, summary="给客户打标签（单选组自动替换）")
    def post(self, request: Request, pk: int) -> Response:
        customer = self.scoped_customer(pk)
        data = TagInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = self.scoped_tag(data.validated_data["tag"])
        changed = services.customer_tag_add(customer=customer, tag=tag, by=self.actor.staff)
        return Response({"changed": changed, "tag_ids": customer.tag_ids})


class CustomerTagRemoveView(ContactsAPIView):
    allowed_roles = ALL_ROLES

    @extend_schema(request=None, responses=TagChange, summary="移除客户标签")
    def delete(self, request: Request, pk: int, tag_id: int) -> Response:
        customer = self.scoped_customer(pk)
        tag = self.scoped_tag(tag_id)
        changed = services.customer_tag_remove(customer=customer, tag=tag, by=self.actor.staff)
        return Response({"changed": changed, "tag_ids": customer.tag_ids})


class CustomerBulkTagView(ContactsAPIView):
    allowed_roles = OPERATOR_AND_MANAGER

    @extend_schema(
        request=BulkTagInputSerializer,
        responses=inline_serializer("BulkTagged", {"tagged": serializers.IntegerField()}),
        summary="批量打标签（客户 ID 列表或分群条件，仅限可见客户）",
    )
    def post(self, request: Request) -> Response:
        data = BulkTagInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = self.scoped_tag(data.validated_data["tag"])
        if "expression" in data.validated_data:
            expression = validate(data.validated_data["expression"], organization_id=self.actor.organization_id)
            targets = segment_queryset(actor=self.actor, expression=expression)
        else:
            targets = self.actor.scope(Customer.objects.filter(pk__in=data.validated_data["customer_ids"]))
        tagged = services.customers_tag_bulk(
            organization=self.actor.organization, tag=tag, customer_ids=targets, by=self.actor.staff
        )
        return Response({"tagged": tagged})


class CustomerNotesView(ContactsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    serializer_class = NoteSerializer

    def scoped_queryset(self) -> QuerySet[Note]:
        customer = self.scoped_customer(self.kwargs["pk"])
        return self.actor.scope(Note.objects.filter(customer=customer).select_related("author"))

    @extend_schema(request=NoteInputSerializer, responses={201: NoteSerializer}, summary="添加跟进记录")
    def post(self, request: Request, pk: int) -> Response:
        customer = self.scoped_customer(pk)
        data = NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.note_add(customer=customer, author=self.actor.staff, body=data.validated_data["body"])
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


class CustomerOptOutView(ContactsAPIView):
    allowed_roles = ALL_ROLES

    @extend_schema(request=OptOutInputSerializer, responses=CustomerSerializer, summary="退订营销消息")
    def post(self, request: Request, pk: int) -> Response:
        customer = self.scoped_customer(pk)
        data = OptOutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.customer_opt_out(customer=customer, source=data.validated_data["source"], by=self.actor.staff)
        return Response(CustomerSerializer(customer, context=self.get_serializer_context()).data)


class CustomerPersonalDataView(ContactsAPIView):
    allowed_roles = OPERATOR_ONLY

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="导出客户个人信息（个人信息保护法第 45 条，留痕）",
    )
    def get(self, request: Request, pk: int) -> Response:
        customer = self.scoped_customer(pk)
        return Response(services.customer_personal_data(customer=customer, by=self.actor.staff))


class CustomerEraseView(ContactsAPIView):
    allowed_roles = OPERATOR_ONLY

    @extend_schema(
        request=EraseInputSerializer,
        responses=inline_serializer(
            "Erased", {"erased_at": BoundedDateTimeField(), "record": serializers.IntegerField()}
        ),
        summary="应本人要求删除客户个人信息（第 47 条，不可恢复，留痕）",
    )
    def post(self, request: Request, pk: int) -> Response:
        customer = self.scoped_customer(pk)
        data = EraseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.customer_erase(customer=customer, by=self.actor.staff, reason=data.validated_data["reason"])
        customer.refresh_from_db(fields=["erased_at"])
        return Response({"erased_at": customer.erased_at, "record": record.pk})


class CustomerExportView(ContactsAPIView):
    """The same list as ``/customers/`` (same filters, same scope, masked phones for store staff)."""

    allowed_roles = ALL_ROLES

    @extend_schema(
        parameters=[
            OpenApiParameter("export_format", str, enum=["csv", "xlsx"], description="文件格式，默认 csv"),
            # The filters of /customers/, with the same values.
            OpenApiParameter("store", ID_SCHEMA),
            OpenApiParameter("tag", ID_SCHEMA),
            OpenApiParameter("source_channel", str, enum=SourceChannel.values),
            OpenApiParameter("lifecycle", str, enum=Lifecycle.values),
            OpenApiParameter("consent", str, enum=[value for value, _label in CONSENT_FILTER]),
            OpenApiParameter("q", str),
            OpenApiParameter("segment", ID_SCHEMA),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): OpenApiTypes.BINARY,
        },
        summary="导出客户（CSV / Excel）",
    )
    def get(self, request: Request) -> HttpResponseBase:
        export_format = request.query_params.get("export_format", "csv")
        if export_format not in ("csv", "xlsx"):
            raise ValidationError({"export_format": _("只支持 csv 或 xlsx")})
        filterset = CustomerFilterSet(
            request.query_params, queryset=selectors.customer_list(actor=self.actor), request=request
        )
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        used = sorted(name for name in filterset.filters if request.query_params.get(name))
        return export_response(actor=self.actor, queryset=filterset.qs, export_format=export_format, filters=used)


# --- tags ----------------------------------------------------------------------------------------


class TagGroupListView(ContactsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    write_roles = OPERATOR_AND_MANAGER
    serializer_class = TagGroupSerializer
    pagination_class = None

    def scoped_queryset(self) -> QuerySet[TagGroup]:
        return self.actor.scope(
            TagGroup.objects.prefetch_related(Prefetch("tags", Tag.objects.order_by("order", "id")))
        )

    @extend_schema(request=TagGroupCreateSerializer, responses={201: TagGroupSerializer}, summary="新建标签组")
    def post(self, request: Request) -> Response:
        data = TagGroupCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.tag_group_create(organization=self.actor.organization, **data.validated_data)
        return Response(TagGroupSerializer(group).data, status=status.HTTP_201_CREATED)


class TagGroupDetailView(ContactsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    write_roles = OPERATOR_AND_MANAGER
    serializer_class = TagGroupSerializer

    def scoped_queryset(self) -> QuerySet[TagGroup]:
        return self.actor.scope(TagGroup.objects.prefetch_related("tags"))

    @extend_schema(
        request=TagGroupInputSerializer, responses={200: TagGroupSerializer, 202: PENDING_202}, summary="修改标签组"
    )
    def patch(self, request: Request, pk: int) -> Response:
        group = self.get_object()
        data = TagGroupInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        group = services.tag_group_update(group=group, by=self.actor.staff, **data.validated_data)
        return Response(TagGroupSerializer(group).data)

    @extend_schema(
        parameters=[CONFIRM_PARAM],
        responses={204: None, 202: PENDING_202, 409: TAG_IN_USE_409},
        summary="删除标签组（及其标签；被规则使用时需 confirm=true）",
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.tag_group_delete(group=self.get_object(), by=self.actor.staff, confirmed=_confirmed(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagListView(ContactsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    write_roles = OPERATOR_AND_MANAGER
    serializer_class = TagSerializer
    pagination_class = None

    def scoped_queryset(self) -> QuerySet[Tag]:
        return self.actor.scope(Tag.objects.all())

    @extend_schema(
        request=TagInputCreateSerializer, responses={201: TagSerializer, 202: PENDING_202}, summary="新建标签"
    )
    def post(self, request: Request) -> Response:
        data = TagInputCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = self.actor.scope(TagGroup.objects.all()).filter(pk=data.validated_data["group"]).first()
        if group is None:
            raise ValidationError({"group": _("标签组不存在，请刷新后重试")})
        tag = services.tag_create(
            group=group, name=data.validated_data["name"], order=data.validated_data["order"], by=self.actor.staff
        )
        return Response(TagSerializer(tag).data, status=status.HTTP_201_CREATED)


class TagDetailView(ContactsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    write_roles = OPERATOR_AND_MANAGER
    serializer_class = TagSerializer

    def scoped_queryset(self) -> QuerySet[Tag]:
        return self.actor.scope(Tag.objects.all())

    @extend_schema(
        request=TagUpdateSerializer, responses={200: TagSerializer, 202: PENDING_202}, summary="重命名 / 排序标签"
    )
    def patch(self, request: Request, pk: int) -> Response:
        tag = self.get_object()
        data = TagUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(TagSerializer(services.tag_update(tag=tag, by=self.actor.staff, **data.validated_data)).data)

    @extend_schema(
        parameters=[CONFIRM_PARAM],
        responses={204: None, 202: PENDING_202, 409: TAG_IN_USE_409},
        summary="删除标签（从所有客户身上移除；被规则使用时需 confirm=true）",
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.tag_delete(tag=self.get_object(), by=self.actor.staff, confirmed=_confirmed(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TagUsageView(ContactsAPIView):
    allowed_roles = OPERATOR_AND_MANAGER

    @extend_schema(responses=TagUsageSerializer(many=True), summary="标签的使用位置（分群、未开始的活动……）")
    def get(self, request: Request, pk: int) -> Response:
        tag = self.actor.scope(Tag.objects.all()).filter(pk=pk).first()
        if tag is None:
            raise Http404(_("标签不存在，请刷新标签列表后重试"))
        usages = services.tag_usages(organization_id=self.actor.organization_id, tag_ids={tag.pk})
        return Response(TagUsageSerializer(usages, many=True).data)


# --- customer groups -----------------------------------------------------------------------------


class CustomerGroupListView(ContactsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    serializer_class = CustomerGroupSerializer

    def scoped_queryset(self) -> QuerySet[CustomerGroup]:
        return selectors.customer_group_list(actor=self.actor)


class CustomerGroupDetailView(ContactsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = ALL_ROLES
    serializer_class = CustomerGroupDetailSerializer

    def scoped_queryset(self) -> QuerySet[CustomerGroup]:
        return selectors.customer_group_list(actor=self.actor)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group = self.get_object()
        members = selectors.customer_group_members(actor=self.actor, group=group)[:500]
        context = {**self.get_serializer_context(), "members": list(members)}
        return Response(CustomerGroupDetailSerializer(group, context=context).data)


# --- segments ------------------------------------------------------------------------------------


class SegmentListView(ContactsAPIView, generics.ListAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_AND_MANAGER
    serializer_class = SegmentSerializer

    def scoped_queryset(self) -> QuerySet[Segment]:
        return self.actor.scope(Segment.objects.order_by("-updated_at", "-id"))

    @extend_schema(request=SegmentInputSerializer, responses={201: SegmentSerializer}, summary="保存分群")
    def post(self, request: Request) -> Response:
        data = SegmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segment = services.segment_save(actor=self.actor, **data.validated_data)
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailView(ContactsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_AND_MANAGER
    serializer_class = SegmentSerializer

    def scoped_queryset(self) -> QuerySet[Segment]:
        return self.actor.scope(Segment.objects.all())

    @extend_schema(request=SegmentInputSerializer, responses=SegmentSerializer, summary="修改分群")
    def patch(self, request: Request, pk: int) -> Response:
        segment = self.get_object()
        data = SegmentInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = {"name": segment.name, "description": segment.description, "expression": segment.expression}
        values.update(data.validated_data)
        segment = services.segment_save(actor=self.actor, segment=segment, **values)
        return Response(SegmentSerializer(segment).data)

    @extend_schema(responses={204: None}, summary="删除分群")
    def delete(self, request: Request, pk: int) -> Response:
        services.segment_delete(segment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentRecountView(ContactsAPIView):
    allowed_roles = OPERATOR_AND_MANAGER

    @extend_schema(request=None, responses=SegmentSerializer, summary="重新统计分群人数（全品牌，last_count）")
    def post(self, request: Request, pk: int) -> Response:
        segment = self.actor.scope(Segment.objects.all()).filter(pk=pk).first()
        if segment is None:
            raise Http404(_("分群不存在"))
        return Response(SegmentSerializer(services.segment_recount(segment=segment)).data)


class SegmentPreviewView(ContactsAPIView):
    """Live count and sample of an unsaved expression, within the caller's scope."""

    allowed_roles = ALL_ROLES

    @extend_schema(request=SegmentPreviewInputSerializer, responses=SegmentPreviewSerializer, summary="分群预览")
    def post(self, request: Request) -> Response:
        data = SegmentPreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # The reference check saving runs (unknown tag / store / staff / group / custom field → 400
        # naming it), so a preview never shows a count the save would refuse; null is everyone.
        expression = validate(data.validated_data["expression"], organization_id=self.actor.organization_id)
        limit = data.validated_data["limit"]
        count = segment_count(actor=self.actor, expression=expression)
        sample = segment_sample(actor=self.actor, expression=expression, limit=limit) if limit else []
        context = {
            **self.get_serializer_context(),
            "tags": selectors.tag_map(organization_id=self.actor.organization_id),
        }
        description = describe(expression, organization_id=self.actor.organization_id)
        return Response(
            {
                "count": count,
                "description": description,
                "sample": CustomerSerializer(sample, many=True, context=context).data,
            }
        )


# --- import --------------------------------------------------------------------------------------


class ImportCreateView(ContactsAPIView):
    allowed_roles = OPERATOR_ONLY

    @extend_schema(
        request={"multipart/form-data": ImportInputSerializer},
        responses={202: ImportJobSerializer},
        summary="导入客户（CSV / Excel .xlsx）",
    )
    def post(self, request: Request) -> Response:
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        job = imports.import_start(
            organization=self.actor.organization,
            by=self.actor.staff,
            filename=upload.name,
            content=upload.read(),
            to_lead_pool=data.validated_data["to_lead_pool"],
        )
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(ContactsAPIView, generics.RetrieveAPIView):  # type: ignore[type-arg]
    allowed_roles = OPERATOR_ONLY
    serializer_class = ImportJobSerializer

    def scoped_queryset(self) -> QuerySet[ImportJob]:
        return self.actor.scope(ImportJob.objects.defer("content"))
