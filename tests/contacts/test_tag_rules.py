"""Tagging rules (自动打标签): a segment's customers get a tag set-based, lose only the rule's own tag when
they stop matching, the run follows orders as they land, and the console manages rules by role."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from contacts import services
from contacts.access import actor_for_user
from contacts.models import Customer, CustomerTag, Segment, TagRule, TagSource, TimelineEvent
from contacts.services import OrderFigures
from scrm.celery import registered_task
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db
PAID = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def setup(world):
    operator = actor_for_user(world.operator.user)
    repeat = Segment.objects.create(organization=world.org, name="复购客户", expression={"order_count": {"min": 2}})
    tag = TagFactory(group__organization=world.org, name="复购")
    buyers = [CustomerFactory(organization=world.org, order_count=n) for n in (0, 1, 2, 3)]
    return operator, repeat, tag, buyers


def _tagged(tag):
    return set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True))


def test_a_rule_tags_the_segment_and_takes_back_only_its_own_tag(setup, world, django_capture_on_commit_callbacks):
    operator, repeat, tag, (_none, _one, two, three) = setup
    hand_tagged = CustomerFactory(organization=world.org, order_count=5)
    services.customer_tag_add(customer=hand_tagged, tag=tag, by=world.operator)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rule = services.tag_rule_save(actor=operator, name="复购打标", segment_id=repeat.pk, tag_id=tag.pk)
    assert len(callbacks) == 1  # the first run is queued
    assert services.tag_rule_apply(rule=rule) == (2, 0)
    assert _tagged(tag) == {two.pk, three.pk, hand_tagged.pk}
    assert CustomerTag.objects.get(customer=two, tag=tag).rule_id == rule.pk
    assert TimelineEvent.objects.filter(customer=two, summary__contains="规则：复购打标").exists()
    assert tag.pk in Customer.objects.get(pk=two.pk).tag_ids
    # 3 and the hand-tagged customer stop matching: the rule takes back only its own tag.
    Customer.objects.filter(pk__in=[three.pk, hand_tagged.pk]).update(order_count=0)
    assert services.tag_rule_apply(rule=rule) == (0, 1)
    assert _tagged(tag) == {two.pk, hand_tagged.pk}
    assert tag.pk not in Customer.objects.get(pk=three.pk).tag_ids
    assert TimelineEvent.objects.filter(customer=three, summary__contains="不再满足规则").exists()
    rule.refresh_from_db()
    assert (rule.last_added, rule.last_removed) == (0, 1) and rule.last_run_at is not None


def test_keeping_the_tag_when_unmatched_and_a_stopped_rule_does_nothing(setup, world):
    operator, repeat, tag, (_none, _one, two, _three) = setup
    rule = services.tag_rule_save(
        actor=operator, name="只加不减", segment_id=repeat.pk, tag_id=tag.pk, remove_unmatched=False
    )
    services.tag_rule_apply(rule=rule)
    Customer.objects.filter(pk=two.pk).update(order_count=0)
    assert services.tag_rule_apply(rule=rule) == (0, 0)
    assert two.pk in _tagged(tag)
    services.tag_rule_save(
        actor=operator, rule=rule, name="只加不减", segment_id=repeat.pk, tag_id=tag.pk, is_active=False
    )
    Customer.objects.filter(pk=_one.pk).update(order_count=9)
    assert services.tag_rule_apply(rule=rule) == (0, 0)


def test_orders_landing_run_the_rules_for_those_buyers_only(setup, world, django_capture_on_commit_callbacks):
    operator, repeat, tag, (none, one, _two, _three) = setup
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.customer_order_figures_set(
            customer_ids=[none.pk], figures=[OrderFigures(none.pk, Decimal(100), 2, PAID, PAID)]
        )
    assert callbacks == []  # no rule in the brand: nothing queued
    rule = services.tag_rule_save(actor=operator, name="复购打标", segment_id=repeat.pk, tag_id=tag.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.customer_order_figures_set(
            customer_ids=[one.pk], figures=[OrderFigures(one.pk, Decimal(50), 2, PAID, PAID)]
        )
    assert len(callbacks) == 1
    # The queued run covers only that buyer: 1 (now 2 orders) and not 2 or 3, who wait for the full pass.
    assert services.tag_rules_apply(organization_id=world.org.pk, customer_ids=[one.pk]) == {rule.pk: (1, 0)}
    assert _tagged(tag) == {one.pk}
    for name in ("contacts.tag_rules.apply", "contacts.tag_rules.apply_customers", "contacts.tag_rules.apply_all"):
        assert registered_task(name) is not None


def test_references_are_checked_within_the_brand_and_a_used_segment_cannot_be_deleted(setup, world):
    operator, repeat, tag, _buyers = setup
    foreign = Segment.objects.create(organization=world.other_org, name="对手分群", expression={})
    with pytest.raises(services.ContactsError):
        services.tag_rule_save(actor=operator, name="x", segment_id=foreign.pk, tag_id=tag.pk)
    foreign_tag = TagFactory(group__organization=world.other_org)
    with pytest.raises(services.ContactsError):
        services.tag_rule_save(actor=operator, name="x", segment_id=repeat.pk, tag_id=foreign_tag.pk)
    services.tag_rule_save(actor=operator, name="复购打标", segment_id=repeat.pk, tag_id=tag.pk)
    with pytest.raises(services.ContactsError, match="已存在"):
        services.tag_rule_save(actor=operator, name="复购打标", segment_id=repeat.pk, tag_id=tag.pk)
    client = world.client_for(world.operator)
    response = client.post(f"/segments/{repeat.pk}/delete/", follow=True)
    assert "自动打标签规则正在使用这个分群" in response.content.decode()
    assert Segment.objects.filter(pk=repeat.pk).exists()


def test_the_console_page_by_role(setup, world):
    _operator, repeat, tag, (_none, _one, two, three) = setup
    manager = world.client_for(world.manager)
    assert manager.get("/tags/rules/").status_code == 200
    assert manager.post("/tags/rules/", {"name": "x", "segment": repeat.pk, "tag": tag.pk}).status_code == 403
    client = world.client_for(world.operator)
    bad = client.post("/tags/rules/", {"name": "", "segment": repeat.pk, "tag": tag.pk})
    assert bad.status_code == 200 and not TagRule.objects.exists()
    created = client.post(
        "/tags/rules/",
        {"name": "复购打标", "segment": repeat.pk, "tag": tag.pk, "remove_unmatched": "on", "is_active": "on"},
    )
    assert created.status_code == 302
    rule = TagRule.objects.get()
    page = client.get("/tags/rules/").content.decode()
    assert "复购打标" in page and "复购客户" in page
    ran = client.post(f"/tags/rules/{rule.pk}/run/", follow=True).content.decode()
    assert "新打标签 2 位" in ran
    assert client.post(f"/tags/rules/{rule.pk}/delete/").status_code == 302
    assert not TagRule.objects.exists() and _tagged(tag) == {two.pk, three.pk}  # its tags stay
    assert CustomerTag.objects.get(customer=two, tag=tag).source == TagSource.RULE
    assert world.client_for(world.outsider).get(f"/tags/rules/{rule.pk}/").status_code == 404
