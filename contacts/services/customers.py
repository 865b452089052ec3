"""Customers: OneID resolution and merge, the timeline, notes and marketing consent."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import crypto
from contacts.models import (
    Customer,
    CustomerMerge,
    CustomerTag,
    Identity,
    Note,
    Organization,
    Staff,
    TagChoice,
    TimelineEvent,
    TimelineKind,
)
from contacts.services import registry
from contacts.services.registry import ContactsError, _notify_tags
from contacts.services.rollups import ORDER_FIGURE_FIELDS

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
) -> tuple[Customer, bool]:
    """Find the one customer behind an identity / unionid / phone; create, attach or merge.

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
    }
    try:
        with transaction.atomic():
            return _customer_resolve(**keys)
    except IntegrityError:
        # Another process created the same person between our lookup and insert: look again.
        return _customer_resolve(**keys)


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
            customer = customer_merge(survivor=customer, absorbed=other, reason=f"resolve:{source}"[:100])
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


def _snapshot(customer: Customer) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in customer._meta.concrete_fields:
        value = getattr(customer, field.attname)
        data[field.attname] = value.isoformat() if isinstance(value, datetime) else value
    return {
        k: (str(v) if not isinstance(v, str | int | float | bool | list | dict | type(None)) else v)
        for k, v in data.items()
    }


def _customer_foreign_keys() -> list[tuple[type[models.Model], models.ForeignKey[Any, Any]]]:
    """Every concrete FK/one-to-one to Customer in every installed app (auto-created M2M tables too)."""
    return [
        (model, field)
        for model in apps.get_models(include_auto_created=True)
        if not model._meta.proxy and model._meta.managed
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey) and field.related_model is Customer
    ]


def _unique_sets(model: type[models.Model], field: models.Field[Any, Any]) -> list[tuple[list[str], Q | None]]:
    """Unique field sets of ``model`` that include ``field`` (with the constraint's condition, if any)."""
    sets: list[tuple[list[str], Q | None]] = []
    if field.unique:
        sets.append(([field.name], None))
    sets += [(list(fields), None) for fields in model._meta.unique_together if field.name in fields]
    sets += [
        (list(c.fields), c.condition)
        for c in model._meta.constraints
        if isinstance(c, models.UniqueConstraint) and c.fields and field.name in c.fields
    ]
    return sets


def _move_rows(
    model: type[models.Model], field: models.ForeignKey[Any, Any], survivor_id: int, absorbed_id: int
) -> None:
    """Repoint ``model.field`` from absorbed to survivor, first dropping rows that would collide."""
    manager = model._base_manager
    for fields, condition in _unique_sets(model, field):
        others = [f for f in fields if f != field.name]
        survivor_rows = manager.filter(**{field.attname: survivor_id}, **{f: OuterRef(f) for f in others})
        absorbed_rows = manager.filter(**{field.attname: absorbed_id})
        if condition is not None:
            survivor_rows, absorbed_rows = survivor_rows.filter(condition), absorbed_rows.filter(condition)
        absorbed_rows.filter(Exists(survivor_rows)).delete()
    manager.filter(**{field.attname: absorbed_id}).update(**{field.attname: survivor_id})


@transaction.atomic
def customer_merge(*, survivor: Customer, absorbed: Customer, reason: str) -> Customer:
    """Fold ``absorbed`` into ``survivor``: move every relation, keep the earliest first touch, audit.

    1. Lock both rows (primary-key order); snapshot the absorbed customer.
    2. Single-choice tag groups: the survivor's choice wins; then every FK to Customer in every app is
       repointed (registered merge handlers first; otherwise duplicates on a unique constraint
       involving the customer are dropped from the absorbed side before the move).
    3. Merge scalar fields (blanks filled, earliest first touch/creation, opt-out wins) and rebuild
       ``tag_ids`` from the assignments (the order figures stay as the merge handlers wrote them);
       timeline + ``CustomerMerge`` row.
    """
    if survivor.pk == absorbed.pk:
        return survivor
    if survivor.organization_id != absorbed.organization_id:
        raise ContactsError(_("不能合并不同企业的客户"))
    ids = sorted([survivor.pk, absorbed.pk])
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    survivor, absorbed = locked[survivor.pk], locked[absorbed.pk]
    snapshot = _snapshot(absorbed)
    before_tags = set(survivor.tag_ids or [])

    # Single-choice groups: drop the absorbed customer's tag where the survivor already chose one.
    CustomerTag.objects.filter(
        customer_id=absorbed.pk,
        tag__group__choice=TagChoice.SINGLE,
        tag__group_id__in=CustomerTag.objects.filter(customer_id=survivor.pk).values("tag__group_id"),
    ).delete()

    handled = set()
    for model, fn in registry._merge_handlers.items():
        fn(survivor.pk, absorbed.pk)
        handled.add(model)
    tables = set(connection.introspection.table_names())
    for model, field in _customer_foreign_keys():
        if model in handled:
            continue
        if model._meta.db_table not in tables:
            # A model whose migration has not run yet holds no rows to move.
            logger.warning("merge: table %s does not exist yet; skipped", model._meta.db_table)
            continue
        _move_rows(model, field, survivor.pk, absorbed.pk)
    # The order figures are written by the layer that records orders, through
    # customer_order_figures_set (analytics does it in its merge handler above, after moving the
    # orders): reload them, so the save below does not put back the ones locked before the move.
    survivor.refresh_from_db(fields=list(ORDER_FIGURE_FIELDS))

    # Scalar fields.
    if not survivor.phone_hash and absorbed.phone_hash:
        for attr in crypto.PHONE_COLUMNS:
            setattr(survivor, attr, getattr(absorbed, attr))
    for attr in ("name", "avatar", "unionid", "home_store_id", "consent_source", "birthday"):
        if not getattr(survivor, attr) and getattr(absorbed, attr):
            setattr(survivor, attr, getattr(absorbed, attr))
    if not survivor.gender and absorbed.gender:
        survivor.gender = absorbed.gender
    if absorbed.first_touch_at and (
        survivor.first_touch_at is None or absorbed.first_touch_at < survivor.first_touch_at
    ):
        survivor.first_touch_at, survivor.first_touch = absorbed.first_touch_at, absorbed.first_touch
        survivor.source_channel = absorbed.source_channel
    elif survivor.first_touch_at is None and not survivor.first_touch and absorbed.first_touch:
        survivor.first_touch = absorbed.first_touch
    if survivor.source_channel == "other" and absorbed.source_channel != "other":
        survivor.source_channel = absorbed.source_channel
    survivor.created_at = min(survivor.created_at, absorbed.created_at)
    survivor.attributes = {**(absorbed.attributes or {}), **(survivor.attributes or {})}
    if absorbed.marketing_consent and not survivor.marketing_consent:
        survivor.marketing_consent, survivor.consent_at = True, absorbed.consent_at
    if absorbed.opted_out_at and (survivor.opted_out_at is None or absorbed.opted_out_at < survivor.opted_out_at):
        survivor.opted_out_at, survivor.opt_out_source = absorbed.opted_out_at, absorbed.opt_out_source

    with connection.cursor() as cursor:
        # The absorbed row goes first (its phone/unionid are unique per organization). Nothing points
        # at it any more, so a plain DELETE (no ORM collector walking every related table).
        cursor.execute("DELETE FROM contacts_customer WHERE id = %s", [absorbed.pk])
        survivor.save()
        cursor.execute(
            """
            UPDATE contacts_customer
               SET tag_ids = COALESCE(
                     (SELECT array_agg(tag_id::int ORDER BY tag_id) FROM contacts_customertag WHERE customer_id = %s),
                     '{}')
             WHERE id = %s
         RETURNING tag_ids
            """,
            [survivor.pk, survivor.pk],
        )
        survivor.tag_ids = list(cursor.fetchone()[0])
    CustomerMerge.objects.create(
        organization_id=survivor.organization_id,
        survivor=survivor,
        merged_customer_id=absorbed.pk,
        snapshot=snapshot,
        reason=reason[:100],
    )
    timeline_add(
        customer=survivor,
        kind=TimelineKind.MERGED,
        summary=f"合并客户 #{absorbed.pk}",
        data={"absorbed_id": absorbed.pk, "reason": reason},
    )
    added = sorted(set(survivor.tag_ids) - before_tags)
    _notify_tags([(survivor.pk, added, [])], "merge")
    return survivor


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
