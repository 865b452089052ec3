"""The "journey step reached" segment condition on journeys the engine really walked (an injected
clock): who entered, reached a step, finished or left — the holdout never counts — and its sentence,
references and refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from contacts import segments
from contacts.access import actor_for_user
from journeys import services
from journeys.engine import journeys_tick
from journeys.models import Enrollment, StepKind, TriggerKind
from journeys.services import StepSpec
from tests.campaigns.factories import reachable_customers
from tests.factories import OrganizationFactory, StaffFactory

pytestmark = pytest.mark.django_db

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=SH)


def _ids(actor, expression, now):
    return set(segments.segment_queryset(actor=actor, expression=expression, now=now).values_list("pk", flat=True))


def test_it_finds_who_entered_reached_a_step_and_finished_never_the_holdout(world):
    org = world.org
    staff = [StaffFactory(organization=org, store=world.store_a)]
    customers = reachable_customers(org, 60, staff=staff, store=world.store_a)
    ids = [c.pk for c in customers]
    actor = actor_for_user(world.operator.user)
    journey = services.journey_create(actor=actor, name="新客关怀", trigger=TriggerKind.MANUAL, holdout_percent=30)
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.WAIT_DAYS, days=2))
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.END))
    wait, end = list(journey.steps.order_by("position"))
    services.journey_set_status(actor=actor, journey=journey, status="active", now=T0)
    assert services.journey_enrol_manual(actor=actor, journey=journey, customer_ids=ids, now=T0) == 60
    held = set(Enrollment.objects.filter(journey=journey, in_holdout=True).values_list("customer_id", flat=True))
    treated = set(ids) - held
    assert held and treated

    journeys_tick(now=T0)
    now = T0 + dt.timedelta(hours=1)
    entered = {"journey": {"journey_ids": [journey.pk], "within_days": 1}}
    assert _ids(actor, entered, now) == treated
    assert segments.segment_count(actor=actor, expression=entered, now=now) == len(treated)
    # A step counts once it ran (the funnel's "reached"): a wait step when its wait is over.
    assert _ids(actor, {"journey": {"step_ids": [wait.pk, end.pk]}}, now) == set()
    assert _ids(actor, {"journey": {"outcome": "completed"}}, now) == set()

    # Two days on the wait is over and everyone treated walks to the end.
    later = T0 + dt.timedelta(days=2, hours=1)
    journeys_tick(now=later)
    assert _ids(actor, {"journey": {"step_ids": [wait.pk]}}, later) == treated
    assert _ids(actor, {"journey": {"step_ids": [end.pk], "within_days": 1}}, later) == treated
    assert _ids(actor, {"journey": {"outcome": "completed", "journey_ids": [journey.pk]}}, later) == treated
    assert _ids(actor, {"journey": {"outcome": "exited"}}, later) == set()
    # The negation is everyone else (holdout included): "has not walked it".
    assert _ids(actor, {"not": {"journey": {"outcome": "completed"}}}, later) == held
    # The same day, three days later, no longer counts as "within 1 day".
    assert _ids(actor, entered, T0 + dt.timedelta(days=3)) == set()


def test_the_journey_condition_reads_as_a_sentence_and_checks_its_ids(world):
    actor = actor_for_user(world.operator.user)
    journey = services.journey_create(actor=actor, name="沉睡唤醒", trigger=TriggerKind.MANUAL)
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.WAIT_DAYS, days=1))
    other = services.journey_create(actor=actor, name="生日", trigger=TriggerKind.MANUAL)
    services.step_add(actor=actor, journey=other, spec=StepSpec(kind=StepKind.END))
    step = journey.steps.get()
    org = world.org.pk
    describe = segments.describe
    assert describe({"journey": {}}, organization_id=org) == "曾经进入过客户旅程。"
    assert describe({"journey": {"journey_ids": [journey.pk], "within_days": 30}}, organization_id=org) == (
        "最近 30 天进入过“沉睡唤醒”。"
    )
    assert describe({"journey": {"step_ids": [step.pk]}}, organization_id=org) == (
        "曾经到达过旅程步骤“沉睡唤醒”第 1 步（等待 N 天）。"
    )
    assert describe({"journey": {"outcome": "completed", "journey_ids": [journey.pk]}}, organization_id=org) == (
        "曾经走完过“沉睡唤醒”。"
    )
    assert describe({"journey": {"outcome": "exited", "from": "2026-03-01"}}, organization_id=org) == (
        "2026-03-01 以来中途退出过客户旅程。"
    )
    # Preview and save check the same ids: another brand's journey, a step of another journey.
    foreign = OrganizationFactory()
    with pytest.raises(segments.SegmentError, match="客户旅程"):
        segments.validate({"journey": {"journey_ids": [journey.pk]}}, organization_id=foreign.pk)
    with pytest.raises(segments.SegmentError, match="不属于所选旅程"):
        segments.validate({"journey": {"journey_ids": [other.pk], "step_ids": [step.pk]}}, organization_id=org)
    with pytest.raises(segments.SegmentError, match="旅程步骤"):
        segments.validate({"journey": {"step_ids": [999_999]}}, organization_id=org)
    with pytest.raises(segments.SegmentError, match="只能用“到达”"):
        segments.validate({"journey": {"outcome": "exited", "step_ids": [step.pk]}})
    with pytest.raises(segments.SegmentError, match="outcome"):
        segments.validate({"journey": {"outcome": "maybe"}})
    assert segments.validate({"journey": {"outcome": "reached", "journey_ids": ["3"]}}) == {
        "journey": {"journey_ids": [3]}
    }
