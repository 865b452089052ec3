"""The writes and segment reads the console pages need, delegated to the contacts services.

Pages call these thin wrappers so they keep working while the backend's services land: each wrapper
uses the agreed service (``contacts.services`` / ``contacts.segments``, see the interfaces brief) when it
exists and otherwise a small local implementation with the same behaviour and signature.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, Func, OuterRef, Q, QuerySet, Value
from django.utils import timezone

from contacts import services as _services
from contacts.access import Actor
from contacts.models import (
    Customer,
    CustomerGroupMember,
    CustomerTag,
    Follow,
    Note,
    Organization,
    Segment,
    Staff,
    Tag,
    TagChoice,
    TagGroup,
    TagSource,
    TimelineEvent,
    TimelineKind,
)

try:
    _segments: Any = importlib.import_module("contacts.segments")
except ImportError:
    _segments = None


class SegmentError(ValueError):
    """An expression the compiler cannot accept; the message says what to fix (Chinese)."""


def _service(name: str) -> Callable[..., Any] | None:
    return getattr(_services, name, None)


def segment_error_types() -> tuple[type[Exception], ...]:
    backend = getattr(_segments, "SegmentError", None) if _segments else None
    return (SegmentError, backend) if backend else (SegmentError,)


# --- tags -----------------------------------------------------------------------------------------


def _array_remove(tag_id: int) -> Func:
    return Func(F("tag_ids"), Value(tag_id), function="array_remove")


@transaction.atomic
def _local_tag_add(*, customer: Customer, tag: Tag, by: Staff | None, source: str) -> bool:
    if CustomerTag.objects.filter(customer=customer, tag=tag).exists():
        return False
    if tag.group.choice == TagChoice.SINGLE:
        for other in CustomerTag.objects.filter(customer=customer, tag__group_id=tag.group_id).exclude(tag=tag):
            _local_tag_remove(customer=customer, tag=other.tag, by=by, source=source)
    CustomerTag.objects.create(
        organization_id=customer.organization_id, customer=customer, tag=tag, assigned_by=by, source=source
    )
    Customer.objects.filter(pk=customer.pk).update(tag_ids=Func(F("tag_ids"), Value(tag.pk), function="array_append"))
    TimelineEvent.objects.create(
        organization_id=customer.organization_id,
        customer=customer,
        kind=TimelineKind.TAGGED,
        actor=by,
        summary=f"打标签：{tag.name}",
        data={"tag_id": tag.pk},
    )
    return True


@transaction.atomic
def _local_tag_remove(*, customer: Customer, tag: Tag, by: Staff | None, source: str) -> bool:
    deleted, _ = CustomerTag.objects.filter(customer=customer, tag=tag).delete()
    if not deleted:
        return False
    Customer.objects.filter(pk=customer.pk).update(tag_ids=_array_remove(tag.pk))
    TimelineEvent.objects.create(
        organization_id=customer.organization_id,
        customer=customer,
        kind=TimelineKind.UNTAGGED,
        actor=by,
        summary=f"移除标签：{tag.name}",
        data={"tag_id": tag.pk},
    )
    return True


def tag_set(*, customer: Customer, tag: Tag, on: bool, by: Staff | None) -> bool:
    """Add (``on``) or remove one tag; single-choice groups swap. Returns whether anything changed."""
    name = "customer_tag_add" if on else "customer_tag_remove"
    fn = _service(name) or (_local_tag_add if on else _local_tag_remove)
    return bool(fn(customer=customer, tag=tag, by=by, source=TagSource.STAFF))


def tag_bulk(*, organization: Organization, tag: Tag, customer_ids: list[int], by: Staff | None) -> int:
    fn = _service("customers_tag_bulk")
    if fn is not None:
        return int(fn(organization=organization, tag=tag, customer_ids=customer_ids, by=by, source=TagSource.STAFF))
    changed = 0
    for customer in Customer.objects.filter(organization=organization, pk__in=customer_ids):
        changed += _local_tag_add(customer=customer, tag=tag, by=by, source=TagSource.STAFF)
    return changed


class CatalogueError(ValueError):
    """A refused tag/tag-group change (duplicate or empty name); the message says what to do."""


def _unique(queryset: QuerySet[Any], message: str) -> None:
    if queryset.exists():
        raise CatalogueError(message)


def tag_group_save(*, organization: Organization, name: str, choice: str, group: TagGroup | None = None) -> TagGroup:
    name = name.strip()
    if group is None:
        create = _service("tag_group_create")
        if create is not None:
            return create(organization=organization, name=name, choice=choice)  # type: ignore[no-any-return]
    else:
        update = _service("tag_group_update")
        if update is not None:
            return update(group=group, name=name, choice=choice)  # type: ignore[no-any-return]
    others = TagGroup.objects.filter(organization=organization, name=name)
    _unique(others.exclude(pk=group.pk) if group else others, f"标签组“{name}”已存在，请换一个名称")
    with transaction.atomic():
        if group is None:
            return TagGroup.objects.create(organization=organization, name=name, choice=choice)
        group.name, group.choice = name, choice
        group.save(update_fields=["name", "choice"])
    return group


def tag_save(*, group: TagGroup, name: str, tag: Tag | None = None) -> Tag:
    name = name.strip()
    if tag is None:
        create = _service("tag_create")
        if create is not None:
            return create(group=group, name=name)  # type: ignore[no-any-return]
    else:
        update = _service("tag_update")
        if update is not None:
            return update(tag=tag, name=name)  # type: ignore[no-any-return]
    others = Tag.objects.filter(group=group, name=name)
    _unique(others.exclude(pk=tag.pk) if tag else others, f"标签组“{group.name}”里已有标签“{name}”")
    with transaction.atomic():
        if tag is None:
            return Tag.objects.create(organization_id=group.organization_id, group=group, name=name)
        tag.name = name
        tag.save(update_fields=["name"])
    return tag


def tag_delete(*, tag: Tag) -> None:
    fn = _service("tag_delete")
    if fn is not None:
        fn(tag=tag)
        return
    with transaction.atomic():
        # Keep the denormalized array in step with the assignments the cascade removes.
        Customer.objects.filter(organization_id=tag.organization_id, tag_ids__contains=[tag.pk]).update(
            tag_ids=_array_remove(tag.pk)
        )
        tag.delete()


def tag_group_delete(*, group: TagGroup) -> None:
    fn = _service("tag_group_delete")
    if fn is not None:
        fn(group=group)
        return
    with transaction.atomic():
        for tag in list(group.tags.all()):
            tag_delete(tag=tag)
        group.delete()


# --- notes, consent -------------------------------------------------------------------------------


def note_add(*, customer: Customer, author: Staff | None, body: str) -> Note:
    fn = _service("note_add")
    if fn is not None:
        return fn(customer=customer, author=author, body=body)  # type: ignore[no-any-return]
    with transaction.atomic():
        note = Note.objects.create(
            organization_id=customer.organization_id, customer=customer, author=author, body=body
        )
        TimelineEvent.objects.create(
            organization_id=customer.organization_id,
            customer=customer,
            kind=TimelineKind.NOTE,
            actor=author,
            summary=body[:200],
        )
    return note


def opt_out(*, customer: Customer, by: Staff | None) -> None:
    fn = _service("customer_opt_out")
    if fn is not None:
        fn(customer=customer, source="控制台", by=by)
        return
    with transaction.atomic():
        updated = Customer.objects.filter(pk=customer.pk, opted_out_at__isnull=True).update(
            opted_out_at=timezone.now(), opt_out_source="控制台"
        )
        if updated:
            TimelineEvent.objects.create(
                organization_id=customer.organization_id,
                customer=customer,
                kind=TimelineKind.OPTED_OUT,
                actor=by,
                summary="退订营销消息（控制台操作）",
            )


# --- segments -------------------------------------------------------------------------------------


def _day(value: Any, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise SegmentError(f"{label}日期格式不正确，请用 YYYY-MM-DD") from exc


def _number(value: Any, label: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise SegmentError(f"{label}必须是数字") from exc


def _local_queryset(actor: Actor, expression: dict[str, Any]) -> QuerySet[Customer]:
    if not isinstance(expression, dict):
        raise SegmentError("条件必须是一个 JSON 对象")
    qs = actor.scope(Customer.objects.all())
    tags = expression.get("tags") or {}
    if tags.get("all"):
        qs = qs.filter(tag_ids__contains=[int(t) for t in tags["all"]])
    if tags.get("any"):
        qs = qs.filter(tag_ids__overlap=[int(t) for t in tags["any"]])
    if tags.get("none"):
        qs = qs.exclude(tag_ids__overlap=[int(t) for t in tags["none"]])
    if expression.get("stores"):
        qs = qs.filter(home_store_id__in=expression["stores"])
    if expression.get("source_channels"):
        qs = qs.filter(source_channel__in=expression["source_channels"])
    if expression.get("lifecycle"):
        qs = qs.filter(lifecycle__in=expression["lifecycle"])
    if expression.get("follower_staff"):
        qs = qs.filter(
            Exists(
                Follow.objects.filter(
                    customer=OuterRef("pk"), staff_id__in=expression["follower_staff"], deleted_at__isnull=True
                )
            )
        )
    if expression.get("groups"):
        qs = qs.filter(
            Exists(
                CustomerGroupMember.objects.filter(
                    customer=OuterRef("pk"), group_id__in=expression["groups"], left_at__isnull=True
                )
            )
        )
    for key, field, label in (("created", "created_at", "建档"), ("last_order", "last_order_at", "最近下单")):
        span = expression.get(key) or {}
        start, end = _day(span.get("from"), label), _day(span.get("to"), label)
        if start:
            qs = qs.filter(**{f"{field}__date__gte": start})
        if end:
            qs = qs.filter(**{f"{field}__date__lte": end})
    for key, field, label in (("ltv", "ltv", "累计消费"), ("order_count", "order_count", "订单数")):
        span = expression.get(key) or {}
        low, high = _number(span.get("min"), label), _number(span.get("max"), label)
        if low is not None:
            qs = qs.filter(**{f"{field}__gte": low})
        if high is not None:
            qs = qs.filter(**{f"{field}__lte": high})
    consent = expression.get("consent") or "any"
    if consent == "granted":
        qs = qs.filter(marketing_consent=True, opted_out_at__isnull=True)
    elif consent == "not_granted":
        qs = qs.filter(marketing_consent=False, opted_out_at__isnull=True)
    elif consent == "opted_out":
        qs = qs.filter(opted_out_at__isnull=False)
    elif consent != "any":
        raise SegmentError("营销授权条件只能是 any / granted / not_granted / opted_out")
    return qs


def segment_count(*, actor: Actor, expression: dict[str, Any]) -> int:
    if _segments is not None:
        return int(_segments.segment_count(actor=actor, expression=expression))
    return _local_queryset(actor, expression).count()


def segment_sample(*, actor: Actor, expression: dict[str, Any], limit: int = 20) -> list[Customer]:
    if _segments is not None:
        return list(_segments.segment_sample(actor=actor, expression=expression, limit=limit))
    return list(_local_queryset(actor, expression).select_related("home_store").order_by("-created_at")[:limit])


def segment_save(
    *, actor: Actor, name: str, expression: dict[str, Any], description: str = "", segment: Segment | None = None
) -> Segment:
    # The backend's segment_save compiles through contacts.segments; use it once both have landed.
    fn = _service("segment_save") if _segments is not None else None
    if fn is not None:
        return fn(  # type: ignore[no-any-return]
            actor=actor, name=name, expression=expression, description=description, segment=segment
        )
    _local_queryset(actor, expression)  # validates
    others = Segment.objects.filter(organization_id=actor.organization_id, name=name)
    if (others.exclude(pk=segment.pk) if segment else others).exists():
        raise SegmentError(f"分群名称“{name}”已存在，请换一个名称")
    with transaction.atomic():
        if segment is None:
            segment = Segment(organization=actor.organization, created_by=actor.staff)
        segment.name, segment.expression, segment.description = name, expression, description
        segment.save()
    return segment


def search_filter(q: str) -> Q:
    """Name, remark (any follower's) or phone (exact, through the keyed hash; the number is encrypted)."""
    from contacts import crypto

    cond = Q(name__icontains=q) | Q(Exists(Follow.objects.filter(customer=OuterRef("pk"), remark__icontains=q)))
    with contextlib.suppress(crypto.InvalidPhone):
        cond |= Q(phone_hash=crypto.phone_hash(q))
    return cond
