"""OneID merges: fold one customer into another (automatically or by hand), and undo a merge.

A merge records, before it changes anything, what an undo needs to restore both records exactly: the
absorbed customer's row as Postgres stores it (``row_to_json``), the survivor's row before and after,
the primary keys of every row moved from the absorbed customer (per table and column), and full dumps
of the rows dropped because the survivor already had their twin. Rows go back with
``json_populate_record``, so every column (arrays, JSON, timestamps to the microsecond) round-trips.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import crypto
from contacts.models import (
    AuditAction,
    Customer,
    CustomerMerge,
    CustomerTag,
    Staff,
    TagChoice,
    TimelineEvent,
    TimelineKind,
)
from contacts.services import registry
from contacts.services.audit import audit_record
from contacts.services.registry import ContactsError, _notify_tags
from contacts.services.rollups import ORDER_FIGURE_FIELDS

logger = logging.getLogger(__name__)

UNDO_DAYS = 30
# Survivor columns an undo does not compare: kept current by Postgres or by the order layer, which
# recomputes them for both customers after the rows are back.
_DERIVED = {"updated_at", "tag_ids", *ORDER_FIGURE_FIELDS}


def _row_json(table: str, pk: int) -> dict[str, Any] | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT row_to_json(t) FROM {table} t WHERE t.id = %s", [pk])
        row = cursor.fetchone()
    return row[0] if row else None


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


def _dump_and_delete(model: type[models.Model], queryset: models.QuerySet[Any]) -> list[dict[str, Any]]:
    """Full dumps of the rows about to be dropped (for an undo), then one DELETE."""
    table, pk = model._meta.db_table, model._meta.pk.column
    ids = list(queryset.values_list("pk", flat=True))
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT row_to_json(t) FROM {table} t WHERE t.{pk} = ANY(%s)", [ids])
        dumps = [{"table": table, "row": row[0]} for row in cursor.fetchall()]
    model._base_manager.filter(pk__in=ids).delete()
    return dumps


def _move_rows(
    model: type[models.Model], field: models.ForeignKey[Any, Any], survivor_id: int, absorbed_id: int
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Repoint ``model.field`` from absorbed to survivor, first dropping rows that would collide.

    Returns the moved primary keys and the dumps of the dropped rows."""
    manager = model._base_manager
    dropped: list[dict[str, Any]] = []
    for fields, condition in _unique_sets(model, field):
        others = [f for f in fields if f != field.name]
        survivor_rows = manager.filter(**{field.attname: survivor_id}, **{f: OuterRef(f) for f in others})
        absorbed_rows = manager.filter(**{field.attname: absorbed_id})
        if condition is not None:
            survivor_rows, absorbed_rows = survivor_rows.filter(condition), absorbed_rows.filter(condition)
        dropped += _dump_and_delete(model, absorbed_rows.filter(Exists(survivor_rows)))
    moving = manager.filter(**{field.attname: absorbed_id})
    moved = list(moving.values_list("pk", flat=True))
    moving.update(**{field.attname: survivor_id})
    return moved, dropped


def _matched(found: Iterable[Customer], keys: dict[int, set[str]]) -> list[str]:
    return sorted({k for c in found for k in keys.get(c.pk, set())})


@transaction.atomic
def customer_merge(
    *,
    survivor: Customer,
    absorbed: Customer,
    reason: str,
    matched_keys: Iterable[str] = (),
    by: Staff | None = None,
    manual: bool = False,
) -> Customer:
    """Fold ``absorbed`` into ``survivor``: move every relation, keep the earliest first touch, audit.

    1. Lock both rows (primary-key order); dump both rows as stored.
    2. Single-choice tag groups: the survivor's choice wins; then every FK to Customer in every app is
       repointed (registered merge handlers first; otherwise duplicates on a unique constraint
       involving the customer are dumped and dropped from the absorbed side before the move).
    3. Merge scalar fields (blanks filled, earliest first touch/creation, opt-out wins) and rebuild
       ``tag_ids`` from the assignments (the order figures stay as the merge handlers wrote them);
       timeline + ``CustomerMerge`` row with everything :func:`customer_merge_undo` needs.
    """
    if survivor.pk == absorbed.pk:
        return survivor
    if survivor.organization_id != absorbed.organization_id:
        raise ContactsError(_("不能合并不同企业的客户"))
    ids = sorted([survivor.pk, absorbed.pk])
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(locked) != 2:
        raise ContactsError(_("客户已被合并或删除，请刷新页面"))
    survivor, absorbed = locked[survivor.pk], locked[absorbed.pk]
    absorbed_row = _row_json("contacts_customer", absorbed.pk) or {}
    survivor_before = _row_json("contacts_customer", survivor.pk) or {}
    snapshot = {k: v for k, v in absorbed_row.items() if k not in ("tag_ids",)}
    before_tags = set(survivor.tag_ids or [])

    # Single-choice groups: drop the absorbed customer's tag where the survivor already chose one.
    dropped = _dump_and_delete(
        CustomerTag,
        CustomerTag.objects.filter(
            customer_id=absorbed.pk,
            tag__group__choice=TagChoice.SINGLE,
            tag__group_id__in=CustomerTag.objects.filter(customer_id=survivor.pk).values("tag__group_id"),
        ),
    )
    tables = set(connection.introspection.table_names())
    relations = [
        (model, field)
        for model, field in _customer_foreign_keys()
        if model not in registry._merge_handlers and model._meta.db_table in tables
    ]
    # What moves, recorded before the merge handlers move their part (e.g. analytics' orders).
    moved: dict[str, list[Any]] = {}
    for model, field in relations:
        pks = list(model._base_manager.filter(**{field.attname: absorbed.pk}).values_list("pk", flat=True))
        if pks:
            moved[f"{model._meta.db_table}.{field.column}.{model._meta.pk.column}"] = pks
    for fn in registry._merge_handlers.values():
        fn(survivor.pk, absorbed.pk)
    for model, field in relations:
        _pks, gone = _move_rows(model, field, survivor.pk, absorbed.pk)
        dropped += gone
    dropped_ids = {(d["table"], d["row"].get("id")) for d in dropped}
    moved = {key: [pk for pk in pks if (key.split(".")[0], pk) not in dropped_ids] for key, pks in moved.items()}
    # The order figures are written by the layer that records orders (analytics' merge handler above):
    # reload them, so the save below does not put back the ones locked before the move.
    survivor.refresh_from_db(fields=list(ORDER_FIGURE_FIELDS))
    _merge_fields(survivor, absorbed)

    with connection.cursor() as cursor:
        # The absorbed row goes first (its phone/unionid are unique per organization). Nothing points
        # at it any more, so a plain DELETE (no ORM collector walking every related table).
        cursor.execute("DELETE FROM contacts_customer WHERE id = %s", [absorbed.pk])
        survivor.save()
        survivor.tag_ids = _tag_ids_rebuild(cursor, survivor.pk)
    event = TimelineEvent.objects.create(
        organization_id=survivor.organization_id,
        customer=survivor,
        kind=TimelineKind.MERGED,
        summary=(_("手动合并客户 #%(id)s") if manual else _("合并客户 #%(id)s")) % {"id": absorbed.pk},
        data={"absorbed_id": absorbed.pk, "reason": reason, "matched_keys": sorted(set(matched_keys))},
        actor=by,
    )
    CustomerMerge.objects.create(
        organization_id=survivor.organization_id,
        survivor=survivor,
        merged_customer_id=absorbed.pk,
        snapshot=snapshot,
        reason=reason[:100],
        matched_keys=sorted(set(matched_keys)),
        manual=manual,
        by=by,
        restore={
            "absorbed": absorbed_row,
            "survivor_before": survivor_before,
            "survivor_after": _row_json("contacts_customer", survivor.pk),
            "moved": moved,
            "dropped": dropped,
            "timeline_id": event.pk,
        },
    )
    # Ids and codes only: an automatic merge's reason is a code ("resolve:<source>"); a manual one's is
    # the operator's free text, which may name the person, so it stays on the merge record only.
    audit_record(
        organization_id=survivor.organization_id,
        action=AuditAction.CUSTOMER_MERGE,
        target_type="customer",
        target_id=survivor.pk,
        actor_staff_id=by.pk if by is not None else None,
        details={
            "absorbed_customer_id": absorbed.pk,
            "manual": manual,
            **({} if manual else {"reason": reason[:64]}),
        },
    )
    added = sorted(set(survivor.tag_ids) - before_tags)
    _notify_tags([(survivor.pk, added, [])], "merge")
    return survivor


def _merge_fields(survivor: Customer, absorbed: Customer) -> None:
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


def _tag_ids_rebuild(cursor: Any, customer_id: int) -> list[int]:
    cursor.execute(
        """
        UPDATE contacts_customer
           SET tag_ids = COALESCE(
                 (SELECT array_agg(tag_id::int ORDER BY tag_id) FROM contacts_customertag WHERE customer_id = %s),
                 '{}')
         WHERE id = %s
     RETURNING tag_ids
        """,
        [customer_id, customer_id],
    )
    return list(cursor.fetchone()[0])


@transaction.atomic
def customer_merge_manual(*, actor: Any, survivor_id: int, absorbed_id: int, reason: str) -> Customer:
    """An operator merges two records of one person; both must be in the actor's scope.

    ``actor`` is a :class:`contacts.access.Actor` (typed loosely: access imports these services).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ContactsError(_("请填写合并原因（例如：同一人，两个手机号）"))
    if survivor_id == absorbed_id:
        raise ContactsError(_("请选择另一位客户：不能和自己合并"))
    found = {c.pk: c for c in actor.scope(Customer.objects.filter(pk__in=[survivor_id, absorbed_id]))}
    if len(found) != 2:
        raise ContactsError(_("找不到要合并的客户：它不存在，或不在你可管理的门店"))
    if any(c.erased_at is not None for c in found.values()):
        raise ContactsError(_("个人信息已删除的客户不能合并"))
    return customer_merge(
        survivor=found[survivor_id],
        absorbed=found[absorbed_id],
        reason=reason,
        matched_keys=["manual"],
        by=actor.staff,
        manual=True,
    )


def _conflict(message: str) -> ContactsError:
    return ContactsError(message)


@transaction.atomic
def customer_merge_undo(*, actor: Any, merge_id: int) -> tuple[Customer, Customer]:
    """Undo a merge within 30 days: both records back exactly as they were, every moved row returned.

    Refused (nothing changed) when the merge is older than 30 days, already undone, its restore data
    was erased, the survivor was merged again, or rows moved since in a way that cannot be put back.
    Returns (survivor, restored customer).
    """
    merge = actor.scope(CustomerMerge.objects.select_for_update(of=("self",))).filter(pk=merge_id).first()
    if merge is None:
        raise ContactsError(_("找不到这条合并记录：它不存在，或不在你可管理的门店"))
    if merge.undone_at is not None:
        raise ContactsError(_("这次合并已经撤销过了"))
    if timezone.now() - merge.merged_at > timedelta(days=UNDO_DAYS):
        raise ContactsError(_("合并已超过 %(days)s 天，不能再撤销；如需拆分请联系管理员") % {"days": UNDO_DAYS})
    restore = merge.restore or {}
    if not restore.get("absorbed"):
        raise ContactsError(_("这条合并记录没有可恢复的数据（个人信息已删除，或合并早于撤销功能），无法撤销"))
    survivor = Customer.objects.select_for_update().filter(pk=merge.survivor_id).first()
    if survivor is None:
        raise ContactsError(_("保留的客户已不存在，无法撤销"))
    absorbed_id = merge.merged_customer_id
    if Customer.objects.filter(pk=absorbed_id).exists():
        raise ContactsError(_("被合并的客户 #%(id)s 已存在，无法撤销") % {"id": absorbed_id})
    later = CustomerMerge.objects.filter(
        survivor=survivor, merged_at__gt=merge.merged_at, undone_at__isnull=True
    ).exclude(pk=merge.pk)
    if later.exists():
        raise ContactsError(_("这位客户之后又合并了其他客户：请先撤销较晚的那次合并"))
    before, after = restore["survivor_before"], restore["survivor_after"] or {}
    current = _row_json("contacts_customer", survivor.pk) or {}
    changed = [k for k in before if k not in _DERIVED and before.get(k) != after.get(k)]
    edited = [k for k in changed if current.get(k) != after.get(k)]
    if edited:
        raise ContactsError(
            _("合并后这位客户的资料又改过（%(fields)s），无法原样撤销") % {"fields": "、".join(sorted(edited))}
        )
    with connection.cursor() as cursor:
        for key, pks in restore.get("moved", {}).items():
            table, column, pk_column = key.split(".")
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {pk_column} = ANY(%s) AND {column} = %s",
                [pks, survivor.pk],
            )
            if cursor.fetchone()[0] != len(pks):
                raise ContactsError(
                    _("合并后，原属被合并客户的部分记录（%(table)s）已删除或转给了别人，无法原样撤销")
                    % {"table": table}
                )
        for fn in registry._unmerge_handlers:
            fn(survivor.pk, absorbed_id, "before")
        restore_cols = [*changed, *[k for k in ORDER_FIGURE_FIELDS if k in before]]
        if restore_cols:
            cols = ", ".join(f'"{c}"' for c in restore_cols)
            cursor.execute(
                f"UPDATE contacts_customer SET ({cols}) = "
                f"(SELECT {cols} FROM json_populate_record(NULL::contacts_customer, %s::json)) WHERE id = %s",
                [_json(before), survivor.pk],
            )
        cursor.execute(
            "INSERT INTO contacts_customer SELECT * FROM json_populate_record(NULL::contacts_customer, %s::json)",
            [_json(_with_defaults("contacts_customer", restore["absorbed"]))],
        )
        for key, pks in restore.get("moved", {}).items():
            table, column, pk_column = key.split(".")
            cursor.execute(
                f"UPDATE {table} SET {column} = %s WHERE {pk_column} = ANY(%s)",
                [absorbed_id, pks],
            )
        for dump in restore.get("dropped", []):
            try:
                with transaction.atomic():
                    cursor.execute(
                        f"INSERT INTO {dump['table']} SELECT * FROM json_populate_record(NULL::{dump['table']}, %s::json)",  # noqa: E501
                        [_json(_with_defaults(dump["table"], dump["row"]))],
                    )
            except IntegrityError as exc:
                raise ContactsError(
                    _("合并时去重的记录（%(table)s）已无法恢复（关联的数据已删除），无法原样撤销")
                    % {"table": dump["table"]}
                ) from exc
        TimelineEvent.objects.filter(pk=int(restore.get("timeline_id") or 0), customer_id=survivor.pk).delete()
        _tag_ids_rebuild(cursor, survivor.pk)
        _tag_ids_rebuild(cursor, absorbed_id)
        for fn in registry._unmerge_handlers:
            fn(survivor.pk, absorbed_id, "after")
        # "Exactly as they were": the recomputations above touched updated_at; put the stored times back.
        for pk, row in ((survivor.pk, before), (absorbed_id, restore["absorbed"])):
            cursor.execute(
                "UPDATE contacts_customer SET updated_at = %s::timestamptz WHERE id = %s", [row["updated_at"], pk]
            )
    CustomerMerge.objects.filter(pk=merge.pk).update(undone_at=timezone.now(), undone_by=actor.staff)
    survivor.refresh_from_db()
    audit_record(
        organization_id=survivor.organization_id,
        action=AuditAction.CUSTOMER_UNMERGE,
        target_type="customer",
        target_id=survivor.pk,
        actor_staff_id=actor.staff.pk if getattr(actor, "staff", None) is not None else None,
        details={"restored_customer_id": absorbed_id, "merge_id": merge.pk},
    )
    return survivor, Customer.objects.get(pk=absorbed_id)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)


def _with_defaults(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A dumped row with the model's defaults for the columns added since it was dumped (a migration
    after the merge): ``json_populate_record`` would give those NULL, which a NOT NULL JSON or array
    column refuses and a nullable one would keep as the wrong value."""
    model = next((m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table), None)
    if model is None:
        return row
    missing: dict[str, Any] = {
        str(f.column): f.get_default() for f in model._meta.concrete_fields if f.column not in row and f.has_default()
    }
    return {**missing, **row}
