"""Follows (staff ↔ customer friendships) and customer groups with their members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import crypto
from contacts.models import (
    AuditAction,
    ChurnedBy,
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    Follow,
    MemberType,
    Organization,
    Staff,
    Store,
    TimelineKind,
)
from contacts.services.audit import audit_record
from contacts.services.customers import timeline_add
from contacts.services.lifecycle import customer_lifecycle_refresh
from contacts.services.registry import ContactsError

# --- follows and groups --------------------------------------------------------------------------


@transaction.atomic
def follow_upsert(
    *,
    customer: Customer,
    staff: Staff,
    added_at: datetime | None = None,
    add_way: int = 0,
    state: str = "",
    remark: str = "",
    description: str = "",
    remark_mobiles: list[str] | None = None,
    remarks_exact: bool = False,
) -> Follow:
    """Create or refresh the staff ↔ customer friendship (a re-add revives a churned one).

    ``remark_mobiles`` (clear numbers, as WeCom lists them) replaces the stored ones when given; they
    are kept as ciphertexts. ``remarks_exact``: the remark and description are the platform's whole
    truth (a blank one was cleared there), not a partial update that keeps what we had."""
    if customer.organization_id != staff.organization_id:
        raise ContactsError(_("员工与客户不属于同一企业"))
    follow, created = Follow.objects.select_for_update().get_or_create(
        customer=customer,
        staff=staff,
        defaults={
            "organization_id": customer.organization_id,
            "added_at": added_at or timezone.now(),
            "add_way": add_way,
            "state": state,
            "remark": remark,
            "description": description,
            "remark_mobiles": [crypto.encrypt_phone(m) for m in remark_mobiles or []],
        },
    )
    if created or follow.deleted_at is not None:
        timeline_add(
            customer=customer,
            kind=TimelineKind.ADDED,
            summary=f"添加企微：{staff.name}",
            data={"staff_id": staff.pk, "state": state, "add_way": add_way},
            actor=staff,
            occurred_at=added_at,
        )
    if not created:
        if follow.deleted_at is not None:
            follow.deleted_at, follow.deleted_by = None, ""
            follow.added_at = added_at or timezone.now()
        follow.add_way = add_way or follow.add_way
        follow.state = state or follow.state
        follow.remark = remark if remarks_exact else (remark or follow.remark)
        follow.description = description if remarks_exact else (description or follow.description)
        if remark_mobiles is not None and sorted(remark_mobiles) != sorted(follow.remark_phones):
            follow.remark_mobiles = [crypto.encrypt_phone(m) for m in remark_mobiles]
        follow.save()
    customer_lifecycle_refresh(customer_ids=[customer.pk])
    return follow


@transaction.atomic
def follow_end(*, customer: Customer, staff: Staff, by: str, at: datetime | None = None) -> bool:
    """The friendship ended (customer deleted staff, staff deleted customer, or transfer).

    Returns whether it was still active (a replayed deletion changes nothing and returns False)."""
    at = at or timezone.now()
    updated = Follow.objects.filter(customer=customer, staff=staff, deleted_at__isnull=True).update(
        deleted_at=at, deleted_by=by
    )
    if updated:
        label = ChurnedBy(by).label if by in ChurnedBy.values else by
        timeline_add(
            customer=customer,
            kind=TimelineKind.TRANSFERRED if by == ChurnedBy.TRANSFER else TimelineKind.REMOVED,
            summary=f"{label}：{staff.name}",
            data={"staff_id": staff.pk, "by": by},
            occurred_at=at,
        )
        customer_lifecycle_refresh(customer_ids=[customer.pk])
    return bool(updated)


@transaction.atomic
def group_upsert(
    *,
    organization: Organization,
    wecom_chat_id: str,
    name: str,
    owner: Staff | None,
    store: Store | None,
    notice: str,
    members: list[dict[str, Any]],
) -> CustomerGroup:
    """Create/refresh a customer group and its full member list; members no longer listed are marked left.

    ``members``: dicts with member_id, member_type, name, join_scene, joined_at, customer (or None).
    """
    group, _created = CustomerGroup.objects.select_for_update().update_or_create(
        organization=organization,
        wecom_chat_id=wecom_chat_id,
        defaults={"name": name, "owner": owner, "store": store, "notice": notice, "dismissed_at": None},
    )
    existing = {m.member_id: m for m in group.members.all()}
    listed: set[str] = set()
    now = timezone.now()
    for item in members:
        member_id = str(item["member_id"])
        listed.add(member_id)
        customer = item.get("customer")
        current = existing.get(member_id)
        if current is None:
            CustomerGroupMember.objects.create(
                organization=organization,
                group=group,
                customer=customer,
                member_type=item.get("member_type") or MemberType.EXTERNAL,
                member_id=member_id,
                name=item.get("name") or "",
                join_scene=item.get("join_scene") or 0,
                joined_at=item.get("joined_at") or now,
            )
            if customer is not None:
                timeline_add(
                    customer=customer,
                    kind=TimelineKind.JOINED_GROUP,
                    summary=f"入群：{name or wecom_chat_id}",
                    data={"group_id": group.pk},
                    occurred_at=item.get("joined_at"),
                )
        else:
            current.name = item.get("name") or current.name
            current.customer = customer or current.customer
            if current.left_at is not None:
                current.left_at, current.joined_at = None, item.get("joined_at") or now
            current.save()
    for member_id, member in existing.items():
        if member_id not in listed and member.left_at is None:
            member.left_at = now
            member.save(update_fields=["left_at"])
            if member.customer_id is not None:
                timeline_add(
                    customer=member.customer,  # type: ignore[arg-type]
                    kind=TimelineKind.LEFT_GROUP,
                    summary=f"退群：{name or wecom_chat_id}",
                    data={"group_id": group.pk},
                )
    group.member_count = len(listed)
    group.save(update_fields=["member_count"])
    return group


@transaction.atomic
def groups_owner_set(
    *,
    organization: Organization,
    wecom_chat_ids: list[str],
    owner: Staff,
    by: Staff | None = None,
    transfer_id: int | str = "",
    kind: str = "",
) -> int:
    """The platform handed these groups to ``owner`` (客户群继承): one UPDATE (the group follows its
    owner's store, as the sync does) and one audit entry. Returns how many groups changed owner."""
    if owner.organization_id != organization.pk:
        raise ContactsError(_("新群主不属于该企业"))
    groups = CustomerGroup.objects.filter(organization=organization, wecom_chat_id__in=wecom_chat_ids)
    previous = sorted({pk for pk in groups.exclude(owner=owner).values_list("owner_id", flat=True) if pk})
    moved = groups.exclude(owner=owner).update(owner=owner, store=owner.store)
    audit_record(
        organization_id=organization.pk,
        action=AuditAction.GROUP_TRANSFER,
        target_type="group_transfer",
        target_id=transfer_id,
        actor_staff_id=by.pk if by else None,
        fields=["owner", "store"],
        details={"kind": kind, "from_staff": previous, "to_staff": owner.pk, "groups": moved},
    )
    return moved


@transaction.atomic
def group_dismiss(*, group: CustomerGroup, at: datetime | None = None) -> CustomerGroup:
    """The group was dismissed on the platform: it is marked dismissed (no campaign plans it again, see
    ``campaigns.planner.audience_sql``) and every member still in it has left, with a timeline entry.
    Idempotent; a later upsert of the same chat (re-created) clears ``dismissed_at``."""
    group = CustomerGroup.objects.select_for_update().get(pk=group.pk)
    when = at or timezone.now()
    if group.dismissed_at is None:
        group.dismissed_at = when
    staying = list(group.members.filter(left_at__isnull=True).select_related("customer"))
    for member in staying:
        member.left_at = when
        member.save(update_fields=["left_at"])
        if member.customer is not None:
            timeline_add(
                customer=member.customer,
                kind=TimelineKind.LEFT_GROUP,
                summary=f"群已解散：{group.name or group.wecom_chat_id}",
                data={"group_id": group.pk},
                occurred_at=when,
            )
    group.member_count = 0
    group.save(update_fields=["dismissed_at", "member_count"])
    return group
