"""Hypothesis over random small journeys: every step runs once per visit, and every broadcast or Moments
post a journey makes goes through the campaigns planner — quota ledger, caps, quiet hours, consent and
opt-outs."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Batch, CampaignKind, CapMode, Delivery, DeliveryStatus, QuotaLedger
from campaigns.quota import _mode_window, in_quiet_hours, platform_day
from contacts.access import actor_for_user
from contacts.models import Customer, Role
from journeys import services
from journeys.engine import TASK_DUE, journeys_tick
from journeys.models import ConditionKind, Enrollment, StepKind, StepRun, TriggerKind
from journeys.services import StepSpec
from tests.campaigns.factories import policy, reachable_customers
from tests.factories import OrganizationFactory, StaffFactory, UserFactory
from todos.models import Todo

pytestmark = pytest.mark.django_db

SH = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=SH)

step_st = st.one_of(
    st.builds(lambda d: StepSpec(kind=StepKind.WAIT_DAYS, days=d), st.integers(1, 3)),
    st.builds(lambda h: StepSpec(kind=StepKind.WAIT_HOURS, hours=h), st.sampled_from([1, 5, 13])),
    st.builds(lambda h: StepSpec(kind=StepKind.WAIT_UNTIL, at_time=dt.time(h)), st.sampled_from([8, 12, 22])),
    st.builds(
        lambda d, h: StepSpec(kind=StepKind.WAIT_WEEKDAY, weekday=d, at_time=dt.time(h)),
        st.integers(0, 6),
        st.sampled_from([8, 22]),
    ),
    st.just(StepSpec(kind=StepKind.BROADCAST, text="会员日专享")),
    st.just(StepSpec(kind=StepKind.MOMENT, text="新品上市")),
    st.just(StepSpec(kind=StepKind.LIFECYCLE, lifecycle="prospect")),
    st.just(StepSpec(kind=StepKind.TASK, text="您好")),
    st.just(StepSpec(kind=StepKind.CONDITION, condition=ConditionKind.OPTED_OUT)),
)
people_st = st.lists(  # (consent, opted out at the start, opts out on day n or never)
    st.tuples(st.booleans(), st.booleans(), st.one_of(st.none(), st.integers(0, 5))), min_size=1, max_size=8
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    steps=st.lists(step_st, min_size=1, max_size=6),
    people=people_st,
    mode=st.sampled_from([CapMode.DAILY, CapMode.WEEKLY]),
    quiet=st.sampled_from([(dt.time(21), dt.time(9)), (dt.time(0), dt.time(7)), (dt.time(12), dt.time(14))]),
    require_consent=st.booleans(),
    reentry=st.booleans(),
)
def test_random_journeys_run_each_step_once_and_every_send_respects_the_ledger(
    db, steps, people, mode, quiet, require_consent, reentry
):
    org = OrganizationFactory()
    pol = policy(org, customer_mode=mode, quiet_start=quiet[0], quiet_end=quiet[1], require_consent=require_consent)
    operator = StaffFactory(organization=org, user=UserFactory(role=Role.OPERATOR))
    actor = actor_for_user(operator.user)
    staff = [StaffFactory(organization=org)]
    customers = []
    for i, (consent, _opted, _later) in enumerate(people):
        customers += reachable_customers(org, 1, staff=staff, consent=consent, prefix=f"p{i}-")
    journey = services.journey_create(
        actor=actor, name="随机旅程", trigger=TriggerKind.MANUAL, entry_rule="after_exit" if reentry else "once"
    )
    for spec in steps:
        services.step_add(actor=actor, journey=journey, spec=spec)
    services.journey_set_status(actor=actor, journey=journey, status="active", now=T0)
    ids = [c.pk for c in customers]
    opted_at_start = [c.pk for c, p in zip(customers, people, strict=True) if p[1]]
    Customer.objects.filter(pk__in=opted_at_start).update(opted_out_at=T0 - dt.timedelta(days=1))
    services.journey_enrol_manual(actor=actor, journey=journey, customer_ids=ids, now=T0)
    assert not Enrollment.objects.filter(customer_id__in=opted_at_start).exists()

    now = T0
    for tick in range(4 * 6):  # six days, every six hours, every other tick doubled
        now = T0 + dt.timedelta(hours=6 * tick)
        for c, (_consent, _opted, later) in zip(customers, people, strict=True):
            if later is not None and tick == later * 4:
                Customer.objects.filter(pk=c.pk, opted_out_at__isnull=True).update(opted_out_at=now)
        journeys_tick(now=now)
        if tick % 2:
            journeys_tick(now=now)
        if reentry and tick == 12:
            services.journey_enrol_manual(actor=actor, journey=journey, customer_ids=ids, now=now)

    # Each step ran at most once per visit of an enrollment, and only on a step the enrollment was at.
    runs = list(StepRun.objects.filter(step__journey=journey).values_list("enrollment_id", "step_id", "visit"))
    assert len(runs) == len(set(runs))
    per_enrollment = Counter(e for e, _s, _v in runs)
    assert all(n <= len(steps) for n in per_enrollment.values())
    # Every task or send is for a customer not opted out when it was made.
    opted = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "opted_out_at"))
    planned = list(
        Delivery.objects.filter(campaign__organization=org, status=DeliveryStatus.PLANNED).select_related("campaign")
    )
    for d in planned:
        assert opted[d.customer_id] is None or opted[d.customer_id] > d.campaign.planned_at
        assert d.customer.marketing_consent or not pol.require_consent
        assert d.campaign.kind in (CampaignKind.BROADCAST_SINGLE, CampaignKind.MOMENT)
    for b in Batch.objects.filter(campaign__organization=org):
        assert not in_quiet_hours(policy=pol, at=b.not_before)
    for todo in Todo.objects.filter(organization=org):
        made_at = todo.due_at - TASK_DUE  # the tick's clock when the task was made
        assert opted[todo.customer_id] is None or opted[todo.customer_id] > made_at
    # No customer exceeds the policy's cap in any window; each planned delivery holds its slot.
    # Broadcasts count against the customer cap; Moments against their own per-day cap (campaigns.quota).
    broadcasts = [d for d in planned if d.campaign.kind == CampaignKind.BROADCAST_SINGLE]
    windows = Counter(
        (d.customer_id, _mode_window(pol.customer_mode, platform_day(d.campaign.send_after))[0]) for d in broadcasts
    )
    for (_c, start), n in windows.items():
        assert n <= _mode_window(pol.customer_mode, start)[1]
    moments = Counter(
        (d.customer_id, platform_day(d.campaign.send_after)) for d in planned if d.campaign.kind == CampaignKind.MOMENT
    )
    assert all(n <= pol.moments_per_day for n in moments.values())
    held = set(QuotaLedger.objects.filter(organization=org).values_list("delivery_id", flat=True))
    assert {d.pk for d in planned} <= held
    # Nobody is still "waiting" at a step that was due long ago.
    stale = Enrollment.objects.filter(journey=journey, state="waiting", due_at__lte=now)
    assert not stale.exists()
