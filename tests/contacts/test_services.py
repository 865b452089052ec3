"""contacts.services: OneID resolution and merge, tags (single-choice, bulk, listeners), notes, consent,
follows, groups, tag catalogue."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from contacts import crypto, services
from contacts.models import (
    ChurnedBy,
    Customer,
    CustomerGroupMember,
    CustomerMerge,
    CustomerTag,
    Follow,
    Identity,
    Note,
    Platform,
    TagChoice,
    TimelineEvent,
    TimelineKind,
)
from contacts.services import registry
from tests.contacts.factories import GroupMemberFactory, SingleTagGroupFactory
from tests.factories import (
    CustomerFactory,
    FollowFactory,
    OrganizationFactory,
    StaffFactory,
    StoreFactory,
    TagFactory,
    TagGroupFactory,
)

pytestmark = pytest.mark.django_db


def rows_pointing_at(customer_id: int) -> dict[str, int]:
    """Every row in every app whose FK to Customer still holds ``customer_id``."""
    left = {}
    tables = set(connection.introspection.table_names())
    for model, field in services._customer_foreign_keys():
        if model._meta.db_table not in tables:
            continue
        n = model._base_manager.filter(**{field.attname: customer_id}).count()
        if n:
            left[f"{model._meta.label}.{field.name}"] = n
    return left


def assignment_ids(customer: Customer) -> list[int]:
    return sorted(CustomerTag.objects.filter(customer=customer).values_list("tag_id", flat=True))


# --- resolve ---------------------------------------------------------------------------------------


def test_resolve_creates_once_then_finds_by_any_key() -> None:
    org = OrganizationFactory()
    store = StoreFactory(organization=org)
    customer, created = services.customer_resolve(
        organization=org,
        platform=Platform.WECOM,
        account="corp1",
        external_id="wmAAA",
        phone="138 0013 8000",
        defaults={"name": "王芳", "home_store": store, "source_channel": "wecom", "marketing_consent": True},
        source="test",
    )
    assert created
    customer.refresh_from_db()
    assert customer.name == "王芳" and customer.home_store_id == store.pk and customer.marketing_consent
    assert customer.phone == "13800138000" and customer.phone_hash == crypto.phone_hash("13800138000")
    assert Identity.objects.filter(customer=customer, external_id="wmAAA").exists()
    assert TimelineEvent.objects.filter(customer=customer, kind=TimelineKind.CREATED).count() == 1

    again, created_again = services.customer_resolve(organization=org, phone="+86 13800138000")
    assert (again.pk, created_again) == (customer.pk, False)
    by_identity, _ = services.customer_resolve(
        organization=org, platform=Platform.WECOM, account="corp1", external_id="wmAAA", unionid="u-1"
    )
    assert by_identity.pk == customer.pk
    customer.refresh_from_db()
    assert customer.unionid == "u-1"  # attached
    assert Customer.objects.filter(organization=org).count() == 1


def test_resolve_is_per_organization() -> None:
    org, other = OrganizationFactory(), OrganizationFactory()
    mine, _ = services.customer_resolve(organization=org, phone="13800138000")
    theirs, created = services.customer_resolve(organization=other, phone="13800138000")
    assert created and theirs.pk != mine.pk


def test_resolve_rejects_a_malformed_phone_and_creates_nothing() -> None:
    org = OrganizationFactory()
    with pytest.raises(crypto.InvalidPhone):
        services.customer_resolve(organization=org, phone="12345")
    assert not Customer.objects.filter(organization=org).exists()


def test_resolve_fills_blanks_but_never_overwrites() -> None:
    org = OrganizationFactory()
    customer = CustomerFactory(organization=org, name="", unionid="u-9")
    services.customer_resolve(organization=org, unionid="u-9", defaults={"name": "李娜", "gender": 2})
    services.customer_resolve(organization=org, unionid="u-9", defaults={"name": "别的名字"})
    customer.refresh_from_db()
    assert (customer.name, customer.gender) == ("李娜", 2)


def test_resolve_merges_two_customers_that_turn_out_to_be_one_person() -> None:
    org = OrganizationFactory()
    store = StoreFactory(organization=org)
    early = timezone.now() - dt.timedelta(days=30)
    by_wecom = CustomerFactory(organization=org, name="微信用户", first_touch_at=timezone.now(), source_channel="wecom")
    Identity.objects.create(organization=org, customer=by_wecom, platform=Platform.WECOM, external_id="wmX")
    by_phone = CustomerFactory(
        organization=org,
        phone="13900139000",
        home_store=store,
        first_touch_at=early,
        first_touch={"state": "douyin-ad-7"},
        source_channel="douyin",
    )

    customer, created = services.customer_resolve(
        organization=org, platform=Platform.WECOM, external_id="wmX", phone="13900139000", source="wecom"
    )

    assert not created and customer.pk == by_wecom.pk  # the oldest row survives
    assert not Customer.objects.filter(pk=by_phone.pk).exists()
    customer.refresh_from_db()
    assert customer.phone == "13900139000" and customer.home_store_id == store.pk
    assert customer.first_touch_at == early and customer.first_touch == {"state": "douyin-ad-7"}
    assert customer.source_channel == "douyin"
    merge = CustomerMerge.objects.get(survivor=customer)
    assert merge.merged_customer_id == by_phone.pk and merge.snapshot["source_channel"] == "douyin"
    assert rows_pointing_at(by_phone.pk) == {}


# --- merge -----------------------------------------------------------------------------------------


def test_merge_moves_every_relation_and_dedupes_unique_pairs() -> None:
    org = OrganizationFactory()
    survivor = CustomerFactory(organization=org)
    absorbed = CustomerFactory(organization=org, opted_out_at=timezone.now(), opt_out_source="sms")
    shared_staff, other_staff = StaffFactory(organization=org), StaffFactory(organization=org)
    FollowFactory(customer=survivor, staff=shared_staff, remark="老客")
    FollowFactory(customer=absorbed, staff=shared_staff, remark="重复")
    FollowFactory(customer=absorbed, staff=other_staff)
    common, only_absorbed = TagFactory(group__organization=org), TagFactory(group__organization=org)
    level = SingleTagGroupFactory(organization=org)
    gold, silver = TagFactory(group=level), TagFactory(group=level)
    for tag in (common, gold):
        services.customer_tag_add(customer=survivor, tag=tag)
    for tag in (common, only_absorbed, silver):
        services.customer_tag_add(customer=absorbed, tag=tag)
    Identity.objects.create(organization=org, customer=absorbed, platform=Platform.DOUYIN, external_id="dy1")
    services.note_add(customer=absorbed, author=None, body="想要试用装")
    GroupMemberFactory(group__organization=org, customer=absorbed)

    result = services.customer_merge(survivor=survivor, absorbed=absorbed, reason="manual")

    assert result.pk == survivor.pk
    assert rows_pointing_at(absorbed.pk) == {}
    assert not Customer.objects.filter(pk=absorbed.pk).exists()
    assert set(Follow.objects.filter(customer=survivor).values_list("staff_id", "remark")) == {
        (shared_staff.pk, "老客"),
        (other_staff.pk, ""),
    }
    survivor.refresh_from_db()
    expected = sorted([common.pk, only_absorbed.pk, gold.pk])  # single-choice: the survivor's choice wins
    assert assignment_ids(survivor) == expected and survivor.tag_ids == expected
    assert Identity.objects.filter(customer=survivor, external_id="dy1").exists()
    assert Note.objects.filter(customer=survivor, body="想要试用装").exists()
    assert CustomerGroupMember.objects.filter(customer=survivor).count() == 1
    assert survivor.opted_out_at is not None  # an opt-out is never lost in a merge
    assert TimelineEvent.objects.filter(customer=survivor, kind=TimelineKind.MERGED).count() == 1


def test_merge_calls_registered_handlers_instead_of_the_generic_move(monkeypatch: pytest.MonkeyPatch) -> None:
    org = OrganizationFactory()
    survivor, absorbed = CustomerFactory(organization=org), CustomerFactory(organization=org)
    services.note_add(customer=absorbed, author=None, body="x")
    calls: list[tuple[int, int]] = []

    def handler(survivor_id: int, absorbed_id: int) -> None:
        calls.append((survivor_id, absorbed_id))
        Note.objects.filter(customer_id=absorbed_id).update(customer_id=survivor_id, body="moved by handler")

    monkeypatch.setattr(registry, "_merge_handlers", {Note: handler})
    services.customer_merge(survivor=survivor, absorbed=absorbed, reason="t")
    assert calls == [(survivor.pk, absorbed.pk)]
    assert list(Note.objects.filter(customer=survivor).values_list("body", flat=True)) == ["moved by handler"]


def test_merge_refuses_customers_of_two_organizations() -> None:
    a, b = CustomerFactory(), CustomerFactory()
    with pytest.raises(services.ContactsError):
        services.customer_merge(survivor=a, absorbed=b, reason="x")
    assert Customer.objects.filter(pk__in=[a.pk, b.pk]).count() == 2


# --- tags ------------------------------------------------------------------------------------------


def test_single_choice_group_swaps_and_tag_ids_follow() -> None:
    org = OrganizationFactory()
    customer = CustomerFactory(organization=org)
    level = SingleTagGroupFactory(organization=org)
    silver, gold = TagFactory(group=level), TagFactory(group=level)
    hobby = TagFactory(group__organization=org)

    assert services.customer_tag_add(customer=customer, tag=silver)
    assert services.customer_tag_add(customer=customer, tag=hobby)
    assert services.customer_tag_add(customer=customer, tag=gold)
    assert not services.customer_tag_add(customer=customer, tag=gold)  # already there

    customer.refresh_from_db()
    assert assignment_ids(customer) == sorted([gold.pk, hobby.pk]) == customer.tag_ids
    kinds = list(TimelineEvent.objects.filter(customer=customer).order_by("id").values_list("kind", flat=True))
    assert kinds == ["tagged", "tagged", "untagged", "tagged"]

    assert services.customer_tag_remove(customer=customer, tag=gold)
    assert not services.customer_tag_remove(customer=customer, tag=gold)
    customer.refresh_from_db()
    assert customer.tag_ids == [hobby.pk] == assignment_ids(customer)


def test_tag_of_another_organization_is_refused() -> None:
    customer = CustomerFactory()
    foreign = TagFactory()
    with pytest.raises(services.ContactsError):
        services.customer_tag_add(customer=customer, tag=foreign)
    assert not CustomerTag.objects.exists()


def test_tag_listeners_run_on_commit_only(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[tuple[int, list[int], list[int], str]] = []
    monkeypatch.setattr(registry, "_tag_listeners", [])
    services.register_tag_listener(lambda *args: seen.append(args))
    org = OrganizationFactory()
    customer = CustomerFactory(organization=org)
    level = SingleTagGroupFactory(organization=org)
    a, b = TagFactory(group=level), TagFactory(group=level)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.customer_tag_add(customer=customer, tag=a, source="sync")
        services.customer_tag_add(customer=customer, tag=b)
    assert seen == []
    for callback in callbacks:
        callback()
    assert seen == [(customer.pk, [a.pk], [], "sync"), (customer.pk, [b.pk], [a.pk], "staff")]


def test_bulk_tag_is_set_based_swaps_and_ignores_other_organizations(django_assert_max_num_queries: Any) -> None:
    org = OrganizationFactory()
    level = SingleTagGroupFactory(organization=org)
    silver, gold = TagFactory(group=level), TagFactory(group=level)
    customers = [CustomerFactory(organization=org) for _ in range(5)]
    services.customer_tag_add(customer=customers[0], tag=silver)
    services.customer_tag_add(customer=customers[1], tag=gold)
    stranger = CustomerFactory()

    with django_assert_max_num_queries(4):
        n = services.customers_tag_bulk(
            organization=org, tag=gold, customer_ids=[c.pk for c in customers] + [stranger.pk]
        )

    assert n == 4  # customers[1] had it already; the stranger is ignored
    for customer in customers:
        customer.refresh_from_db()
        assert customer.tag_ids == [gold.pk] == assignment_ids(customer)
    assert not CustomerTag.objects.filter(customer=stranger).exists()
    assert TimelineEvent.objects.filter(customer__in=customers, kind=TimelineKind.TAGGED, data__bulk=True).count() == 4


def test_bulk_tag_accepts_a_queryset() -> None:
    org = OrganizationFactory()
    tag = TagFactory(group__organization=org)
    store = StoreFactory(organization=org)
    inside = [CustomerFactory(organization=org, home_store=store) for _ in range(3)]
    outside = CustomerFactory(organization=org)
    n = services.customers_tag_bulk(organization=org, tag=tag, customer_ids=Customer.objects.filter(home_store=store))
    assert n == 3
    assert all(c.pk in CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True) for c in inside)
    outside.refresh_from_db()
    assert outside.tag_ids == []


def test_deleting_a_tag_removes_it_from_tag_ids() -> None:
    org = OrganizationFactory()
    keep, drop = TagFactory(group__organization=org), TagFactory(group__organization=org)
    customer = CustomerFactory(organization=org)
    services.customer_tag_add(customer=customer, tag=keep)
    services.customer_tag_add(customer=customer, tag=drop)
    services.tag_delete(tag=drop)
    customer.refresh_from_db()
    assert customer.tag_ids == [keep.pk] == assignment_ids(customer)


def test_group_cannot_become_single_choice_while_customers_hold_two_of_its_tags() -> None:
    org = OrganizationFactory()
    group = TagGroupFactory(organization=org, choice=TagChoice.MULTI)
    customer = CustomerFactory(organization=org)
    for tag in (TagFactory(group=group), TagFactory(group=group)):
        services.customer_tag_add(customer=customer, tag=tag)
    with pytest.raises(services.ContactsError, match="1 位客户"):
        services.tag_group_update(group=group, choice=TagChoice.SINGLE)
    group.refresh_from_db()
    assert group.choice == TagChoice.MULTI


def test_tag_catalogue_refuses_duplicate_names() -> None:
    org = OrganizationFactory()
    group = services.tag_group_create(organization=org, name="兴趣")
    services.tag_create(group=group, name="护肤")
    with pytest.raises(services.ContactsError):
        services.tag_create(group=group, name="护肤")
    with pytest.raises(services.ContactsError):
        services.tag_group_create(organization=org, name="兴趣")
    assert group.tags.count() == 1


def test_tag_ids_match_assignments_after_a_mixed_sequence() -> None:
    org = OrganizationFactory()
    tags = [TagFactory(group__organization=org) for _ in range(4)]
    customers = [CustomerFactory(organization=org) for _ in range(3)]
    services.customers_tag_bulk(organization=org, tag=tags[0], customer_ids=[c.pk for c in customers])
    services.customer_tag_add(customer=customers[0], tag=tags[3])
    services.customer_tag_remove(customer=customers[1], tag=tags[0])
    services.customer_merge(survivor=customers[2], absorbed=customers[0], reason="t")
    assert services.customer_tag_ids_rebuild(organization_id=org.pk) == 0  # nothing was out of step


# --- notes, consent, follows, groups ---------------------------------------------------------------


def test_note_add_writes_note_and_timeline_and_refuses_blank() -> None:
    customer = CustomerFactory()
    note = services.note_add(customer=customer, author=None, body=" 下周到店 ")
    assert Note.objects.get(pk=note.pk).body == "下周到店"
    assert TimelineEvent.objects.filter(customer=customer, kind=TimelineKind.NOTE).count() == 1
    with pytest.raises(services.ContactsError):
        services.note_add(customer=customer, author=None, body="  ")
    assert Note.objects.filter(customer=customer).count() == 1


def test_opt_out_is_idempotent_and_opt_in_restores_consent() -> None:
    customer = CustomerFactory(marketing_consent=True)
    services.customer_opt_out(customer=customer, source="reply_TD")
    first = Customer.objects.get(pk=customer.pk).opted_out_at
    services.customer_opt_out(customer=customer, source="again")
    customer.refresh_from_db()
    assert customer.opted_out_at == first and customer.opt_out_source == "reply_TD"
    assert not customer.can_receive_marketing()
    services.customer_opt_in(customer=customer, source="form")
    customer.refresh_from_db()
    assert customer.can_receive_marketing() and customer.consent_source == "form"
    kinds = list(TimelineEvent.objects.filter(customer=customer).values_list("kind", flat=True))
    assert sorted(kinds) == ["opted_in", "opted_out"]


def test_follow_upsert_and_end_and_revive() -> None:
    customer = CustomerFactory()
    staff = StaffFactory(organization=customer.organization)
    follow = services.follow_upsert(customer=customer, staff=staff, state="store-A", remark="王姐")
    services.follow_upsert(customer=customer, staff=staff, remark="")
    follow.refresh_from_db()
    assert (follow.state, follow.remark, follow.deleted_at) == ("store-A", "王姐", None)
    services.follow_end(customer=customer, staff=staff, by=ChurnedBy.CUSTOMER)
    follow.refresh_from_db()
    assert follow.deleted_at is not None and follow.deleted_by == "customer"
    services.follow_upsert(customer=customer, staff=staff)
    follow.refresh_from_db()
    assert follow.deleted_at is None and Follow.objects.filter(customer=customer).count() == 1
    kinds = list(TimelineEvent.objects.filter(customer=customer).order_by("id").values_list("kind", flat=True))
    assert kinds == ["added", "removed", "added"]


def test_group_upsert_marks_members_that_left() -> None:
    org = OrganizationFactory()
    owner = StaffFactory(organization=org)
    customer = CustomerFactory(organization=org)
    members = [
        {"member_id": "wmA", "member_type": "external", "name": "A", "customer": customer},
        {"member_id": "wmB", "member_type": "external", "name": "B", "customer": None},
    ]
    group = services.group_upsert(
        organization=org, wecom_chat_id="wr1", name="VIP 群", owner=owner, store=None, notice="", members=members
    )
    assert group.member_count == 2
    group = services.group_upsert(
        organization=org,
        wecom_chat_id="wr1",
        name="VIP 群",
        owner=owner,
        store=None,
        notice="新公告",
        members=members[1:],
    )
    group.refresh_from_db()
    assert group.member_count == 1 and group.notice == "新公告"
    left = CustomerGroupMember.objects.get(group=group, member_id="wmA")
    assert left.left_at is not None
    assert TimelineEvent.objects.filter(customer=customer, kind=TimelineKind.LEFT_GROUP).count() == 1


def test_group_dismiss_marks_the_group_and_everyone_left_and_a_recreated_chat_is_live_again() -> None:
    org = OrganizationFactory()
    owner = StaffFactory(organization=org)
    customer = CustomerFactory(organization=org)
    members = [{"member_id": "wmA", "member_type": "external", "name": "A", "customer": customer}]
    group = services.group_upsert(
        organization=org, wecom_chat_id="wr2", name="老客群", owner=owner, store=None, notice="", members=members
    )
    services.group_dismiss(group=group)
    services.group_dismiss(group=group)  # a replayed event changes nothing more
    group.refresh_from_db()
    assert group.dismissed_at is not None and group.member_count == 0
    assert not group.members.filter(left_at__isnull=True).exists()
    assert TimelineEvent.objects.filter(customer=customer, kind=TimelineKind.LEFT_GROUP).count() == 1
    group = services.group_upsert(
        organization=org, wecom_chat_id="wr2", name="老客群", owner=owner, store=None, notice="", members=members
    )
    assert group.dismissed_at is None and group.member_count == 1


def test_tag_ids_update_uses_sorted_unique_arrays() -> None:
    org = OrganizationFactory()
    customer = CustomerFactory(organization=org)
    tags = sorted([TagFactory(group__organization=org) for _ in range(3)], key=lambda t: -t.pk)
    for tag in tags:  # added in descending id order
        services.customer_tag_add(customer=customer, tag=tag)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tag_ids FROM contacts_customer WHERE id = %s", [customer.pk])
        assert cursor.fetchone()[0] == sorted(t.pk for t in tags)


def test_bulk_tag_by_segment_queryset_and_by_id_values(world: Any) -> None:
    from contacts.access import actor_for_user
    from contacts.segments import segment_queryset

    skin, gift = TagFactory(group__organization=world.org), TagFactory(group__organization=world.org)
    a = CustomerFactory(organization=world.org, home_store=world.store_a)
    b = CustomerFactory(organization=world.org, home_store=world.store_b)
    for c in (a, b):
        services.customer_tag_add(customer=c, tag=skin)
    clerk = actor_for_user(world.store_staff.user)
    targets = segment_queryset(actor=clerk, expression={"tags": {"all": [skin.pk]}})
    assert services.customers_tag_bulk(organization=world.org, tag=gift, customer_ids=targets) == 1
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.tag_ids == sorted([skin.pk, gift.pk]) and b.tag_ids == [skin.pk]  # the other store is untouched
    ids_only = Customer.objects.filter(pk=b.pk).values_list("id", flat=True)
    assert services.customers_tag_bulk(organization=world.org, tag=gift, customer_ids=ids_only) == 1
    b.refresh_from_db()
    assert b.tag_ids == sorted([skin.pk, gift.pk]) == assignment_ids(b)


def test_merge_moves_higher_layer_rows_and_refreshes_rollups() -> None:
    from decimal import Decimal

    analytics_services = pytest.importorskip("analytics.services")
    org = OrganizationFactory()
    store = StoreFactory(organization=org)
    survivor, absorbed = CustomerFactory(organization=org), CustomerFactory(organization=org)
    paid = timezone.now() - dt.timedelta(days=3)
    for customer, ref, amount in ((survivor, "o-1", "100.00"), (absorbed, "o-2", "250.00")):
        analytics_services.order_record(
            organization=org,
            customer=customer,
            store=store,
            amount=Decimal(amount),
            paid_at=paid,
            source="pos",
            external_ref=ref,
        )

    services.customer_merge(survivor=survivor, absorbed=absorbed, reason="t")

    assert rows_pointing_at(absorbed.pk) == {}
    survivor.refresh_from_db()
    assert survivor.order_count == 2 and survivor.ltv == Decimal("350.00")
