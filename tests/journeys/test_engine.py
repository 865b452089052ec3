"""The journey engine through simulated days (an injected clock) for a thousand customers, set-based."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import connection

from channels.registry import ContactAdded
from contacts.access import actor_for_user
from contacts.models import Customer, TimelineEvent
from journeys import services
from journeys.engine import enrol_ids, journeys_tick
from journeys.models import ConditionKind, Enrollment, EnrollmentState, Journey, StepKind, StepRun, TriggerKind
from journeys.selectors import journey_figures, journey_step_reached_sql
from journeys.services import StepSpec
from journeys.triggers import on_contact_added
from tests.campaigns.factories import reachable_customers
from tests.factories import StaffFactory, TagFactory
from todos.models import Todo, TodoKind, TodoStatus
from todos.services import todo_complete

pytestmark = pytest.mark.django_db

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=SH)  # a Monday, 08:00 Beijing


def _days(now: dt.datetime, days: float, step_hours: int = 6) -> dt.datetime:
    """Tick every ``step_hours`` for ``days`` from ``now``; returns the clock at the end."""
    for _ in range(int(days * 24 / step_hours)):
        now += dt.timedelta(hours=step_hours)
        journeys_tick(now=now)
    return now


def _ordered(customer_ids: list[int], at: dt.datetime) -> None:
    """Set the customers' order figures as analytics would (one UPDATE)."""
    Customer.objects.filter(pk__in=customer_ids).update(last_order_at=at, first_order_at=at, order_count=1)


def test_new_friends_walk_the_template_once_each_with_exits_and_reentries(world):
    org = world.org
    staff = [StaffFactory(organization=org, store=world.store_a) for _ in range(4)]
    customers = reachable_customers(org, 1000, staff=staff, store=world.store_a)
    ids = [c.pk for c in customers]
    actor = actor_for_user(world.operator.user)
    journey = services.journey_from_template(actor=actor, key="new_friend", trigger_state="store-a")
    journey.entry_rule = "after_exit"
    journey.exit_on_order = True
    journey.save()
    services.journey_set_status(actor=actor, journey=journey, status="active", now=T0)
    steps = list(journey.steps.order_by("position"))
    assert [s.kind for s in steps] == ["task", "wait_days", "task", "wait_days", "task"]

    # WeCom adds through the 活码 with state "store-a" (20 through the listener, the rest as one
    # set-based enrolment, the same INSERT); one through another code is not enrolled.
    for cid in ids[:20]:
        on_contact_added(
            ContactAdded(organization_id=org.pk, account_id=0, customer_id=cid, staff_id=None, state="store-a"),
            now=T0,
        )
    enrol_ids(journey=journey, customer_ids=ids[20:], now=T0)
    on_contact_added(
        ContactAdded(organization_id=org.pk, account_id=0, customer_id=ids[0], staff_id=None, state="other"), now=T0
    )
    assert Enrollment.objects.filter(journey=journey).count() == 1000

    result = journeys_tick(now=T0)
    journeys_tick(now=T0)  # a doubled tick runs nothing again
    assert result.outcomes == {"task": 1000, "waited": 0} or result.outcomes.get("task") == 1000
    assert Todo.objects.filter(kind=TodoKind.JOURNEY_TASK).count() == 1000
    # Each task went to the customer's serving member.
    follows = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "follows__staff_id"))
    assert all(t.assignee_id == follows[t.customer_id] for t in Todo.objects.all())

    # 100 customers order on day 1: they leave (exit on order) and the goal counts them.
    _ordered(ids[:100], T0 + dt.timedelta(days=1))
    now = _days(T0, 3)
    states = Counter(Enrollment.objects.filter(journey=journey).values_list("exit_reason", flat=True))
    assert states["ordered"] == 100
    # The leavers' open tasks are cancelled; the others' stay open.
    cancelled = set(Todo.objects.filter(status=TodoStatus.CANCELLED).values_list("customer_id", flat=True))
    assert cancelled == set(ids[:100])
    assert Todo.objects.filter(kind=TodoKind.JOURNEY_TASK).count() == 1000 + 900  # day-3 content task
    now = _days(now, 5)
    done = Enrollment.objects.filter(journey=journey, state=EnrollmentState.DONE)
    assert done.count() == 900 and set(done.values_list("exit_reason", flat=True)) == {"completed"}
    # Every step ran once per customer that reached it: 1000 × step 1, 900 × the rest.
    runs = Counter(StepRun.objects.filter(step__journey=journey).values_list("step__position", flat=True))
    assert runs == {1: 1000, 2: 900, 3: 900, 4: 900, 5: 900}
    assert StepRun.objects.values("enrollment", "step", "visit").distinct().count() == StepRun.objects.count()
    # Per-customer path: the 900 who stayed have tasks from steps 1, 3 and 5.
    per_customer = Counter(Todo.objects.values_list("customer_id", flat=True))
    assert {per_customer[c] for c in ids[100:]} == {3} and {per_customer[c] for c in ids[:100]} == {1}
    # The customers' timelines carry the journey.
    assert TimelineEvent.objects.filter(kind="journey", customer_id=ids[500]).count() == 1 + 3

    # Re-entry after exit: the 100 who left come back through the 活码 and run step 1 again.
    for cid in ids[:100] + ids[200:210]:
        on_contact_added(
            ContactAdded(organization_id=org.pk, account_id=0, customer_id=cid, staff_id=None, state="store-a"),
            now=now,
        )
    assert Enrollment.objects.filter(journey=journey, customer_id=ids[0]).count() == 2
    assert Enrollment.objects.filter(journey=journey, customer_id=ids[200]).count() == 2
    journeys_tick(now=now)
    assert StepRun.objects.filter(step=steps[0]).count() == 1110

    figures = journey_figures(actor, journey)
    assert figures.steps[0].reached == 1110 and figures.treated_converted == 100
    assert figures.steps[1].waiting == 110
    # A member completes a task: the per-member completion counts it.
    todo = Todo.objects.filter(assignee=staff[0], status=TodoStatus.OPEN).first()
    todo_complete(actor=actor, todo_id=todo.pk)
    figures = journey_figures(actor, journey)
    row = next(m for m in figures.members if m["assignee_id"] == staff[0].pk)
    assert row["done"] == 1
    sql, params = journey_step_reached_sql(organization_id=org.pk, step_id=steps[2].pk)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(DISTINCT id) FROM ({sql}) s", params)
        assert cursor.fetchone()[0] == 900


def test_condition_branches_tags_and_holdout(world):
    org = world.org
    staff = [StaffFactory(organization=org, store=world.store_a)]
    customers = reachable_customers(org, 400, staff=staff, store=world.store_a)
    ids = [c.pk for c in customers]
    vip = TagFactory(group__organization=org)
    welcomed = TagFactory(group__organization=org)
    actor = actor_for_user(world.operator.user)
    journey = services.journey_create(actor=actor, name="条件", trigger=TriggerKind.MANUAL, holdout_percent=20)
    services.step_add(
        actor=actor,
        journey=journey,
        spec=StepSpec(kind=StepKind.CONDITION, condition=ConditionKind.HAS_TAG, tag_id=vip.pk, no_goto=4),
    )
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.TAG, tag_id=welcomed.pk))
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.END))
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.WAIT_UNTIL, at_time=dt.time(10, 0)))
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.TASK, text="你好"))
    services.journey_set_status(actor=actor, journey=journey, status="active", now=T0)
    from contacts.services import customers_tag_bulk

    customers_tag_bulk(organization=org, tag=vip, customer_ids=ids[:100])
    entered = services.journey_enrol_manual(actor=actor, journey=journey, customer_ids=ids, now=T0)
    assert entered == 400
    held = set(Enrollment.objects.filter(journey=journey, in_holdout=True).values_list("customer_id", flat=True))
    assert 40 <= len(held) <= 130  # 20 % of 400, deterministic per customer
    journeys_tick(now=T0)
    treated = [c for c in ids if c not in held]
    vips = [c for c in treated if c in ids[:100]]
    others = [c for c in treated if c not in ids[:100]]
    tagged = set(Customer.objects.filter(tag_ids__contains=[welcomed.pk]).values_list("pk", flat=True))
    assert tagged == set(vips)
    # The others wait until 10:00 Beijing, then get a task; nobody held out gets anything.
    assert not Todo.objects.exists()
    journeys_tick(now=T0.replace(hour=10, minute=1))
    assert set(Todo.objects.values_list("customer_id", flat=True)) == set(others)
    assert not (held & set(Todo.objects.values_list("customer_id", flat=True)))
    # The holdout leaves when its goal window (14 days) is over.
    journeys_tick(now=T0 + dt.timedelta(days=15))
    assert not Enrollment.objects.filter(journey=journey, state__in=["waiting", "holdout"]).exists()
    assert Journey.objects.get(pk=journey.pk).status == "active"


def test_a_broadcast_step_goes_through_the_planner_and_the_ledger(world):
    """Quiet hours push the send, opted-out and non-consenting customers are excluded, the quota cap
    holds when another campaign already used the day's slot."""
    from campaigns.models import Batch, Delivery, QuotaLedger
    from campaigns.planner import campaign_plan
    from campaigns.quota import in_quiet_hours
    from tests.campaigns.factories import campaign as make_campaign
    from tests.campaigns.factories import policy

    org = world.org
    pol = policy(org, quiet_start=dt.time(21), quiet_end=dt.time(9))
    staff = [StaffFactory(organization=org, store=world.store_a)]
    ok = reachable_customers(org, 6, staff=staff, prefix="ok")
    no_consent = reachable_customers(org, 2, staff=staff, consent=False, prefix="nc")
    actor = actor_for_user(world.operator.user)
    journey = services.journey_create(actor=actor, name="群发", trigger=TriggerKind.MANUAL)
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.BROADCAST, text="会员日"))
    services.journey_set_status(actor=actor, journey=journey, status="active", now=T0)
    late = T0.replace(hour=22)
    # Another broadcast already took today's slot of ok[0].
    other = make_campaign(org, expression={})
    campaign_plan(campaign_id=other.pk, now=late - dt.timedelta(hours=1), customer_ids=[ok[0].pk])
    ids = [c.pk for c in ok + no_consent]
    services.journey_enrol_manual(actor=actor, journey=journey, customer_ids=ids, now=late)
    Customer.objects.filter(pk=ok[1].pk).update(opted_out_at=late)  # opts out before the tick: leaves
    journeys_tick(now=late)
    run = StepRun.objects.get(enrollment__customer=ok[2])
    assert run.outcome == "broadcast"
    deliveries = {d.customer_id: d for d in Delivery.objects.filter(campaign_id=int(run.ref))}
    assert set(deliveries) == {c.pk for c in ok if c != ok[1]} | {c.pk for c in no_consent}
    assert deliveries[no_consent[0].pk].reason == "no_consent"
    planned = {c for c, d in deliveries.items() if d.status == "planned"}
    assert planned == {c.pk for c in ok[2:]}
    assert deliveries[ok[0].pk].reason == "quota"
    for batch in Batch.objects.filter(campaign_id=int(run.ref)):
        assert not in_quiet_hours(policy=pol, at=batch.not_before) and batch.not_before.astimezone(SH).hour == 9
    assert QuotaLedger.objects.filter(
        delivery_id__in=[d.pk for d in deliveries.values() if d.status == "planned"]
    ).count() == len(planned)
    # The customers it was planned for see it on their timeline; the excluded ones do not.
    assert TimelineEvent.objects.filter(kind="journey", customer_id=ok[2].pk, summary__contains="群发已排期").exists()
    assert not TimelineEvent.objects.filter(
        kind="journey", customer_id=no_consent[0].pk, summary__contains="群发已排期"
    ).exists()
