"""Data-subject requests (PIPL): a copy of everything we hold on a person, and erasure on request.

* :func:`customer_personal_data` — the person's profile, identities, follows, tags, groups, notes and
  timeline, plus what higher layers register (orders, leads), as one JSON-ready document (Art. 45).
* :func:`customer_erase` — removes everything that identifies the person (Art. 47) in one
  transaction: profile fields blanked, identities, notes, timeline and tags deleted, follow remarks and
  group-member names blanked, merge snapshots emptied, higher layers' rows anonymised through their
  registered handlers. The customer row stays, anonymous and opted out, so orders, LTV and reports
  keep adding up; nothing is pushed to the platforms (the person's WeCom relationship is theirs).

Both leave a :class:`~contacts.models.PrivacyRecord` (who, when, why; no personal data).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.crypto import decrypt_phone
from contacts.models import (
    AuditAction,
    Customer,
    CustomerGroupMember,
    CustomerMerge,
    CustomerTag,
    ErasedKey,
    Follow,
    Identity,
    ImportJob,
    ImportStatus,
    Note,
    PrivacyAction,
    PrivacyRecord,
    Staff,
    TimelineEvent,
)
from contacts.services.audit import audit_record
from contacts.services.customers import erased_key_hashes
from contacts.services.erasure_text import MASK, PersonIdentifiers, customer_identifiers, scrub_columns
from contacts.services.registry import ContactsError, erasure_handlers, personal_data_providers


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def customer_personal_data(*, customer: Customer, by: Staff | None) -> dict[str, Any]:
    """Everything held on the person, grouped by kind (and an audit record of the export)."""
    data: dict[str, Any] = {
        "customer": {
            "id": customer.pk,
            "name": customer.name,
            "gender": customer.get_gender_display(),
            "phone": decrypt_phone(customer.phone_encrypted) if customer.phone_encrypted else "",
            "unionid": customer.unionid,
            "avatar": customer.avatar,
            "home_store": customer.home_store.name if customer.home_store else "",
            "source_channel": customer.get_source_channel_display(),
            "first_touch": customer.first_touch,
            "first_touch_at": _iso(customer.first_touch_at),
            "lifecycle": customer.get_lifecycle_display(),
            "marketing_consent": customer.marketing_consent,
            "consent_at": _iso(customer.consent_at),
            "opted_out_at": _iso(customer.opted_out_at),
            "attributes": customer.attributes,
            "created_at": _iso(customer.created_at),
        },
        "identities": [
            {"platform": i.platform, "account": i.account, "external_id": i.external_id, "since": _iso(i.created_at)}
            for i in Identity.objects.filter(customer=customer).order_by("id")
        ],
        "follows": [
            {
                "staff": f.staff.name,
                "added_at": _iso(f.added_at),
                "remark": f.remark,
                "description": f.description,
                "ended_at": _iso(f.deleted_at),
            }
            for f in Follow.objects.filter(customer=customer).select_related("staff").order_by("id")
        ],
        "tags": [
            {"group": t.tag.group.name, "tag": t.tag.name, "since": _iso(t.assigned_at), "source": t.source}
            for t in CustomerTag.objects.filter(customer=customer).select_related("tag__group").order_by("id")
        ],
        "groups": [
            {"group": m.group.name, "joined_at": _iso(m.joined_at), "left_at": _iso(m.left_at)}
            for m in CustomerGroupMember.objects.filter(customer=customer).select_related("group").order_by("id")
        ],
        "notes": [
            {"at": _iso(n.created_at), "by": n.author.name if n.author else "", "body": n.body}
            for n in Note.objects.filter(customer=customer).select_related("author").order_by("id")
        ],
        "timeline": [
            {"at": _iso(e.occurred_at), "kind": e.get_kind_display(), "summary": e.summary}
            for e in TimelineEvent.objects.filter(customer=customer).order_by("occurred_at", "id")
        ],
    }
    for name, provider in personal_data_providers():
        data[name] = provider(customer.pk)
    PrivacyRecord.objects.create(
        organization_id=customer.organization_id,
        customer_id=customer.pk,
        action=PrivacyAction.EXPORT,
        by=by,
        details={"sections": sorted(data)},
    )
    audit_record(
        organization_id=customer.organization_id,
        action=AuditAction.PRIVACY_EXPORT,
        target_type="customer",
        target_id=customer.pk,
        actor_staff_id=by.pk if by else None,
        actor_user_id=by.user_id if by else None,
        fields=sorted(data),
    )
    return data


@transaction.atomic
def customer_erase(*, customer: Customer, by: Staff | None, reason: str) -> PrivacyRecord:
    """Erase the person's personal information; returns the audit record. Refused without a reason."""
    reason = reason.strip()
    if not reason:
        raise ContactsError(_("请写明删除依据（例如：客户本人于某日通过客服提出删除请求）"))
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    if customer.erased_at is not None:
        raise ContactsError(_("这位客户的个人信息已于 %(at)s 删除") % {"at": timezone.localtime(customer.erased_at)})
    now = timezone.now()
    counts: dict[str, int] = {}
    identifiers = customer_identifiers(customer.pk)  # read before the handlers and the blanking below
    # Tombstones first, inside this transaction and under the customer's row lock: an import or a
    # webhook resolving this person waits on the lock and then finds them (contacts.ErasedKey).
    tombstones = erased_key_hashes(unionid=customer.unionid, hashed=customer.phone_hash)
    for platform, account, external_id in Identity.objects.filter(customer=customer).values_list(
        "platform", "account", "external_id"
    ):
        tombstones += erased_key_hashes(platform=platform, account=account, external_id=external_id)
    ErasedKey.objects.bulk_create(
        [ErasedKey(organization_id=customer.organization_id, key_hash=h, erased_at=now) for h in set(tombstones)],
        ignore_conflicts=True,
    )
    # Higher layers first: they may need the identities and the phone to find their rows.
    for handler in erasure_handlers():
        counts.update(handler(customer.pk))
    counts |= {
        "identities": Identity.objects.filter(customer=customer).delete()[0],
        "notes": Note.objects.filter(customer=customer).delete()[0],
        "timeline": TimelineEvent.objects.filter(customer=customer).delete()[0],
        # Direct deletes: no tag listener runs, so nothing is pushed to WeCom.
        "tags": CustomerTag.objects.filter(customer=customer).delete()[0],
        "follows": Follow.objects.filter(customer=customer).update(remark="", description="", remark_mobiles=[]),
        "group_members": _erase_group_members(customer, now),
        # Merge records hold dumps of both records (phones, names, rows): empty them wherever this
        # person was the survivor or the absorbed side. Such a merge can no longer be undone.
        "merge_snapshots": CustomerMerge.objects.filter(
            Q(survivor=customer) | Q(organization_id=customer.organization_id, merged_customer_id=customer.pk)
        ).update(snapshot={}, restore={}, reason=""),
        # Finished imports drop their file; one left by an older version may still name the person.
        "import_files": ImportJob.objects.filter(
            organization_id=customer.organization_id, status__in=[ImportStatus.DONE, ImportStatus.FAILED]
        )
        .exclude(content=b"")
        .update(content=b""),
        "import_jobs": _erase_import_jobs(identifiers) if identifiers else 0,
    }
    Customer.objects.filter(pk=customer.pk).update(
        name="",
        gender=0,
        avatar="",
        phone_encrypted="",
        phone_hash="",
        phone_mask="",
        phone_last4="",
        birthday=None,
        unionid="",
        first_touch={},
        attributes={},
        tag_ids=[],
        marketing_consent=False,
        consent_at=None,
        consent_source="",
        opted_out_at=customer.opted_out_at or now,
        opt_out_source=customer.opt_out_source or "erased",
        erased_at=now,
        updated_at=now,
    )
    audit_record(
        organization_id=customer.organization_id,
        action=AuditAction.PRIVACY_ERASE,
        target_type="customer",
        target_id=customer.pk,
        actor_staff_id=by.pk if by else None,
        actor_user_id=by.user_id if by else None,
        fields=sorted(counts),
    )
    # The reason is the legal basis and stays; the person's own identifiers in it (an operator may
    # write "林小姐 139… called") do not.
    for needle in identifiers.needles() if identifiers else []:
        reason = reason.replace(needle, MASK)
    return PrivacyRecord.objects.create(
        organization_id=customer.organization_id,
        customer_id=customer.pk,
        action=PrivacyAction.ERASE,
        reason=reason[:300],
        by=by,
        details=counts,
    )


def _erase_group_members(customer: Customer, now: Any) -> int:
    """Memberships lose the name; each gets a placeholder member id (unique per group) and is closed."""
    return CustomerGroupMember.objects.filter(customer=customer).update(
        name="",
        member_id=Concat(Value("erased:"), Cast("id", CharField())),
        left_at=Coalesce("left_at", Value(now)),
    )


def _erase_import_jobs(identifiers: PersonIdentifiers) -> int:
    """Import jobs keep a file name and the reasons rows were rejected (a reason may quote a cell: a
    name typed into the gender column); both are masked wherever they hold the person's phone, name
    or platform ids. One UPDATE over the organization's jobs."""
    return scrub_columns(
        table="contacts_importjob",
        columns=["filename", "errors"],
        where="organization_id = %s",
        where_params=[identifiers.organization_id],
        needles=identifiers.needles(),
    )
