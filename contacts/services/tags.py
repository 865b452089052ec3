"""Tags on customers (``tag_ids`` kept in step with ``CustomerTag``) and the tag catalogue."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from contacts.models import (
    Customer,
    CustomerTag,
    Organization,
    Staff,
    Tag,
    TagChoice,
    TagGroup,
    TagRule,
    TagSource,
    TimelineKind,
)
from contacts.services.customers import timeline_add
from contacts.services.registry import (
    CatalogueChange,
    ContactsError,
    _notify_tag_deleted,
    _notify_tags,
    catalogue_push,
)

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
    if customer.erased_at is not None:
        raise ContactsError(_("这位客户的个人信息已应本人要求删除，不能再打标签"))
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
    rule: TagRule | None = None,
) -> int:
    """Tag many customers in one statement (``INSERT … SELECT … ON CONFLICT DO NOTHING`` + one
    ``UPDATE`` of ``tag_ids``). ``customer_ids`` is a list or a queryset of customers / ids; rows of
    other organizations are ignored. ``rule``: the tagging rule giving the tag (its name goes on the
    timeline, and only it may take the tag away again). Returns how many customers newly got the tag."""
    if tag.organization_id != organization.pk:
        raise ContactsError(_("标签与客户不属于同一企业"))
    if isinstance(customer_ids, QuerySet):
        # A queryset of customers, or of ids (``values("pk")`` / ``values_list("id", flat=True)``).
        ids_qs = customer_ids if customer_ids._fields else customer_ids.values("pk")  # type: ignore[attr-defined]
        sub_sql, sub_params = ids_qs.query.sql_with_params()
        target = (
            f"SELECT id FROM contacts_customer WHERE organization_id = %s AND erased_at IS NULL AND id IN ({sub_sql})"
        )
        target_params: list[Any] = [organization.pk, *sub_params]
    else:
        target = "SELECT id FROM contacts_customer WHERE organization_id = %s AND erased_at IS NULL AND id = ANY(%s)"
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
            INSERT INTO contacts_customertag
                   (organization_id, customer_id, tag_id, assigned_at, assigned_by_id, source, rule_id)
            SELECT %s, id, %s, now(), %s, %s, %s FROM target
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
        rule.pk if rule else None,
        tag.pk,
        organization.pk,
        TimelineKind.TAGGED,
        by.pk if by else None,
        (f"打标签：{tag.name}（规则：{rule.name}）" if rule else f"打标签：{tag.name}")[:200],
        json.dumps({"tag_id": tag.pk, "source": source, "bulk": True, **({"rule_id": rule.pk} if rule else {})}),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    _notify_tags([(cid, [tag.pk] if is_added else [], list(removed)) for cid, is_added, removed in rows], source)
    return sum(1 for _cid, is_added, _removed in rows if is_added)


def customers_untag_by_rule(
    *, rule: TagRule, keep_sql: str, keep_params: list[Any], customer_ids: list[int] | None = None
) -> int:
    """Take the rule's tag away from the customers the rule tagged (only ``customer_ids``, if given) who
    are not in ``keep_sql`` (a statement selecting the customer ids that still match): one statement
    deleting the assignments, updating ``tag_ids`` and writing the timeline. Tags given any other way
    stay. Returns how many."""
    only = "AND ct.customer_id = ANY(%s)" if customer_ids is not None else ""
    sql = f"""
        WITH removed AS (
            DELETE FROM contacts_customertag ct
             WHERE ct.organization_id = %s AND ct.tag_id = %s AND ct.rule_id = %s {only}
               AND NOT EXISTS (SELECT 1 FROM ({keep_sql}) keep WHERE keep.id = ct.customer_id)
         RETURNING ct.customer_id
        ),
        upd AS (
            UPDATE contacts_customer c SET tag_ids = c.tag_ids - %s::int, updated_at = now()
              FROM removed r WHERE c.id = r.customer_id
         RETURNING c.id
        ),
        tl AS (
            INSERT INTO contacts_timelineevent
                   (organization_id, customer_id, kind, occurred_at, actor_id, summary, data)
            SELECT %s, customer_id, %s, now(), NULL, %s, %s::jsonb FROM removed
        )
        SELECT customer_id FROM removed
    """
    params = [
        rule.organization_id,
        rule.tag_id,
        rule.pk,
        *([list(customer_ids)] if customer_ids is not None else []),
        *keep_params,
        rule.tag_id,
        rule.organization_id,
        TimelineKind.UNTAGGED,
        f"移除标签：{rule.tag.name}（不再满足规则：{rule.name}）"[:200],
        json.dumps({"tag_id": rule.tag_id, "source": TagSource.RULE, "rule_id": rule.pk}),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        removed = [row[0] for row in cursor.fetchall()]
    _notify_tags([(cid, [], [rule.tag_id]) for cid in removed], TagSource.RULE)
    return len(removed)


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


def _push(change: CatalogueChange, source: str) -> dict[str, str]:
    """Ask the platform first (outside our transactions): a refusal raises and nothing changes here."""
    if source == TagSource.SYNC:
        return {}
    return catalogue_push(change)


def _clean_name(name: str, empty: str) -> str:
    name = name.strip()
    if not name:
        raise ContactsError(empty)
    return name


@transaction.atomic
def tag_group_create(
    *, organization: Organization, name: str, choice: str = TagChoice.MULTI, order: int = 0, wecom_group_id: str = ""
) -> TagGroup:
    """A local group; WeCom holds no empty group, so it reaches WeCom with its first tag."""
    name = _clean_name(name, _("请填写标签组名称"))
    if TagGroup.objects.filter(organization=organization, name=name).exists():
        raise ContactsError(_("标签组“%(name)s”已存在，请换一个名称") % {"name": name})
    return TagGroup.objects.create(
        organization=organization, name=name, choice=choice, order=order, wecom_group_id=wecom_group_id
    )


def tag_group_update(
    *,
    group: TagGroup,
    name: str | None = None,
    choice: str | None = None,
    order: int | None = None,
    wecom_group_id: str | None = None,
    by: Staff | None = None,
    source: str = TagSource.STAFF,
) -> TagGroup:
    """Rename / reorder a group or change its choice; turning multi into single is refused while
    some customer holds two tags of the group. A rename or reorder reaches the platform first."""
    if name is not None:
        name = _clean_name(name, _("请填写标签组名称"))
        if TagGroup.objects.filter(organization_id=group.organization_id, name=name).exclude(pk=group.pk).exists():
            raise ContactsError(_("标签组“%(name)s”已存在，请换一个名称") % {"name": name})
    if choice is not None and choice != group.choice and choice == TagChoice.SINGLE:
        clash = (
            CustomerTag.objects.filter(tag__group=group)
            .values("customer_id")
            .annotate(n=models.Count("id"))
            .filter(n__gt=1)
            .count()
        )
        if clash:
            raise ContactsError(_("有 %(n)s 位客户在该组有多个标签，请先处理后再改为单选") % {"n": clash})
    new_name = name if name is not None and name != group.name else None
    new_order = order if order is not None and order != group.order else None
    if new_name is not None or new_order is not None:
        _push(
            CatalogueChange(
                op="group_update",
                organization_id=group.organization_id,
                group_id=group.pk,
                name=new_name,
                order=new_order,
                by_id=by.pk if by else None,
            ),
            source,
        )
    with transaction.atomic():
        if name is not None:
            group.name = name
        if choice is not None:
            group.choice = choice
        if order is not None:
            group.order = order
        if wecom_group_id is not None:
            group.wecom_group_id = wecom_group_id
        group.save()
    return group


def tag_group_delete(*, group: TagGroup, by: Staff | None = None, source: str = TagSource.STAFF) -> None:
    """Delete a group and its tags (removing them from every customer's ``tag_ids``); the platform
    deletes it first."""
    _push(
        CatalogueChange(
            op="group_delete", organization_id=group.organization_id, group_id=group.pk, by_id=by.pk if by else None
        ),
        source,
    )
    with transaction.atomic():
        for tag in list(group.tags.all()):
            tag_delete(tag=tag, source=TagSource.SYNC)  # already gone on the platform
        group.delete()


def tag_create(
    *,
    group: TagGroup,
    name: str,
    order: int = 0,
    wecom_tag_id: str = "",
    by: Staff | None = None,
    source: str = TagSource.STAFF,
) -> Tag:
    """A new tag; unless it comes from the platform (``wecom_tag_id`` given or ``source=sync``), the
    platform creates it first (with its group, when the group is not there yet) and its ids are kept."""
    name = _clean_name(name, _("请填写标签名称"))
    if Tag.objects.filter(group=group, name=name).exists():
        raise ContactsError(_("标签组“%(group)s”里已有标签“%(name)s”") % {"group": group.name, "name": name})
    ids: dict[str, str] = {}
    if not wecom_tag_id:
        ids = _push(
            CatalogueChange(
                op="tag_create",
                organization_id=group.organization_id,
                group_id=group.pk,
                name=name,
                order=order,
                by_id=by.pk if by else None,
            ),
            source,
        )
    with transaction.atomic():
        if ids.get("group_id") and ids["group_id"] != group.wecom_group_id:
            TagGroup.objects.filter(pk=group.pk).update(wecom_group_id=ids["group_id"])
            group.wecom_group_id = ids["group_id"]
        return Tag.objects.create(
            organization_id=group.organization_id,
            group=group,
            name=name,
            order=order,
            wecom_tag_id=ids.get("tag_id") or wecom_tag_id,
        )


def tag_update(
    *,
    tag: Tag,
    name: str | None = None,
    order: int | None = None,
    wecom_tag_id: str | None = None,
    by: Staff | None = None,
    source: str = TagSource.STAFF,
) -> Tag:
    """Rename / reorder a tag (the platform first), or link it to the platform's tag of that name."""
    if name is not None:
        name = _clean_name(name, _("请填写标签名称"))
        if Tag.objects.filter(group_id=tag.group_id, name=name).exclude(pk=tag.pk).exists():
            raise ContactsError(_("该标签组里已有标签“%(name)s”") % {"name": name})
    new_name = name if name is not None and name != tag.name else None
    new_order = order if order is not None and order != tag.order else None
    if new_name is not None or new_order is not None:
        _push(
            CatalogueChange(
                op="tag_update",
                organization_id=tag.organization_id,
                group_id=tag.group_id,
                tag_id=tag.pk,
                name=new_name,
                order=new_order,
                by_id=by.pk if by else None,
            ),
            source,
        )
    with transaction.atomic():
        if name is not None:
            tag.name = name
        if order is not None:
            tag.order = order
        if wecom_tag_id is not None:
            tag.wecom_tag_id = wecom_tag_id
        tag.save()
    return tag


def tag_delete(*, tag: Tag, by: Staff | None = None, source: str = TagSource.STAFF) -> None:
    """Delete a tag: the platform first (unless the deletion comes from it, ``source=sync``), then its
    assignments go by cascade and ``tag_ids`` loses it in one indexed UPDATE.

    After commit the tag-deleted listeners hear of it, with ``source=sync`` when the platform already
    deleted it.
    """
    pushed = _push(
        CatalogueChange(
            op="tag_delete",
            organization_id=tag.organization_id,
            group_id=tag.group_id,
            tag_id=tag.pk,
            by_id=by.pk if by else None,
        ),
        source,
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE contacts_customer SET tag_ids = tag_ids - %s::int, updated_at = now()
                 WHERE organization_id = %s AND tag_ids @> ARRAY[%s]::int[]
                """,
                [tag.pk, tag.organization_id, tag.pk],
            )
        organization_id, wecom_tag_id = tag.organization_id, tag.wecom_tag_id
        tag.delete()
        _notify_tag_deleted(organization_id, wecom_tag_id, TagSource.SYNC if pushed else source)


def tag_move(*, tag: Tag, step: int, by: Staff | None = None) -> None:
    """Move a tag one place up (``step=-1``) or down (``+1``) in its group: the group's tags are
    numbered 0, 1, 2 … in their new order, each changed order through :func:`tag_update` (so WeCom
    hears of it first; a refusal stops the move where it is, both sides still equal)."""
    tags = list(Tag.objects.filter(group_id=tag.group_id).order_by("order", "id"))
    _move(tags, tag.pk, step)
    for position, item in enumerate(tags):
        if item.order != position:
            tag_update(tag=item, order=position, by=by)


def tag_group_move(*, group: TagGroup, step: int, by: Staff | None = None) -> None:
    """Move a tag group one place up or down among the organization's groups (as :func:`tag_move`)."""
    groups = list(TagGroup.objects.filter(organization_id=group.organization_id).order_by("order", "id"))
    _move(groups, group.pk, step)
    for position, item in enumerate(groups):
        if item.order != position:
            tag_group_update(group=item, order=position, by=by)


def _move(rows: list[Any], pk: int, step: int) -> None:
    if step not in (-1, 1):
        raise ContactsError(_("只能上移或下移一位"))
    index = next(i for i, row in enumerate(rows) if row.pk == pk)
    other = index + step
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
