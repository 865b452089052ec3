"""Writes to the customer base. The only way to change contacts models (STYLE.md "services").

Conventions: keyword-only, typed, ``<entity>_<action>``; top-level services are atomic; side effects
(tag listeners, tasks) run on commit. ``Customer.tag_ids`` mirrors ``CustomerTag`` and every function
here that changes one changes the other in the same transaction, with SQL array operations (intarray's
``-``/``|`` and ``uniq(sort(…))``, so the array stays sorted and without duplicates).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import crypto
from contacts.models import (
    ChurnedBy,
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    CustomerMerge,
    CustomerTag,
    Follow,
    Identity,
    MemberType,
    Note,
    Organization,
    Role,
    Segment,
    Staff,
    Store,
    Tag,
    TagChoice,
    TagGroup,
    TagSource,
    TimelineEvent,
    TimelineKind,
)

logger = logging.getLogger(__name__)

TagListener = Callable[[int, list[int], list[int], str], None]
MergeHandler = Callable[[int, int], None]

_tag_listeners: list[TagListener] = []
_merge_handlers: dict[type[models.Model], MergeHandler] = {}


class ContactsError(ValueError):
    """A refused write; the message (Chinese) says what to do."""


# --- registries (higher layers plug in from AppConfig.ready()) -----------------------------------


def register_tag_listener(fn: TagListener) -> None:
    """``fn(customer_id, added_tag_ids, removed_tag_ids, source)`` runs after commit of every tag change."""
    if fn not in _tag_listeners:
        _tag_listeners.append(fn)


def register_merge_handler(model: type[models.Model], fn: MergeHandler) -> None:
    """``fn(survivor_id, absorbed_id)`` moves ``model``'s rows during a merge, instead of the generic move.

    For tables whose unique constraints involving the customer need more than "drop the absorbed
    duplicate" (e.g. sum two counters). The handler must leave no row pointing at the absorbed customer.
    """
    _merge_handlers[model] = fn


def _notify_tags(changes: Iterable[tuple[int, list[int], list[int]]], source: str) -> None:
    changes = [c for c in changes if c[1] or c[2]]
    if not changes or not _tag_listeners:
        return

    def run() -> None:
        for customer_id, added, removed in changes:
            for fn in _tag_listeners:
                try:
                    fn(customer_id, added, removed, source)
                except Exception:  # a broken listener must not hide the change from the others
                    logger.exception("tag listener %r failed for customer %s", fn, customer_id)

    transaction.on_commit(run)


# --- staff ---------------------------------------------------------------------------------------


@transaction.atomic
def staff_create(
    *,
    organization: Organization,
    name: str,
    role: Role,
    store: Store | None = None,
    username: str | None = None,
    password: str | None = None,
    wecom_userid: str = "",
    managed_stores: list[Store] | None = None,
) -> Staff:
    """Create a staff member, with a console login when ``username`` is given (role = Django group)."""
    user = None
    if username:
        user = get_user_model().objects.create_user(username=username, password=password)
        group, _created = Group.objects.get_or_create(name=role.value)
        user.groups.add(group)
    staff = Staff.objects.create(
        organization=organization, name=name, store=store, user=user, wecom_userid=wecom_userid
    )
    if managed_stores:
        staff.managed_stores.set(managed_stores)
    return staff


@transaction.atomic
def staff_set_role(*, staff: Staff, role: Role) -> None:
    if staff.user is None:
        raise ValueError(_("该员工没有登录账号，无法设置角色"))
    staff.user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]))
    group, _created = Group.objects.get_or_create(name=role.value)
    staff.user.groups.add(group)


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
    try:
        with transaction.atomic():
            return _customer_resolve(
                organization=organization,
                platform=platform,
                account=account,
                external_id=external_id,
                unionid=unionid,
                phone=phone,
                defaults=defaults or {},
                source=source,
            )
    except IntegrityError:
        return _customer_resolve(
            organization=organization,
            platform=platform,
            account=account,
            external_id=external_id,
            unionid=unionid,
            phone=phone,
            defaults=defaults or {},
            source=source,
        )


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
            phone_hash=hashed,
            phone_encrypted=crypto.encrypt_phone(phone_digits) if phone_digits else "",
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
            customer.phone_hash, customer.phone_encrypted = hashed, crypto.encrypt_phone(phone_digits)
            changed += ["phone_hash", "phone_encrypted"]
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
       ``tag_ids`` from the assignments; refresh order rollups; timeline + ``CustomerMerge`` row.
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
    for model, fn in _merge_handlers.items():
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

    # Scalar fields.
    for attr in ("name", "avatar", "unionid", "phone_hash", "phone_encrypted", "home_store_id", "consent_source"):
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
    _rollups_refresh([survivor.pk])
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


def _rollups_refresh(customer_ids: list[int]) -> None:
    try:
        rollups = importlib.import_module("contacts.rollups")
    except ImportError:
        return
    refresh = getattr(rollups, "customer_rollups_refresh", None)
    if refresh is not None:
        refresh(customer_ids=customer_ids)


# --- tags ----------------------------------------------------------------------------------------

_SET_TAG_IDS = """
    UPDATE contacts_customer
       SET tag_ids = uniq(sort((tag_ids - %s::int[]) | %s::int[])), updated_at = now()
     WHERE id = %s
 RETURNING tag_ids
"""


def _check_same_org(customer: Customer, tag: Tag) -> None:
    if customer.organization_id != tag.organization_id:
        raise ContactsError(_("标签与客户不属于同一企业"))


@transaction.atomic
def customer_tag_add(*, customer: Customer, tag: Tag, by: Staff | None = None, source: str = TagSource.STAFF) -> bool:
    """Tag a customer; in a single-choice group the customer's other tag of that group is removed.

    Returns whether the tag was newly added.
    """
    _check_same_org(customer, tag)
    group = TagGroup.objects.only("choice").get(pk=tag.group_id)
    with connection.cursor() as cursor:
        removed: list[int] = []
        if group.choice == TagChoice.SINGLE:
            cursor.execute(
                """
                DELETE FROM contacts_customertag ct USING contacts_tag t
                 WHERE ct.customer_id = %s AND ct.tag_id = t.id AND t.group_id = %s AND t.id <> %s
             RETURNING ct.tag_id
                """,
                [customer.pk, tag.group_id, tag.pk],
            )
            removed = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            """
            INSERT INTO contacts_customertag (organization_id, customer_id, tag_id, assigned_at, assigned_by_id, source)
            VALUES (%s, %s, %s, now(), %s, %s)
            ON CONFLICT (customer_id, tag_id) DO NOTHING
            RETURNING id
            """,
            [customer.organization_id, customer.pk, tag.pk, by.pk if by else None, source],
        )
        added = cursor.fetchone() is not None
        if not added and not removed:
            return False
        cursor.execute(_SET_TAG_IDS, [removed, [tag.pk], customer.pk])
        customer.tag_ids = list(cursor.fetchone()[0])
    names = dict(Tag.objects.filter(pk__in=removed).values_list("pk", "name"))
    for tag_id in removed:
        timeline_add(
            customer=customer,
            kind=TimelineKind.UNTAGGED,
            summary=f"移除标签：{names.get(tag_id, tag_id)}（单选组切换）",
            data={"tag_id": tag_id, "source": source},
            actor=by,
        )
    if added:
        timeline_add(
            customer=customer,
            kind=TimelineKind.TAGGED,
            summary=f"打标签：{tag.name}",
            data={"tag_id": tag.pk, "source": source},
            actor=by,
        )
    _notify_tags([(customer.pk, [tag.pk] if added else [], removed)], source)
    return added


@transaction.atomic
def customer_tag_remove(
    *, customer: Customer, tag: Tag, by: Staff | None = None, source: str = TagSource.STAFF
) -> bool:
    """Remove a tag from a customer. Returns whether it was there."""
    _check_same_org(customer, tag)
    deleted, _rows = CustomerTag.objects.filter(customer_id=customer.pk, tag_id=tag.pk).delete()
    if not deleted:
        return False
    with connection.cursor() as cursor:
        cursor.execute(_SET_TAG_IDS, [[tag.pk], [], customer.pk])
        customer.tag_ids = list(cursor.fetchone()[0])
    timeline_add(
        customer=customer,
        kind=TimelineKind.UNTAGGED,
        summary=f"移除标签：{tag.name}",
        data={"tag_id": tag.pk, "source": source},
        actor=by,
    )
    _notify_tags([(customer.pk, [], [tag.pk])], source)
    return True


@transaction.atomic
def customers_tag_bulk(
    *,
    organization: Organization,
    tag: Tag,
    customer_ids: QuerySet[Any] | list[int],
    by: Staff | None = None,
    source: str = TagSource.STAFF,
) -> int:
    """Tag many customers in one statement (``INSERT … SELECT … ON CONFLICT DO NOTHING`` + one
    ``UPDATE`` of ``tag_ids``). ``customer_ids`` is a list or a queryset of customers / ids; rows of
    other organizations are ignored. Returns how many customers newly got the tag."""
    if tag.organization_id != organization.pk:
        raise ContactsError(_("标签与客户不属于同一企业"))
    if isinstance(customer_ids, QuerySet):
        # A queryset of customers, or of ids (``values("pk")`` / ``values_list("id", flat=True)``).
        ids_qs = customer_ids if customer_ids._fields else customer_ids.values("pk")  # type: ignore[attr-defined]
        sub_sql, sub_params = ids_qs.query.sql_with_params()
        target = f"SELECT id FROM contacts_customer WHERE organization_id = %s AND id IN ({sub_sql})"
        target_params: list[Any] = [organization.pk, *sub_params]
    else:
        target = "SELECT id FROM contacts_customer WHERE organization_id = %s AND id = ANY(%s)"
        target_params = [organization.pk, [int(i) for i in customer_ids]]
    single = TagGroup.objects.filter(pk=tag.group_id, choice=TagChoice.SINGLE).exists()
    removed_cte = (
        """
        removed AS (
            DELETE FROM contacts_customertag ct USING contacts_tag t
             WHERE ct.tag_id = t.id AND t.group_id = %s AND t.id <> %s AND ct.customer_id IN (SELECT id FROM target)
         RETURNING ct.customer_id, ct.tag_id::int AS tag_id
        ),"""
        if single
        else "removed AS (SELECT NULL::bigint AS customer_id, NULL::int AS tag_id WHERE false),"
    )
    removed_params = [tag.group_id, tag.pk] if single else []
    sql = f"""
        WITH target AS ({target}),
        {removed_cte}
        added AS (
            INSERT INTO contacts_customertag (organization_id, customer_id, tag_id, assigned_at, assigned_by_id, source)
            SELECT %s, id, %s, now(), %s, %s FROM target
            ON CONFLICT (customer_id, tag_id) DO NOTHING
            RETURNING customer_id
        ),
        gone AS (SELECT customer_id, array_agg(tag_id ORDER BY tag_id) AS ids FROM removed GROUP BY customer_id),
        changed AS (
            SELECT COALESCE(a.customer_id, g.customer_id) AS customer_id, a.customer_id IS NOT NULL AS is_added,
                   COALESCE(g.ids, '{{}}'::int[]) AS removed_ids
              FROM added a FULL JOIN gone g ON g.customer_id = a.customer_id
        ),
        upd AS (
            UPDATE contacts_customer c
               SET tag_ids = uniq(sort((c.tag_ids - ch.removed_ids) | %s::int)), updated_at = now()
              FROM changed ch
             WHERE c.id = ch.customer_id
         RETURNING c.id
        ),
        tl AS (
            INSERT INTO contacts_timelineevent
                   (organization_id, customer_id, kind, occurred_at, actor_id, summary, data)
            SELECT %s, customer_id, %s, now(), %s, %s, %s::jsonb FROM added
        )
        SELECT ch.customer_id, ch.is_added, ch.removed_ids FROM changed ch
    """
    params = [
        *target_params,
        *removed_params,
        organization.pk,
        tag.pk,
        by.pk if by else None,
        source,
        tag.pk,
        organization.pk,
        TimelineKind.TAGGED,
        by.pk if by else None,
        f"打标签：{tag.name}"[:200],
        f'{{"tag_id": {int(tag.pk)}, "source": "{source}", "bulk": true}}',
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    _notify_tags([(cid, [tag.pk] if is_added else [], list(removed)) for cid, is_added, removed in rows], source)
    return sum(1 for _cid, is_added, _removed in rows if is_added)


def customer_tag_ids_rebuild(*, organization_id: int) -> int:
    """Recompute ``Customer.tag_ids`` from the assignment table for a whole organization.

    Set-based; used after bulk loads and by the consistency check. Returns the rows changed.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE contacts_customer c
               SET tag_ids = COALESCE(sub.ids, '{}')
              FROM contacts_customer c2
              LEFT JOIN (
                    SELECT customer_id, array_agg(tag_id::int ORDER BY tag_id) AS ids
                      FROM contacts_customertag
                     WHERE organization_id = %s
                  GROUP BY customer_id
              ) sub ON sub.customer_id = c2.id
             WHERE c.id = c2.id
               AND c2.organization_id = %s
               AND c.tag_ids IS DISTINCT FROM COALESCE(sub.ids, '{}')
            """,
            [organization_id, organization_id],
        )
        return int(cursor.rowcount)


# --- tag catalogue -------------------------------------------------------------------------------


def _unique_name_error(exc: IntegrityError, message: str) -> ContactsError:
    return ContactsError(message) if "unique" in str(exc).lower() else ContactsError(str(exc))


@transaction.atomic
def tag_group_create(
    *, organization: Organization, name: str, choice: str = TagChoice.MULTI, order: int = 0
) -> TagGroup:
    name = name.strip()
    if not name:
        raise ContactsError(_("请填写标签组名称"))
    if TagGroup.objects.filter(organization=organization, name=name).exists():
        raise ContactsError(_("标签组“%(name)s”已存在，请换一个名称") % {"name": name})
    return TagGroup.objects.create(organization=organization, name=name, choice=choice, order=order)


@transaction.atomic
def tag_group_update(
    *, group: TagGroup, name: str | None = None, choice: str | None = None, order: int | None = None
) -> TagGroup:
    """Rename / reorder a group or change its choice; turning multi into single is refused while
    some customer holds two tags of the group."""
    if name is not None:
        name = name.strip()
        if not name:
            raise ContactsError(_("请填写标签组名称"))
        if TagGroup.objects.filter(organization_id=group.organization_id, name=name).exclude(pk=group.pk).exists():
            raise ContactsError(_("标签组“%(name)s”已存在，请换一个名称") % {"name": name})
        group.name = name
    if choice is not None and choice != group.choice:
        if choice == TagChoice.SINGLE:
            clash = (
                CustomerTag.objects.filter(tag__group=group)
                .values("customer_id")
                .annotate(n=models.Count("id"))
                .filter(n__gt=1)
                .count()
            )
            if clash:
                raise ContactsError(_("有 %(n)s 位客户在该组有多个标签，请先处理后再改为单选") % {"n": clash})
        group.choice = choice
    if order is not None:
        group.order = order
    group.save()
    return group


@transaction.atomic
def tag_group_delete(*, group: TagGroup) -> None:
    """Delete a group and its tags (removing them from every customer's ``tag_ids``)."""
    for tag in list(group.tags.all()):
        tag_delete(tag=tag)
    group.delete()


@transaction.atomic
def tag_create(*, group: TagGroup, name: str, order: int = 0, wecom_tag_id: str = "") -> Tag:
    name = name.strip()
    if not name:
        raise ContactsError(_("请填写标签名称"))
    if Tag.objects.filter(group=group, name=name).exists():
        raise ContactsError(_("标签组“%(group)s”里已有标签“%(name)s”") % {"group": group.name, "name": name})
    return Tag.objects.create(
        organization_id=group.organization_id, group=group, name=name, order=order, wecom_tag_id=wecom_tag_id
    )


@transaction.atomic
def tag_update(*, tag: Tag, name: str | None = None, order: int | None = None) -> Tag:
    if name is not None:
        name = name.strip()
        if not name:
            raise ContactsError(_("请填写标签名称"))
        if Tag.objects.filter(group_id=tag.group_id, name=name).exclude(pk=tag.pk).exists():
            raise ContactsError(_("该标签组里已有标签“%(name)s”") % {"name": name})
        tag.name = name
    if order is not None:
        tag.order = order
    tag.save()
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag) -> None:
    """Delete a tag: its assignments go by cascade and ``tag_ids`` loses it in one indexed UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE contacts_customer SET tag_ids = tag_ids - %s::int, updated_at = now()
             WHERE organization_id = %s AND tag_ids @> ARRAY[%s]::int[]
            """,
            [tag.pk, tag.organization_id, tag.pk],
        )
    tag.delete()


# --- notes, consent ------------------------------------------------------------------------------


@transaction.atomic
def note_add(*, customer: Customer, author: Staff | None, body: str) -> Note:
    body = body.strip()
    if not body:
        raise ContactsError(_("跟进记录不能为空"))
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
) -> Follow:
    """Create or refresh the staff ↔ customer friendship (a re-add revives a churned one)."""
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
        follow.remark = remark or follow.remark
        follow.description = description or follow.description
        follow.save()
    return follow


@transaction.atomic
def follow_end(*, customer: Customer, staff: Staff, by: str, at: datetime | None = None) -> None:
    """The friendship ended (customer deleted staff, staff deleted customer, or transfer)."""
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


# --- segments ------------------------------------------------------------------------------------


@transaction.atomic
def segment_save(
    *, actor: Any, name: str, expression: dict[str, Any], description: str = "", segment: Segment | None = None
) -> Segment:
    """Create or update a saved segment; the expression is validated and stored normalized."""
    from contacts import segments

    name = name.strip()
    if not name:
        raise segments.SegmentError(_("请填写分群名称"))
    normalized = segments.validate(expression, organization_id=actor.organization_id)
    if segment is not None and segment.organization_id != actor.organization_id:
        raise segments.SegmentError(_("分群不存在"))
    clash = Segment.objects.filter(organization_id=actor.organization_id, name=name)
    if segment is not None:
        clash = clash.exclude(pk=segment.pk)
    if clash.exists():
        raise segments.SegmentError(_("分群名称“%(name)s”已存在，请换一个名称") % {"name": name})
    if segment is None:
        segment = Segment(organization_id=actor.organization_id, created_by=actor.staff)
    segment.name, segment.description, segment.expression = name, description, normalized
    segment.last_count = segments.segment_count(actor=actor, expression=normalized)
    segment.last_counted_at = timezone.now()
    segment.save()
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    segment.delete()
