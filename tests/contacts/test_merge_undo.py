"""Manual merge and its undo: both records come back exactly (full row dumps), refusals change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from analytics import services as analytics
from contacts import services
from contacts.access import actor_for_user
from contacts.models import AuditAction, AuditEntry, Customer, CustomerMerge, Follow, Identity, Platform, TimelineEvent
from contacts.services import ContactsError, registry
from tests.contacts.factories import SingleTagGroupFactory
from tests.factories import CustomerFactory, FollowFactory, StaffFactory, TagFactory


def dump(customer_ids: list[int]) -> dict[str, list[Any]]:
    """Every row of every table that points at these customers, and the customer rows, as stored.

    Derived per-customer facts (the tables merge handlers recompute) are compared without their
    surrogate id: an undo recomputes them, equal in every column but the sequence number."""
    derived = {m._meta.db_table for m in registry._merge_handlers}
    out: dict[str, list[Any]] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(c) FROM contacts_customer c WHERE id = ANY(%s) ORDER BY id", [customer_ids])
        out["contacts_customer"] = [r[0] for r in cursor.fetchall()]
        tables = set(connection.introspection.table_names())
        for model, field in services._customer_foreign_keys():
            table = model._meta.db_table
            if table not in tables or table == "contacts_customermerge":  # the audit stays, marked undone
                continue
            cursor.execute(
                f"SELECT row_to_json(t) FROM {table} t WHERE {field.column} = ANY(%s) ORDER BY 1::text",
                [customer_ids],
            )
            rows = [r[0] for r in cursor.fetchall()]
            if table in derived:
                rows = [{k: v for k, v in r.items() if k != "id"} for r in rows]
            out[f"{table}.{field.column}"] = sorted(rows, key=str)
    return out


@pytest.fixture
def pair(world: Any) -> tuple[Customer, Customer]:
    org = world.org
    a = CustomerFactory(organization=org, name="张三", phone="13800138001", home_store=world.store_a)
    b = CustomerFactory(
        organization=org, name="", phone="", unionid="un-b", home_store=world.store_a, source_channel="douyin"
    )
    shared, other = StaffFactory(organization=org), StaffFactory(organization=org)
    FollowFactory(customer=a, staff=shared, remark="老客")
    FollowFactory(customer=b, staff=shared, remark="重复")  # dropped as a duplicate, restored by the undo
    FollowFactory(customer=b, staff=other)
    level = SingleTagGroupFactory(organization=org)
    gold, silver = TagFactory(group=level), TagFactory(group=level)
    services.customer_tag_add(customer=a, tag=gold)
    services.customer_tag_add(customer=b, tag=silver)
    services.customer_tag_add(customer=b, tag=TagFactory(group__organization=org))
    Identity.objects.create(organization=org, customer=b, platform=Platform.DOUYIN, external_id="dy-b")
    services.note_add(customer=b, author=None, body="想要试用装")
    analytics.order_record(
        organization=org, customer=b, store=world.store_a, amount=Decimal("88.00"),
        paid_at=timezone.now() - dt.timedelta(days=3), source="manual", external_ref="o-b-1",
    )  # fmt: skip
    a.refresh_from_db()
    b.refresh_from_db()
    return a, b


def test_manual_merge_then_undo_restores_both_records_exactly(world: Any, pair: tuple[Customer, Customer]) -> None:
    a, b = pair
    actor = actor_for_user(world.operator.user)
    # The stage is derived (from follows and orders) and re-derived after the undo; derive it first, as
    # the order and follow paths would have, so the fixture starts from a state the product can reach.
    services.customer_lifecycle_refresh(customer_ids=[a.pk, b.pk])
    before = dump([a.pk, b.pk])

    survivor = services.customer_merge_manual(actor=actor, survivor_id=a.pk, absorbed_id=b.pk, reason="同一人")

    assert not Customer.objects.filter(pk=b.pk).exists()
    assert survivor.unionid == "un-b" and survivor.order_count == 1
    merge = CustomerMerge.objects.get(survivor=a)
    assert merge.manual and merge.by == world.operator and merge.matched_keys == ["manual"]
    assert Follow.objects.filter(customer=a).count() == 2

    services.customer_merge_undo(actor=actor, merge_id=merge.pk)

    after = dump([a.pk, b.pk])
    for key in before:
        if key == "contacts_customer":
            for old, new in zip(before[key], after[key], strict=True):
                assert {k: v for k, v in new.items() if old.get(k) != v} == {}, old["id"]
        assert after[key] == before[key], key
    merge.refresh_from_db()
    assert merge.undone_at is not None and merge.undone_by == world.operator
    with pytest.raises(ContactsError, match="已经撤销"):
        services.customer_merge_undo(actor=actor, merge_id=merge.pk)
    audited = list(
        AuditEntry.objects.filter(target_type="customer", target_id=str(a.pk))
        .order_by("id")
        .values_list("action", "details")
    )
    assert audited == [
        (AuditAction.CUSTOMER_MERGE, {"absorbed_customer_id": b.pk, "manual": True}),
        (AuditAction.CUSTOMER_UNMERGE, {"restored_customer_id": b.pk, "merge_id": merge.pk}),
    ]


def test_undo_is_refused_after_30_days_and_changes_nothing(world: Any, pair: tuple[Customer, Customer]) -> None:
    a, b = pair
    actor = actor_for_user(world.operator.user)
    services.customer_merge_manual(actor=actor, survivor_id=a.pk, absorbed_id=b.pk, reason="同一人")
    merge = CustomerMerge.objects.get(survivor=a)
    CustomerMerge.objects.filter(pk=merge.pk).update(merged_at=timezone.now() - dt.timedelta(days=31))
    after = dump([a.pk, b.pk])

    with pytest.raises(ContactsError, match="30 天"):
        services.customer_merge_undo(actor=actor, merge_id=merge.pk)
    assert dump([a.pk, b.pk]) == after


def test_undo_is_refused_when_moved_rows_were_deleted_since(world: Any, pair: tuple[Customer, Customer]) -> None:
    a, b = pair
    actor = actor_for_user(world.operator.user)
    services.customer_merge_manual(actor=actor, survivor_id=a.pk, absorbed_id=b.pk, reason="同一人")
    merge = CustomerMerge.objects.get(survivor=a)
    Identity.objects.filter(customer=a, external_id="dy-b").delete()

    with pytest.raises(ContactsError, match="无法原样撤销"):
        services.customer_merge_undo(actor=actor, merge_id=merge.pk)
    assert not Customer.objects.filter(pk=b.pk).exists()


def test_undo_is_refused_when_the_survivor_was_edited_where_the_merge_changed_it(
    world: Any, pair: tuple[Customer, Customer]
) -> None:
    a, b = pair
    actor = actor_for_user(world.operator.user)
    services.customer_merge_manual(actor=actor, survivor_id=a.pk, absorbed_id=b.pk, reason="同一人")
    Customer.objects.filter(pk=a.pk).update(unionid="un-other")

    with pytest.raises(ContactsError, match="unionid"):
        services.customer_merge_undo(actor=actor, merge_id=CustomerMerge.objects.get(survivor=a).pk)


def test_manual_merge_respects_store_scope_and_needs_a_reason(world: Any, pair: tuple[Customer, Customer]) -> None:
    a, _b = pair
    elsewhere = CustomerFactory(organization=world.org, home_store=world.store_b)
    manager = actor_for_user(world.manager.user)  # store A only
    with pytest.raises(ContactsError, match="不在你可管理的门店"):
        services.customer_merge_manual(actor=manager, survivor_id=a.pk, absorbed_id=elsewhere.pk, reason="同一人")
    outsider = actor_for_user(world.outsider.user)
    with pytest.raises(ContactsError, match="不在你可管理的门店"):
        services.customer_merge_manual(actor=outsider, survivor_id=a.pk, absorbed_id=_b.pk, reason="同一人")
    with pytest.raises(ContactsError, match="合并原因"):
        services.customer_merge_manual(
            actor=actor_for_user(world.operator.user), survivor_id=a.pk, absorbed_id=_b.pk, reason=" "
        )
    assert Customer.objects.filter(pk__in=[a.pk, _b.pk, elsewhere.pk]).count() == 3


def test_erasure_empties_merge_records_of_the_person(world: Any, pair: tuple[Customer, Customer]) -> None:
    a, b = pair
    actor = actor_for_user(world.operator.user)
    services.customer_merge_manual(actor=actor, survivor_id=a.pk, absorbed_id=b.pk, reason="同一人")
    merge = CustomerMerge.objects.get(survivor=a)
    services.customer_erase(customer=a, reason="本人要求", by=world.operator)
    merge.refresh_from_db()
    assert merge.snapshot == {} and merge.restore == {}
    with pytest.raises(ContactsError, match="没有可恢复的数据"):
        services.customer_merge_undo(actor=actor, merge_id=merge.pk)
    assert TimelineEvent.objects.filter(customer=a).count() >= 0


def test_undo_of_a_snapshot_older_than_a_column_restores_the_column_default(
    world: Any, pair: tuple[Customer, Customer]
) -> None:
    """A migration after the merge added columns the stored rows do not have: the undo fills them with the
    model's defaults (a NOT NULL JSON or array column would otherwise refuse the restored row)."""
    a, b = pair
    actor = actor_for_user(world.operator.user)
    services.customer_merge_manual(actor=actor, survivor_id=a.pk, absorbed_id=b.pk, reason="同一人")
    merge = CustomerMerge.objects.get(survivor=a)
    restore = merge.restore
    for column in ("attributes", "first_touch", "tag_ids"):  # as if added after the merge
        restore["absorbed"].pop(column, None)
    CustomerMerge.objects.filter(pk=merge.pk).update(restore=restore)

    services.customer_merge_undo(actor=actor, merge_id=merge.pk)

    back = Customer.objects.get(pk=b.pk)
    assert back.attributes == {} and back.first_touch == {}
    assert back.unionid == "un-b"
