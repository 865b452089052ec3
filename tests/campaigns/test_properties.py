"""Property tests: random customers, policies, campaigns and clocks never break a cap."""

from __future__ import annotations

from collections import Counter
from datetime import time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import (
    Batch,
    CampaignKind,
    CapMode,
    CapPeriod,
    Delivery,
    DeliveryStatus,
    QuotaLedger,
)
from campaigns.planner import campaign_plan
from campaigns.quota import _mode_window, _period_start, in_quiet_hours, platform_day
from tests.campaigns.factories import at, campaign, policy, reachable_customers
from tests.factories import OrganizationFactory, StaffFactory

pytestmark = pytest.mark.django_db

policies = st.fixed_dictionaries(
    {
        "customer_mode": st.sampled_from(list(CapMode.values)),
        "moments_per_day": st.integers(0, 3),
        "brand_cap": st.integers(0, 3),
        "brand_cap_period": st.sampled_from(list(CapPeriod.values)),
        "quiet_start": st.sampled_from([time(21), time(22, 30), time(0), time(12)]),
        "quiet_end": st.sampled_from([time(9), time(7), time(13), time(21)]),
        "require_consent": st.booleans(),
    }
)
campaigns_st = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from([CampaignKind.BROADCAST_SINGLE, CampaignKind.MOMENT]),
            "priority": st.integers(0, 3),
            "holdout_percent": st.sampled_from([0, 10, 50]),
            "offset_minutes": st.integers(0, 60 * 24 * 20),
        }
    ),
    min_size=1,
    max_size=7,
)
customers_st = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=10)  # (consent, opted_out)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(policy_values=policies, plans=campaigns_st, people=customers_st)
def test_no_plan_ever_breaks_a_cap(db, policy_values, plans, people):
    org = OrganizationFactory()
    pol = policy(org, **policy_values)
    staff = [StaffFactory(organization=org)]
    customers = []
    for i, (consent, opted_out) in enumerate(people):
        customers += reachable_customers(org, 1, staff=staff, consent=consent, opted_out=opted_out, prefix=f"p{i}-")
    base = at(0, day=1)
    made = []
    for p in sorted(plans, key=lambda p: p["offset_minutes"]):
        c = campaign(org, kind=p["kind"], priority=p["priority"], holdout_percent=p["holdout_percent"])
        campaign_plan(campaign_id=c.pk, now=base + timedelta(minutes=p["offset_minutes"]))
        c.refresh_from_db()
        made.append(c)

    planned = list(
        Delivery.objects.filter(campaign__organization=org, status=DeliveryStatus.PLANNED).select_related(
            "campaign", "customer"
        )
    )
    # Nothing is planned for opted-out customers (nor without consent when the brand requires it).
    for d in planned:
        assert d.customer.opted_out_at is None
        assert d.customer.marketing_consent or not pol.require_consent
    # Nothing is scheduled inside quiet hours.
    for c in made:
        assert not in_quiet_hours(policy=pol, at=c.send_after)
    for b in Batch.objects.filter(campaign__organization=org):
        assert not in_quiet_hours(policy=pol, at=b.not_before)
    # Held-out customers receive nothing and hold no slot.
    held = Delivery.objects.filter(campaign__organization=org, reason="holdout")
    assert not held.exclude(status=DeliveryStatus.EXCLUDED).exists()
    assert not QuotaLedger.objects.filter(delivery__in=held).exists()
    # No customer exceeds any cap in any window (counted from deliveries, not from the ledger).
    wecom, moments, brand = Counter(), Counter(), Counter()
    for d in planned:
        day = platform_day(d.campaign.send_after)
        if d.campaign.kind == CampaignKind.BROADCAST_SINGLE:
            wecom[(d.customer_id, _mode_window(pol.customer_mode, day)[0])] += 1
        else:
            moments[(d.customer_id, day)] += 1
        brand[(d.customer_id, _period_start(pol.brand_cap_period, day))] += 1
    for (_, start), n in wecom.items():
        assert n <= _mode_window(pol.customer_mode, start)[1]
    for n in moments.values():
        assert n <= pol.moments_per_day
    if pol.brand_cap:
        assert max(brand.values(), default=0) <= pol.brand_cap
    # Ledger and deliveries agree: each planned delivery holds its slots, no excluded one holds any.
    assert not QuotaLedger.objects.filter(organization=org, delivery__status=DeliveryStatus.EXCLUDED).exists()
