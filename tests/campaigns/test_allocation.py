"""Joint quota allocation (campaigns.allocation): slots by expected value against priority order."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.allocation import AllocationError, allocation_run
from campaigns.models import (
    AllocationMode,
    AllocationRun,
    Batch,
    CampaignKind,
    CampaignStatus,
    CapMode,
    CapPeriod,
    Delivery,
    DeliveryStatus,
    LedgerKind,
    QuotaLedger,
)
from campaigns.planner import campaign_plan
from campaigns.quota import in_quiet_hours, next_allowed, platform_day
from campaigns.results import PRIOR_RATE, PRIOR_WEIGHT, segment_response_rates
from campaigns.services import campaigns_due_tick
from contacts.models import AuditAction, AuditEntry, Customer, Segment
from tests.campaigns.factories import at, campaign, policy, reachable_customers
from tests.factories import OrganizationFactory, StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db

DAY = at(10).date()


def scheduled(org, **kw):
    kw.setdefault("due_at", at(10))
    return campaign(org, status=CampaignStatus.SCHEDULED, **kw)


def predict(customers, e30, e90=None):
    Customer.objects.filter(pk__in=[c.pk for c in customers]).update(
        expected_orders_30=e30, expected_orders_90=e90 if e90 is not None else e30 * 3
    )


@pytest.fixture
def brand():
    org = OrganizationFactory()
    staff = [StaffFactory(organization=org)]
    return org, staff


def test_each_contested_slot_goes_to_the_campaign_worth_most(brand):
    org, staff = brand
    policy(org, attribution_days=7)
    people = reachable_customers(org, 4, staff=staff)
    predict(people, 0.3)
    cheap = scheduled(org, name="高优先级低价值", priority=5, value_per_conversion=Decimal("10"))
    dear = scheduled(org, name="低优先级高价值", priority=0, value_per_conversion=Decimal("100"))

    preview = allocation_run(
        organization=org, day=DAY, mode=AllocationMode.EXPECTED_VALUE, by=staff[0], now=at(8), dry_run=True
    )
    assert preview.run_id is None and not QuotaLedger.objects.exists() and not AllocationRun.objects.exists()

    out = allocation_run(organization=org, day=DAY, mode=AllocationMode.EXPECTED_VALUE, by=staff[0], now=at(8))
    p = 1 - math.exp(-0.3 * 7 / 30)  # the documented formula, 7-day window from E[orders in 30 days]
    assert out.value_joint == Decimal(str(round(4 * 100 * p, 2)))
    assert out.value_priority == Decimal(str(round(4 * 10 * p, 2)))
    assert (out.value_joint, out.value_priority) == (preview.value_joint, preview.value_priority)
    assert out.contested == 4 and out.moved == 4 and out.planned == 4
    planned = Delivery.objects.filter(status=DeliveryStatus.PLANNED)
    assert set(planned.values_list("campaign_id", flat=True)) == {dear.pk}
    assert set(Delivery.objects.filter(campaign=cheap).values_list("reason", flat=True)) == {"quota"}
    assert QuotaLedger.objects.filter(kind=LedgerKind.WECOM_CUSTOMER, campaign=dear).count() == 4
    assert sum(Batch.objects.filter(campaign=dear).values_list("size", flat=True)) == 4
    run = AllocationRun.objects.get()
    assert run.pk == out.run_id and run.gain == out.gain > 0 and set(run.campaign_ids) == {cheap.pk, dear.pk}
    entry = AuditEntry.objects.get(action=AuditAction.CAMPAIGN_ALLOCATE)
    assert entry.target_id == str(run.pk) and entry.details["mode"] == "expected_value"
    dear.refresh_from_db()
    assert dear.planned_at == at(8) and dear.send_after == at(10)
    assert dear.stats["allocation"]["run"] == run.pk and dear.stats["planned"] == 4
    # Planned once: the due tick then starts both without planning them again.
    assert set(campaigns_due_tick(now=at(10, 1))) == {cheap.pk, dear.pk}
    assert Delivery.objects.filter(status=DeliveryStatus.PLANNED).count() == 4


def test_priority_mode_keeps_priority_order_and_shows_what_value_order_would_gain(brand):
    org, staff = brand
    people = reachable_customers(org, 3, staff=staff)
    predict(people, 0.5)
    cheap = scheduled(org, priority=5, value_per_conversion=Decimal("10"))
    scheduled(org, priority=0, value_per_conversion=Decimal("100"))
    out = allocation_run(organization=org, day=DAY, mode=AllocationMode.PRIORITY, by=staff[0], now=at(8))
    assert set(Delivery.objects.filter(status=DeliveryStatus.PLANNED).values_list("campaign_id", flat=True)) == {
        cheap.pk
    }
    assert out.gain > 0 and out.planned == 3


def test_without_a_prediction_the_segment_rate_learned_from_holdout_results_is_used(brand):
    org, staff = brand
    [person] = reachable_customers(org, 1, staff=staff)  # no prediction: no orders yet
    learned = Segment.objects.create(organization=org, name="老客", expression={})
    fresh = Segment.objects.create(organization=org, name="新分群", expression={})
    # A past campaign on "老客": 300 treated customers, 60 bought; a holdout was measured.
    campaign(
        org,
        segment=learned,
        status=CampaignStatus.DONE,
        results={"treated": {"customers": 300, "converted": 60}, "holdout": {"customers": 30, "converted": 3}},
    )
    rates = segment_response_rates(organization_id=org.pk, segment_ids=[learned.pk, fresh.pk])
    assert rates[learned.pk]["rate"] == pytest.approx((60 + PRIOR_RATE * PRIOR_WEIGHT) / (300 + PRIOR_WEIGHT))
    assert rates[fresh.pk] == {"rate": PRIOR_RATE, "customers": 0, "converted": 0, "source": "prior"}
    # ¥50 × 15.5% beats ¥100 × the 2% prior, whatever the priorities.
    a = scheduled(org, segment=learned, priority=0, value_per_conversion=Decimal("50"))
    scheduled(org, segment=fresh, priority=9, value_per_conversion=Decimal("100"))
    out = allocation_run(organization=org, day=DAY, mode=AllocationMode.EXPECTED_VALUE, by=None, now=at(8))
    assert Delivery.objects.get(customer=person, status=DeliveryStatus.PLANNED).campaign_id == a.pk
    assert out.value_joint == Decimal(str(round(50 * rates[learned.pk]["rate"], 2)))
    assert out.value_priority == Decimal("2.00")
    row = next(r for r in out.campaigns if r["id"] == a.pk)
    assert row["fallback"] == "segment" and row["predicted"] == 0


def test_slots_already_held_stay_held_and_opt_outs_and_quiet_hours_hold(brand):
    org, staff = brand
    policy(org, quiet_start=at(21).time(), quiet_end=at(9, 30).time())
    people = reachable_customers(org, 3, staff=staff)
    gone = reachable_customers(org, 1, staff=staff, opted_out=True, prefix="o")
    predict(people + gone, 0.4)
    earlier = campaign(org, priority=0)
    campaign_plan(campaign_id=earlier.pk, now=at(9, 40))  # holds everyone's slot of the day
    scheduled(org, due_at=at(9), value_per_conversion=Decimal("100"))  # deferred to 09:30
    out = allocation_run(organization=org, day=DAY, mode=AllocationMode.EXPECTED_VALUE, by=None, now=at(8))
    assert out.planned == 0 and out.value_joint == 0
    assert QuotaLedger.objects.filter(kind=LedgerKind.WECOM_CUSTOMER).count() == 3
    later = Delivery.objects.exclude(campaign=earlier)
    assert dict(later.values_list("customer_id", "reason")) == {
        **{c.pk: "quota" for c in people},
        gone[0].pk: "opted_out",
    }


def test_a_day_without_campaigns_and_a_bad_mode_are_refused(brand):
    org, _ = brand
    with pytest.raises(AllocationError, match="没有待排期"):
        allocation_run(organization=org, day=DAY, mode=AllocationMode.PRIORITY, by=None, now=at(8))
    with pytest.raises(AllocationError, match="分配方式"):
        allocation_run(organization=org, day=DAY, mode="first_come", by=None, now=at(8))
    scheduled(org, due_at=at(10) + timedelta(days=1))
    with pytest.raises(AllocationError):
        allocation_run(organization=org, day=DAY, mode=AllocationMode.PRIORITY, by=None, now=at(8))


def test_moments_and_broadcasts_compete_for_the_brand_cap(brand):
    org, staff = brand
    policy(org, brand_cap=1, brand_cap_period="day", moments_per_day=3)
    people = reachable_customers(org, 2, staff=staff)
    predict(people, 0.2)
    scheduled(org, kind=CampaignKind.BROADCAST_SINGLE, priority=3, value_per_conversion=Decimal("20"))
    moment = scheduled(org, kind=CampaignKind.MOMENT, priority=0, value_per_conversion=Decimal("90"))
    out = allocation_run(organization=org, day=DAY, mode=AllocationMode.EXPECTED_VALUE, by=None, now=at(8))
    assert set(Delivery.objects.filter(status=DeliveryStatus.PLANNED).values_list("campaign_id", flat=True)) == {
        moment.pk
    }
    assert QuotaLedger.objects.filter(kind=LedgerKind.BRAND).count() == 2
    assert not QuotaLedger.objects.filter(kind=LedgerKind.WECOM_CUSTOMER).exists()
    assert out.gain > 0
    for b in Batch.objects.all():
        assert not in_quiet_hours(policy=policy_obj(org), at=b.not_before)


def policy_obj(org):
    from campaigns.quota import policy_for

    return policy_for(organization_id=org.pk)


# -- property: caps, quiet hours, opt-outs hold; value order is never below priority order -------------

WORLD = st.fixed_dictionaries(
    {
        "customer_mode": st.sampled_from([CapMode.DAILY, CapMode.WEEKLY]),
        "moments_per_day": st.integers(0, 2),
        "brand_cap": st.integers(0, 2),
        "brand_cap_period": st.sampled_from([CapPeriod.DAY, CapPeriod.WEEK]),
        "quiet": st.sampled_from([(time(21), time(9)), (time(0), time(13)), (time(12), time(20)), (time(0), time(0))]),
        "require_consent": st.booleans(),
        "attribution_days": st.sampled_from([3, 7, 30, 45, 90]),
        # (consent, opted out, E[orders in 30 days] or no prediction, E90 / E30)
        "people": st.lists(
            st.tuples(st.booleans(), st.booleans(), st.none() | st.floats(0, 2), st.floats(1, 3)),
            min_size=1,
            max_size=5,
        ),
        # (kind, priority, value per conversion ¥, holdout %)
        "campaigns": st.lists(
            st.tuples(
                st.sampled_from([CampaignKind.BROADCAST_SINGLE, CampaignKind.MOMENT]),
                st.integers(0, 3),
                st.integers(0, 200),
                st.sampled_from([0, 0, 50]),
            ),
            min_size=1,
            max_size=4,
        ),
        "earlier": st.none() | st.sampled_from([CampaignKind.BROADCAST_SINGLE, CampaignKind.MOMENT]),
        "mode": st.sampled_from(list(AllocationMode.values)),
    }
)


def _probability(e30, ratio, days):
    """Independent of the SQL: P(≥1 order in ``days``) from the predicted curve, else the 2% prior."""
    if e30 is None:
        return PRIOR_RATE
    e90 = e30 * ratio
    e = e30 * days / 30 if days <= 30 else e30 + (e90 - e30) * (min(days, 90) - 30) / 60
    return 1 - math.exp(-max(e, 0))


def _best_and_priority(cands, free):
    """Brute force: the best feasible set of one customer's candidates, and priority order's greedy set."""

    def feasible(chosen):
        for kind in (CampaignKind.BROADCAST_SINGLE, CampaignKind.MOMENT):
            if sum(1 for c in chosen if c["kind"] == kind) > free[kind]:
                return False
        return free["brand"] is None or len(chosen) <= free["brand"]

    best = 0.0
    for mask in range(1 << len(cands)):
        chosen = [c for i, c in enumerate(cands) if mask >> i & 1]
        if feasible(chosen):
            best = max(best, sum(c["ev"] for c in chosen))
    greedy: list[dict] = []
    for c in sorted(cands, key=lambda c: (-c["priority"], c["id"])):
        if feasible([*greedy, c]):
            greedy.append(c)
    return best, sum(c["ev"] for c in greedy)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(w=WORLD)
def test_joint_allocation_never_breaks_a_cap_and_never_loses_to_priority_order(db, w):
    org = OrganizationFactory()
    quiet_start, quiet_end = w["quiet"]
    pol = policy(
        org,
        customer_mode=w["customer_mode"],
        moments_per_day=w["moments_per_day"],
        brand_cap=w["brand_cap"],
        brand_cap_period=w["brand_cap_period"],
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        require_consent=w["require_consent"],
        attribution_days=w["attribution_days"],
    )
    staff = [StaffFactory(organization=org)]
    people = []
    for i, (consent, opted_out, e30, ratio) in enumerate(w["people"]):
        [c] = reachable_customers(org, 1, staff=staff, consent=consent, opted_out=opted_out, prefix=f"p{i}-")
        if e30 is not None:
            Customer.objects.filter(pk=c.pk).update(expected_orders_30=e30, expected_orders_90=e30 * ratio)
        people.append((c, e30, ratio))
    send = next_allowed(policy=pol, at=at(10))
    day = platform_day(send)
    if w["earlier"]:
        campaign_plan(campaign_id=campaign(org, kind=w["earlier"]).pk, now=send)
    made = [
        scheduled(org, kind=kind, priority=prio, value_per_conversion=Decimal(value), holdout_percent=holdout)
        for kind, prio, value, holdout in w["campaigns"]
    ]
    out = allocation_run(organization=org, day=day, mode=w["mode"], by=None, now=at(8))

    planned = list(Delivery.objects.filter(organization=org, status=DeliveryStatus.PLANNED).select_related("customer"))
    kinds = {c.pk: c.kind for c in made}
    # Opt-outs (and no consent where required) receive nothing.
    for d in planned:
        assert d.customer.opted_out_at is None
        assert d.customer.marketing_consent or not pol.require_consent
    # Nothing is sent inside quiet hours.
    for b in Batch.objects.filter(organization=org):
        assert not in_quiet_hours(policy=pol, at=b.not_before)
    # No cap is broken (counted from deliveries, the earlier campaign's included; the day is in every window).
    per = Counter()
    for d in planned:
        kind = kinds.get(d.campaign_id, w["earlier"])
        per[(d.customer_id, kind)] += 1
        per[(d.customer_id, "brand")] += 1
    limits = {
        CampaignKind.BROADCAST_SINGLE: 1 if w["customer_mode"] == CapMode.DAILY else 7,
        CampaignKind.MOMENT: w["moments_per_day"],
    }
    for (_, kind), n in per.items():
        if kind == "brand":
            assert not w["brand_cap"] or n <= w["brand_cap"]
        else:
            assert n <= limits[kind]
    # Held-out customers receive nothing and hold no slot.
    held_out = Delivery.objects.filter(campaign__in=made, reason="holdout")
    assert not held_out.exclude(status=DeliveryStatus.EXCLUDED).exists()
    assert not QuotaLedger.objects.filter(delivery__in=held_out).exists()
    # The ledger holds exactly the planned deliveries' slots.
    assert not QuotaLedger.objects.filter(organization=org, delivery__status=DeliveryStatus.EXCLUDED).exists()

    # Value order is never below priority order, and both equal an independent computation.
    assert out.value_joint >= out.value_priority
    mine = Delivery.objects.filter(campaign__in=made).filter(
        Q(status=DeliveryStatus.PLANNED) | Q(reason__in=["quota", "brand_cap"])
    )
    eligible = {(d.customer_id, d.campaign_id) for d in mine}
    held = Counter()
    for d in planned:
        if d.campaign_id not in kinds:
            held[(d.customer_id, w["earlier"])] += 1
            held[(d.customer_id, "brand")] += 1
    best_total = prio_total = 0.0
    for c, e30, ratio in people:
        cands = [
            {
                "id": m.pk,
                "kind": m.kind,
                "priority": m.priority,
                "ev": float(m.value_per_conversion) * _probability(e30, ratio, w["attribution_days"]),
            }
            for m in made
            if (c.pk, m.pk) in eligible
        ]
        free = {k: limits[k] - held[(c.pk, k)] for k in limits}
        free["brand"] = w["brand_cap"] - held[(c.pk, "brand")] if w["brand_cap"] else None
        best, prio = _best_and_priority(cands, free)
        best_total += best
        prio_total += prio
    assert abs(float(out.value_joint) - best_total) < 0.011
    assert abs(float(out.value_priority) - prio_total) < 0.011


# -- simulation: customers with known purchase probabilities, outcomes drawn with a seeded RNG -----------


def test_simulated_outcomes_show_the_gain_of_value_order(brand, capsys):
    org, staff = brand
    policy(org, attribution_days=7)
    north, south = StoreFactory(organization=org), StoreFactory(organization=org)
    rng = random.Random(18)
    people = reachable_customers(org, 150, staff=staff, store=north, prefix="n") + reachable_customers(
        org, 150, staff=staff, store=south, prefix="s"
    )
    truth = {c.pk: rng.uniform(0.01, 0.4) for c in people}
    # The model knows each customer's true 7-day probability: E30 = −ln(1 − p)·30/7 (E90 = 3·E30).
    for c in people:
        e30 = -math.log(1 - truth[c.pk]) * 30 / 7
        Customer.objects.filter(pk=c.pk).update(expected_orders_30=e30, expected_orders_90=3 * e30)
    # The brand-wide campaign has the top priority and the lowest value; the stores' own are worth more.
    wide = scheduled(org, name="全员", priority=9, value_per_conversion=Decimal("40"))
    scheduled(org, name="北区", priority=0, audience_store_ids=[north.pk], value_per_conversion=Decimal("120"))
    scheduled(org, name="南区", priority=5, audience_store_ids=[south.pk], value_per_conversion=Decimal("70"))
    values = {}
    winners = {}
    for mode in (AllocationMode.PRIORITY, AllocationMode.EXPECTED_VALUE):
        with transaction.atomic():
            out = allocation_run(organization=org, day=DAY, mode=mode, by=None, now=at(8))
            winners[mode] = list(
                Delivery.objects.filter(status=DeliveryStatus.PLANNED).values_list(
                    "customer_id", "campaign__value_per_conversion"
                )
            )
            values[mode] = out
            transaction.set_rollback(True)
    assert values[AllocationMode.PRIORITY].value_joint == values[AllocationMode.EXPECTED_VALUE].value_joint
    assert {v for _, v in winners[AllocationMode.PRIORITY]} == {wide.value_per_conversion}
    # Common random numbers: one seeded draw per customer decides whether they buy in the window.
    bought = {pk: rng.random() < p for pk, p in truth.items()}
    realised = {mode: sum(float(v) for pk, v in rows if bought[pk]) for mode, rows in winners.items()}
    expected = {mode: sum(float(v) * truth[pk] for pk, v in rows) for mode, rows in winners.items()}
    gain = realised[AllocationMode.EXPECTED_VALUE] - realised[AllocationMode.PRIORITY]
    with capsys.disabled():
        print(
            f"\n[simulation] expected ¥{expected['priority']:.2f} → ¥{expected['expected_value']:.2f};"
            f" realised ¥{realised['priority']:.2f} → ¥{realised['expected_value']:.2f} (gain ¥{gain:.2f})"
        )
    assert abs(expected["priority"] - float(values[AllocationMode.PRIORITY].value_priority)) < 0.02
    assert abs(expected["expected_value"] - float(values[AllocationMode.PRIORITY].value_joint)) < 0.02
    assert gain > 0
