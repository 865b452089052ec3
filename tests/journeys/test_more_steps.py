"""The triggers, wait, condition and actions added for issue 17, each through the engine with an
injected clock: tag removed, joined a group, N days since added, birthday (29 Feb, N days before, Beijing
day), lifecycle stage entered; wait until a weekday; in a segment; coupon, Moments and lifecycle steps."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.models import Campaign, CampaignKind, Delivery
from contacts import services as contacts
from contacts.access import actor_for_user
from contacts.models import Customer, CustomField, CustomFieldKind, Follow, Lifecycle, Segment, TimelineEvent
from journeys import services
from journeys.engine import arrival_due, journeys_tick
from journeys.models import ConditionKind, Enrollment, JourneyStep, StepKind, StepRun, TriggerKind, Weekday
from journeys.services import JourneyError, StepSpec
from journeys.triggers import anniversary_month_days, on_tags_changed
from offers.models import CouponSource, IssuedCoupon
from tests.campaigns.factories import reachable_customers
from tests.factories import StaffFactory, TagFactory
from tests.offers.helpers import template as coupon_template
from todos.models import Todo

pytestmark = pytest.mark.django_db

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=SH)  # a Monday, 08:00 Beijing


def _journey(world, trigger, steps, **settings):
    actor = actor_for_user(world.operator.user)
    journey = services.journey_create(actor=actor, name=f"旅程-{trigger}", trigger=trigger, **settings)
    for spec in steps:
        services.step_add(actor=actor, journey=journey, spec=spec)
    services.journey_set_status(actor=actor, journey=journey, status="active", now=T0)
    return journey


def _customers(world, n):
    staff = [StaffFactory(organization=world.org, store=world.store_a)]
    return reachable_customers(world.org, n, staff=staff, store=world.store_a)


def _entered(journey):
    return set(Enrollment.objects.filter(journey=journey).values_list("customer_id", flat=True))


def test_tag_removed_enrols_who_lost_the_tag_and_tag_added_does_not(world):
    vip = TagFactory(group__organization=world.org, name="VIP")
    a, b = _customers(world, 2)
    journey = _journey(world, TriggerKind.TAG_REMOVED, [StepSpec(kind=StepKind.END)], trigger_tag_id=vip.pk)
    on_tags_changed(a.pk, [vip.pk], [], "staff", now=T0)
    assert _entered(journey) == set()
    on_tags_changed(b.pk, [], [vip.pk], "staff", now=T0)
    on_tags_changed(a.pk, [], [TagFactory(group__organization=world.org).pk], "staff", now=T0)
    assert _entered(journey) == {b.pk}


def test_days_since_added_enters_friends_as_they_turn_n_days_old_after_activation(world):
    old, young, recent = _customers(world, 3)
    Follow.objects.filter(customer=old).update(added_at=T0 - dt.timedelta(days=100))
    Follow.objects.filter(customer=young).update(added_at=T0 - dt.timedelta(days=29, hours=12))
    Follow.objects.filter(customer=recent).update(added_at=T0 - dt.timedelta(days=2))
    journey = _journey(
        world, TriggerKind.DAYS_SINCE_ADDED, [StepSpec(kind=StepKind.END)], trigger_days=30, entry_rule="after_exit"
    )
    journeys_tick(now=T0)
    assert _entered(journey) == set()  # the 100-day friend is not enrolled on activation
    journeys_tick(now=T0 + dt.timedelta(days=1))
    assert _entered(journey) == {young.pk}
    journeys_tick(now=T0 + dt.timedelta(days=28, hours=1))
    journeys_tick(now=T0 + dt.timedelta(days=28, hours=2))
    assert _entered(journey) == {young.pk, recent.pk}
    # Both went through (END) and may enter again after exit, but not for the same friendship.
    journeys_tick(now=T0 + dt.timedelta(days=40))
    assert Enrollment.objects.filter(journey=journey).count() == 2


def test_joining_a_group_enrols_once_per_join(world):
    a, b, c = _customers(world, 3)
    journey = _journey(world, TriggerKind.GROUP_JOINED, [StepSpec(kind=StepKind.WAIT_DAYS, days=1)])

    def sync(members):
        contacts.group_upsert(
            organization=world.org,
            wecom_chat_id="wrchat1",
            name="门店福利群",
            owner=None,
            store=world.store_a,
            notice="",
            members=members,
        )

    sync([{"member_id": "wmA", "customer": a, "joined_at": T0 - dt.timedelta(days=3)}])  # before activation
    sync(
        [
            {"member_id": "wmA", "customer": a},
            {"member_id": "wmB", "customer": b, "joined_at": T0 + dt.timedelta(hours=1)},
            {"member_id": "wmC", "customer": None, "joined_at": T0 + dt.timedelta(hours=1)},  # not a customer
        ]
    )
    journeys_tick(now=T0 + dt.timedelta(hours=2))
    journeys_tick(now=T0 + dt.timedelta(hours=3))
    assert _entered(journey) == {b.pk}
    assert c.pk not in _entered(journey)


def test_birthday_fires_on_the_beijing_month_day_with_29_february_on_the_28th(world):
    field = CustomField.objects.create(organization=world.org, key="birthday", label="生日", kind=CustomFieldKind.DATE)
    spring, leap, other, _no_birthday = _customers(world, 4)
    for customer, value in ((spring, "1990-03-05"), (leap, "1992-02-29"), (other, "1990-07-01")):
        Customer.objects.filter(pk=customer.pk).update(attributes={"birthday": value})
    journey = _journey(
        world,
        TriggerKind.DATE_FIELD,
        [StepSpec(kind=StepKind.WAIT_UNTIL, at_time=dt.time(10)), StepSpec(kind=StepKind.TASK, text="生日快乐")],
        trigger_field_id=field.pk,
        entry_rule="once_per_days",
        entry_days=300,
    )
    # 4 March 23:30 Beijing is still the 4th; half an hour later it is the 5th (16:00 UTC).
    journeys_tick(now=dt.datetime(2026, 3, 4, 23, 30, tzinfo=SH))
    assert _entered(journey) == set()
    journeys_tick(now=dt.datetime(2026, 3, 4, 16, 5, tzinfo=dt.UTC))
    journeys_tick(now=dt.datetime(2026, 3, 5, 9, 0, tzinfo=SH))  # a later tick the same day: not again
    assert _entered(journey) == {spring.pk}
    journeys_tick(now=dt.datetime(2026, 3, 5, 10, 1, tzinfo=SH))
    assert Todo.objects.filter(customer=spring, body="生日快乐").count() == 1
    # 2027 has no 29 February: the leap-day birthday is kept on the 28th.
    journeys_tick(now=dt.datetime(2027, 2, 28, 9, 0, tzinfo=SH))
    assert _entered(journey) == {spring.pk, leap.pk}
    assert anniversary_month_days(dt.date(2028, 2, 28)) == ["02-28"]
    assert anniversary_month_days(dt.date(2028, 2, 29)) == ["02-29"]


def test_birthday_n_days_before_and_only_a_date_field(world):
    field = CustomField.objects.create(organization=world.org, key="birthday", label="生日", kind=CustomFieldKind.DATE)
    text = CustomField.objects.create(organization=world.org, key="skin", label="肤质", kind=CustomFieldKind.TEXT)
    (customer,) = _customers(world, 1)
    Customer.objects.filter(pk=customer.pk).update(attributes={"birthday": "1990-03-10"})
    actor = actor_for_user(world.operator.user)
    with pytest.raises(JourneyError) as refused:
        services.journey_create(actor=actor, name="x", trigger=TriggerKind.DATE_FIELD, trigger_field_id=text.pk)
    assert refused.value.field == "trigger_field"
    journey = _journey(
        world, TriggerKind.DATE_FIELD, [StepSpec(kind=StepKind.END)], trigger_field_id=field.pk, trigger_days=3
    )
    journeys_tick(now=dt.datetime(2026, 3, 6, 12, 0, tzinfo=SH))
    assert _entered(journey) == set()
    journeys_tick(now=dt.datetime(2026, 3, 7, 12, 0, tzinfo=SH))
    assert _entered(journey) == {customer.pk}


def test_lifecycle_stage_entered(world):
    a, b = _customers(world, 2)
    journey = _journey(
        world, TriggerKind.LIFECYCLE_ENTERED, [StepSpec(kind=StepKind.END)], trigger_lifecycle=Lifecycle.DORMANT
    )
    Customer.objects.filter(pk=a.pk).update(lifecycle=Lifecycle.DORMANT)
    journeys_tick(now=T0)
    assert _entered(journey) == {a.pk}
    assert Enrollment.objects.get(journey=journey, customer=a).state == "done"
    assert b.pk not in _entered(journey)


def test_wait_until_a_weekday_at_a_beijing_time(world):
    step = JourneyStep(kind=StepKind.WAIT_WEEKDAY, weekday=Weekday.WEDNESDAY, at_time=dt.time(9, 30))
    assert arrival_due(step, T0) == dt.datetime(2026, 3, 4, 9, 30, tzinfo=SH)  # Monday → Wednesday
    wednesday_late = dt.datetime(2026, 3, 4, 9, 30, tzinfo=SH)
    assert arrival_due(step, wednesday_late) == dt.datetime(2026, 3, 11, 9, 30, tzinfo=SH)  # next week
    # Sunday 23:00 UTC is already Monday 07:00 in Beijing: the Monday 08:00 is an hour away.
    monday = JourneyStep(kind=StepKind.WAIT_WEEKDAY, weekday=Weekday.MONDAY, at_time=dt.time(8))
    assert arrival_due(monday, dt.datetime(2026, 3, 1, 23, 0, tzinfo=dt.UTC)) == T0

    customers = _customers(world, 3)
    journey = _journey(
        world,
        TriggerKind.MANUAL,
        [
            StepSpec(kind=StepKind.WAIT_WEEKDAY, weekday=Weekday.WEDNESDAY, at_time=dt.time(9, 30)),
            StepSpec(kind=StepKind.TASK, text="周三好"),
        ],
    )
    services.journey_enrol_manual(
        actor=actor_for_user(world.operator.user), journey=journey, customer_ids=[c.pk for c in customers], now=T0
    )
    journeys_tick(now=dt.datetime(2026, 3, 4, 9, 29, tzinfo=SH))
    assert not Todo.objects.filter(body="周三好").exists()
    journeys_tick(now=dt.datetime(2026, 3, 4, 9, 31, tzinfo=SH))
    assert Todo.objects.filter(body="周三好").count() == 3


def test_in_segment_condition_branches_set_based(world):
    vip = TagFactory(group__organization=world.org, name="金卡")
    customers = _customers(world, 6)
    for c in customers[:2]:
        contacts.customer_tag_add(customer=c, tag=vip)
    segment = Segment.objects.create(organization=world.org, name="金卡会员", expression={"tags": {"all": [vip.pk]}})
    journey = _journey(
        world,
        TriggerKind.MANUAL,
        [
            StepSpec(kind=StepKind.CONDITION, condition=ConditionKind.IN_SEGMENT, segment_id=segment.pk, no_goto=3),
            StepSpec(kind=StepKind.TASK, text="金卡专享"),
            StepSpec(kind=StepKind.TASK, text="普通问候"),
        ],
    )
    services.journey_enrol_manual(
        actor=actor_for_user(world.operator.user), journey=journey, customer_ids=[c.pk for c in customers], now=T0
    )
    result = journeys_tick(now=T0)
    assert result.outcomes["yes"] == 2 and result.outcomes["no"] == 4
    gold = set(Todo.objects.filter(body="金卡专享").values_list("customer_id", flat=True))
    assert gold == {customers[0].pk, customers[1].pk}
    # Both branches continue: the yes branch goes on to step 3 too, the no branch jumps there.
    assert Todo.objects.filter(body="普通问候").count() == 6


def test_coupon_step_issues_once_per_run_and_the_next_task_carries_the_link(world):
    coupon = coupon_template(world.org, per_customer_limit=1)
    customers = _customers(world, 4)
    journey = _journey(
        world,
        TriggerKind.MANUAL,
        [
            StepSpec(kind=StepKind.COUPON, coupon_template_id=coupon.pk),
            StepSpec(kind=StepKind.TASK, text="送您新人券：{coupon_link}"),
        ],
        entry_rule="after_exit",
    )
    actor = actor_for_user(world.operator.user)
    ids = [c.pk for c in customers]
    services.journey_enrol_manual(actor=actor, journey=journey, customer_ids=ids, now=T0)
    first = journeys_tick(now=T0)
    journeys_tick(now=T0)  # a doubled tick issues nothing again
    assert first.outcomes["coupon"] == 4
    assert IssuedCoupon.objects.filter(template=coupon).count() == 4
    # The coupon names its source (客户旅程) and the journey that issued it.
    assert set(IssuedCoupon.objects.filter(template=coupon).values_list("source", "journey_id")) == {
        (CouponSource.JOURNEY, journey.pk)
    }
    refs = dict(StepRun.objects.filter(step__kind="coupon").values_list("enrollment__customer_id", "ref"))
    issued = dict(IssuedCoupon.objects.filter(template=coupon).values_list("customer_id", "pk"))
    assert {cid: int(ref) for cid, ref in refs.items()} == issued
    for todo in Todo.objects.filter(customer_id__in=ids):
        assert todo.body.startswith("送您新人券：http") and "/c/" in todo.body and "{coupon_link}" not in todo.body
    # Back in again after the journey ended: the per-customer limit is reached, recorded, not a failure.
    services.journey_enrol_manual(actor=actor, journey=journey, customer_ids=ids[:1], now=T0 + dt.timedelta(days=1))
    again = journeys_tick(now=T0 + dt.timedelta(days=1))
    assert again.outcomes["coupon_limit"] == 1 and IssuedCoupon.objects.filter(template=coupon).count() == 4


def test_moment_step_plans_a_moments_campaign_for_the_steps_customers(world):
    customers = _customers(world, 3)
    outsider = _customers(world, 1)[0]
    journey = _journey(world, TriggerKind.MANUAL, [StepSpec(kind=StepKind.MOMENT, text="新品上市")])
    services.journey_enrol_manual(
        actor=actor_for_user(world.operator.user), journey=journey, customer_ids=[c.pk for c in customers], now=T0
    )
    result = journeys_tick(now=T0)
    campaign = Campaign.objects.get(organization=world.org)
    assert campaign.kind == CampaignKind.MOMENT and campaign.text == "新品上市"
    planned = set(Delivery.objects.filter(campaign=campaign).values_list("customer_id", flat=True))
    assert planned == {c.pk for c in customers} and outsider.pk not in planned
    assert result.outcomes["moment"] == 3
    assert set(StepRun.objects.values_list("outcome", "ref")) == {("moment", str(campaign.pk))}


def test_lifecycle_step_moves_the_stage_with_a_timeline_entry(world):
    customers = _customers(world, 3)
    Customer.objects.filter(pk=customers[0].pk).update(lifecycle=Lifecycle.REPEAT)
    journey = _journey(world, TriggerKind.MANUAL, [StepSpec(kind=StepKind.LIFECYCLE, lifecycle=Lifecycle.REPEAT)])
    services.journey_enrol_manual(
        actor=actor_for_user(world.operator.user), journey=journey, customer_ids=[c.pk for c in customers], now=T0
    )
    result = journeys_tick(now=T0)
    assert result.outcomes == {"lifecycle": 2, "lifecycle_unchanged": 1}
    assert set(Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("lifecycle", flat=True)) == {
        Lifecycle.REPEAT
    }
    entries = TimelineEvent.objects.filter(summary__contains="复购客户", customer_id__in=[c.pk for c in customers])
    assert set(entries.values_list("customer_id", flat=True)) == {customers[1].pk, customers[2].pk}


def test_new_steps_refuse_what_they_need_missing(world):
    actor = actor_for_user(world.operator.user)
    journey = services.journey_create(actor=actor, name="x", trigger=TriggerKind.MANUAL)
    for spec, field in (
        (StepSpec(kind=StepKind.WAIT_WEEKDAY), "weekday"),
        (StepSpec(kind=StepKind.CONDITION, condition=ConditionKind.IN_SEGMENT), "segment"),
        (StepSpec(kind=StepKind.COUPON, coupon_template_id=999_999), "coupon_template"),
        (StepSpec(kind=StepKind.LIFECYCLE, lifecycle="vip"), "lifecycle"),
        (StepSpec(kind=StepKind.MOMENT), "text"),
    ):
        with pytest.raises(JourneyError) as refused:
            services.step_add(actor=actor, journey=journey, spec=spec)
        assert refused.value.field == field
    assert not journey.steps.exists()
