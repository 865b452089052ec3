"""Customers: OneID resolution and merge, the timeline, notes and marketing consent."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import crypto
from contacts.models import (
    ERASURE_QUIET_PERIOD,
    Customer,
    ErasedKey,
    Identity,
    Note,
    Organization,
    Staff,
    TimelineEvent,
    TimelineKind,
)
from contacts.services.merges import customer_merge
from contacts.services.registry import ContactsError

logger = logging.getLogger(__name__)


# --- timeline ------------------------------------------------------------------------------------


def timeline_add(
    *,
    customer: Customer,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    actor: Staff | None = None,
    occurred_at: datetime | None = None,
) -> TimelineEvent:
    """Write one touch on the customer's timeline (higher layers use this, never the model)."""
    return TimelineEvent.objects.create(
        organization_id=customer.organization_id,
        customer=customer,
        kind=kind,
        summary=summary[:200],
        data=data or {},
        actor=actor,
        occurred_at=occurred_at or timezone.now(),
    )


def timeline_add_bulk(
    *,
    organization_id: int,
    customer_ids: Sequence[int],
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    actor: Staff | None = None,
    occurred_at: datetime | None = None,
) -> int:
    """The same touch on many customers' timelines in one ``INSERT … SELECT`` (bulk coupon issues, a
    journey step). Customers of other organizations are ignored. Returns how many rows were written."""
    if not customer_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_timelineevent
                   (organization_id, customer_id, kind, occurred_at, actor_id, summary, data)
            SELECT %s, c.id, %s, %s, %s, %s, %s::jsonb
              FROM contacts_customer c
             WHERE c.id = ANY(%s::bigint[]) AND c.organization_id = %s
            """,
            [
                organization_id,
                kind,
                occurred_at or timezone.now(),
                actor.pk if actor else None,
                summary[:200],
                json.dumps(data or {}),
                [int(i) for i in customer_ids],
                organization_id,
            ],
        )
        return int(cursor.rowcount)


# --- OneID: resolve and merge --------------------------------------------------------------------

_DEFAULT_FIELDS = (
    "name",
    "gender",
    "avatar",
    "home_store",
    "source_channel",
    "first_touch",
    "first_touch_at",
    "marketing_consent",
    "consent_source",
    "attributes",
)


def _is_blank(value: Any) -> bool:
    return value in (None, "", {}, []) or (value == 0 and not isinstance(value, bool))


def _matched_keys(
    found: list[Customer],
    *,
    organization: Organization,
    platform: str,
    account: str,
    external_id: str,
    unionid: str,
    hashed: str,
) -> dict[int, set[str]]:
    """Which of the given keys found each customer (for the merge audit)."""
    keys: dict[int, set[str]] = {c.pk: set() for c in found}
    if len(found) < 2:
        return keys
    if platform and external_id:
        owner = (
            Identity.objects.filter(
                organization=organization, platform=platform, account=account, external_id=external_id
            )
            .values_list("customer_id", flat=True)
            .first()
        )
        if owner in keys:
            keys[owner].add(f"identity:{platform}")
    for customer in found:
        if unionid and customer.unionid == unionid:
            keys[customer.pk].add("unionid")
        if hashed and customer.phone_hash == hashed:
            keys[customer.pk].add("phone")
    return keys


@transaction.atomic
def customer_resolve(
    *,
    organization: Organization,
    platform: str = "",
    account: str = "",
    external_id: str = "",
    unionid: str = "",
    phone: str = "",
    defaults: dict[str, Any] | None = None,
    source: str = "",
    since: datetime | None = None,
) -> tuple[Customer, bool]:
    """Find the one customer behind an identity / unionid / phone; create, attach or merge.

    A key of a person erased within ``ERASURE_QUIET_PERIOD`` before ``since`` (when the work began:
    an import's upload; default now) raises :class:`CustomerErasedError` (contacts.ErasedKey).

    1. Look up every key given (identity, unionid, phone keyed hash) in the organization.
    2. None found: create the customer with ``defaults`` and the keys.
    3. Several customers found: they are one person — merge them into the oldest.
    4. Attach the keys the survivor lacks; fill its blank fields from ``defaults``.

    Raises ``crypto.InvalidPhone`` for a malformed phone. A concurrent create of the same person
    (unique phone/unionid/identity) is retried once inside a savepoint.
    """
    keys: dict[str, Any] = {
        "organization": organization,
        "platform": platform,
        "account": account,
        "external_id": external_id,
        "unionid": unionid,
        "phone": phone,
        "defaults": defaults or {},
        "source": source,
        "since": since,
    }
    try:
        with transaction.atomic():
            return _customer_resolve(**keys)
    except IntegrityError:
        # Another process created the same person between our lookup and insert: look again.
        return _customer_resolve(**keys)


class CustomerErasedError(ContactsError):
    """A key given to ``customer_resolve`` belongs to an erased person (a contacts.ErasedKey)."""


def erased_key_hashes(*, unionid: str = "", hashed: str = "", platform: str = "", account: str = "",
                      external_id: str = "") -> list[str]:  # fmt: skip
    """The tombstone hashes of these keys (crypto.key_hash): what an erasure writes, what resolve checks."""
    out = []
    if hashed:
        out.append(crypto.key_hash("phone", hashed))
    if unionid:
        out.append(crypto.key_hash("unionid", unionid))
    if platform and external_id:
        out.append(crypto.key_hash(f"identity:{platform}:{account}", external_id))
    return out


def _customer_resolve(
    *,
    organization: Organization,
    platform: str,
    account: str,
    external_id: str,
    unionid: str,
    phone: str,
    defaults: dict[str, Any],
    source: str,
    since: datetime | None,
) -> tuple[Customer, bool]:
    phone_digits = crypto.normalize_phone(phone) if phone else ""
    hashed = crypto.phone_hash(phone_digits) if phone_digits else ""
    keys = Q(pk__in=[])
    if platform and external_id:
        keys |= Q(
            pk__in=Identity.objects.filter(
                organization=organization, platform=platform, account=account, external_id=external_id
            ).values("customer_id")
        )
    if unionid:
        keys |= Q(unionid=unionid)
    if hashed:
        keys |= Q(phone_hash=hashed)
    # Lock in primary-key order so two resolutions of overlapping people cannot deadlock.
    found = list(Customer.objects.select_for_update().filter(keys, organization=organization).order_by("pk"))
    # After the lock: an erasure holding it has committed by now, and its tombstones are visible to
    # this (READ COMMITTED) statement — so an import running during the erasure cannot re-create
    # the person (nor attach their keys to someone else).
    tombstones = erased_key_hashes(unionid=unionid, hashed=hashed, platform=platform, account=account,
                                   external_id=external_id)  # fmt: skip
    began = min(since or timezone.now(), timezone.now())
    if (
        tombstones
        and ErasedKey.objects.filter(
            organization=organization, key_hash__in=tombstones, erased_at__gt=began - ERASURE_QUIET_PERIOD
        ).exists()
    ):
        raise CustomerErasedError(
            _("这位客户已应本人要求删除个人信息：其手机号、unionid 或平台身份不会再建档或关联到任何客户")
        )
    matched = _matched_keys(found, organization=organization, platform=platform, account=account,
                            external_id=external_id, unionid=unionid, hashed=hashed)  # fmt: skip
    created = not found
    if created:
        fields = {k: v for k, v in defaults.items() if k in _DEFAULT_FIELDS and v is not None}
        customer = Customer.objects.create(
            organization=organization,
            unionid=unionid,
            **crypto.phone_columns(phone_digits),
            **fields,
        )
        if customer.marketing_consent and customer.consent_at is None:
            Customer.objects.filter(pk=customer.pk).update(consent_at=customer.created_at)
        timeline_add(
            customer=customer,
            kind=TimelineKind.CREATED,
            summary=f"建档（{source or '未知来源'}）",
            data={"source": source},
        )
    else:
        customer = found[0]
        for other in found[1:]:
            keys_used = sorted(matched.get(customer.pk, set()) | matched.get(other.pk, set()))
            customer = customer_merge(
                survivor=customer, absorbed=other, reason=f"resolve:{source}"[:100], matched_keys=keys_used
            )
        changed: list[str] = []
        if unionid and not customer.unionid:
            customer.unionid = unionid
            changed.append("unionid")
        if hashed and not customer.phone_hash:
            columns = crypto.phone_columns(phone_digits)
            for attr, value in columns.items():
                setattr(customer, attr, value)
            changed += list(columns)
        for key, value in defaults.items():
            if key in _DEFAULT_FIELDS and key != "marketing_consent" and not _is_blank(value):
                attr = "home_store_id" if key == "home_store" else key
                current = getattr(customer, attr)
                if key == "attributes":
                    merged = {**value, **(current or {})}
                    if merged != current:
                        customer.attributes = merged
                        changed.append(key)
                elif _is_blank(current) or (key == "source_channel" and current == "other"):
                    setattr(customer, key, value)
                    changed.append(key)
        if changed:
            customer.save(update_fields=[*set(changed), "updated_at"])
    if platform and external_id:
        Identity.objects.get_or_create(
            organization=organization,
            platform=platform,
            account=account,
            external_id=external_id,
            defaults={"customer": customer},
        )
    return customer, created


# --- notes, consent ------------------------------------------------------------------------------


@transaction.atomic
def note_add(*, customer: Customer, author: Staff | None, body: str) -> Note:
    body = body.strip()
    if not body:
        raise ContactsError(_("跟进记录不能为空"))
    if customer.erased_at is not None:
        raise ContactsError(_("这位客户的个人信息已应本人要求删除，不能再记录跟进"))
    note = Note.objects.create(organization_id=customer.organization_id, customer=customer, author=author, body=body)
    timeline_add(customer=customer, kind=TimelineKind.NOTE, summary=body, actor=author, data={"note_id": note.pk})
    return note


@transaction.atomic
def customer_opt_out(*, customer: Customer, source: str, by: Staff | None = None) -> None:
    """Opt the customer out of marketing (idempotent; the first opt-out's time and source are kept)."""
    now = timezone.now()
    updated = Customer.objects.filter(pk=customer.pk, opted_out_at__isnull=True).update(
        opted_out_at=now, opt_out_source=source[:50], updated_at=now
    )
    if updated:
        customer.opted_out_at, customer.opt_out_source = now, source[:50]
        timeline_add(customer=customer, kind=TimelineKind.OPTED_OUT, summary=f"退订营销消息（{source}）", actor=by)


@transaction.atomic
def customer_opt_in(*, customer: Customer, source: str, by: Staff | None = None) -> None:
    """Record marketing consent (clears an opt-out: the customer asked again, explicitly)."""
    now = timezone.now()
    updated = (
        Customer.objects.filter(pk=customer.pk)
        .filter(Q(marketing_consent=False) | Q(opted_out_at__isnull=False))
        .update(
            marketing_consent=True,
            consent_at=now,
            consent_source=source[:50],
            opted_out_at=None,
            opt_out_source="",
            updated_at=now,
        )
    )
    if updated:
        customer.marketing_consent, customer.consent_at, customer.consent_source = True, now, source[:50]
        customer.opted_out_at, customer.opt_out_source = None, ""
        timeline_add(customer=customer, kind=TimelineKind.OPTED_IN, summary=f"同意营销（{source}）", actor=by)
