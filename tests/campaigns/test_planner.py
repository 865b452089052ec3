from __future__ import annotations

from collections import Counter

import pytest

from campaigns.models import Batch, CampaignKind, CapMode, Delivery, DeliveryStatus, LedgerKind, QuotaLedger
from campaigns.planner import campaign_plan
from contacts.models import Segment
from tests.campaigns.factories import at, campaign, policy, reachable_customers
from tests.factories import CustomerGroupFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def senders(world):
    return [StaffFactory(organization=world.org, store=world.store_a) for _ in range(2)]


def test_it_plans_reachable_customers_and_records_why_others_were_excluded(world, senders):
    ok = reachable_customers(world.org, 5, staff=senders, store=world.store_a)
    reachable_customers(world.org, 2, staff=senders, opted_out=True, prefix="o")
    reachable_customers(world.org, 3, staff=senders, consent=False, prefix="n")
    reachable_customers(world.org, 1, staff=[], prefix="x")  # no follower, no store → no sender
    c = campaign(world.org)
    result = campaign_plan(campaign_id=c.pk, now=at(10))
    assert result.planned == 5
    assert result.excluded == {"opted_out": 2, "no_consent": 3, "no_sender": 1}
    planned = set(Delivery.objects.filter(campaign=c, status=DeliveryStatus.PLANNED).values_list("customer", flat=True))
    assert planned == {x.pk for x in ok}
    assert QuotaLedger.objects.filter(campaign=c, kind=LedgerKind.WECOM_CUSTOMER).count() == 5
    assert sum(Batch.objects.filter(campaign=c).values_list("size", flat=True)) == 5
    assert Batch.objects.filter(campaign=c).count() == 2  # one per sender


def test_it_picks_the_follower_who_last_served_the_customer(world, senders):
    from django.utils import timezone

    from contacts.models import Follow

    [customer] = reachable_customers(world.org, 1, staff=[senders[0]])
    Follow.objects.create(
        organization=world.org, customer=customer, staff=senders[1], last_interaction_at=timezone.now()
    )
    gone = StaffFactory(organization=world.org)
    Follow.objects.create(
        organization=world.org,
        customer=customer,
        staff=gone,
        last_interaction_at=timezone.now(),
        deleted_at=timezone.now(),
    )
    c = campaign(world.org)
    campaign_plan(campaign_id=c.pk, now=at(10))
    assert Delivery.objects.get(campaign=c).sender_id == senders[1].pk


def test_it_falls_back_to_the_home_store_primary_staff(world, senders):
    reachable_customers(world.org, 2, staff=[], store=world.store_a)
    c = campaign(world.org)
    campaign_plan(campaign_id=c.pk, now=at(10))
    primary = min(s.pk for s in [*senders, world.manager, world.store_staff, world.no_role] if s.wecom_userid)
    assert set(Delivery.objects.filter(campaign=c).values_list("sender_id", flat=True)) == {primary}


def test_a_customer_gets_one_broadcast_per_day(world, senders):
    reachable_customers(world.org, 4, staff=senders)
    first, second = campaign(world.org), campaign(world.org)
    campaign_plan(campaign_id=first.pk, now=at(10))
    result = campaign_plan(campaign_id=second.pk, now=at(11))
    assert result.planned == 0
    assert result.excluded == {"quota": 4}
    # The next platform day (Asia/Shanghai) is a new window.
    third = campaign(world.org)
    assert campaign_plan(campaign_id=third.pk, now=at(10, day=24)).planned == 4


def test_a_higher_priority_campaign_takes_over_unsent_reservations(world, senders):
    reachable_customers(world.org, 3, staff=senders)
    low, high = campaign(world.org, priority=1), campaign(world.org, priority=5)
    campaign_plan(campaign_id=low.pk, now=at(10))
    result = campaign_plan(campaign_id=high.pk, now=at(10))
    assert result.planned == 3 and result.preempted_others == 3
    assert Counter(Delivery.objects.filter(campaign=low).values_list("reason", flat=True)) == {"preempted": 3}
    assert set(QuotaLedger.objects.values_list("campaign_id", flat=True)) == {high.pk}


def test_weekly_mode_allows_seven_per_week(world, senders):
    policy(world.org, customer_mode=CapMode.WEEKLY)
    reachable_customers(world.org, 2, staff=senders)
    planned = [campaign_plan(campaign_id=campaign(world.org).pk, now=at(10, day=23)).planned for _ in range(8)]
    assert planned == [2] * 7 + [0]
    assert set(QuotaLedger.objects.values_list("slot_no", flat=True)) == set(range(7))


def test_brand_cap_limits_all_marketing(world, senders):
    policy(world.org, brand_cap=2, customer_mode=CapMode.MONTHLY)
    reachable_customers(world.org, 2, staff=senders)
    planned = [campaign_plan(campaign_id=campaign(world.org).pk, now=at(10, day=23 + i)).planned for i in range(3)]
    assert planned == [2, 2, 0]
    assert not QuotaLedger.objects.filter(delivery__status=DeliveryStatus.EXCLUDED).exists()


def test_holdout_is_deterministic_and_about_the_share_asked(world, senders):
    reachable_customers(world.org, 400, staff=senders)
    c = campaign(world.org, holdout_percent=20)
    result = campaign_plan(campaign_id=c.pk, now=at(10))
    held = result.excluded["holdout"]
    assert 50 <= held <= 110
    held_ids = set(Delivery.objects.filter(campaign=c, reason="holdout").values_list("customer", flat=True))
    Delivery.objects.filter(campaign=c).delete()
    QuotaLedger.objects.all().delete()
    Batch.objects.filter(campaign=c).delete()
    c.planned_at = None
    c.save()
    campaign_plan(campaign_id=c.pk, now=at(10))
    assert set(Delivery.objects.filter(campaign=c, reason="holdout").values_list("customer", flat=True)) == held_ids


def test_exclusion_segments_and_quiet_hours(world, senders):
    customers = reachable_customers(world.org, 3, staff=senders, store=world.store_a)
    reachable_customers(world.org, 2, staff=senders, store=world.store_b, prefix="b")
    seg = Segment.objects.create(organization=world.org, name="B店", expression={"stores": [world.store_b.pk]})
    c = campaign(world.org)
    c.exclusion_segments.set([seg])
    result = campaign_plan(campaign_id=c.pk, now=at(22, 30))
    assert result.planned == len(customers)
    assert result.excluded == {"excluded_segment": 2}
    assert result.send_after == at(9, day=24)
    assert set(QuotaLedger.objects.values_list("window_start", flat=True)) == {at(9, day=24).date()}
    assert set(Batch.objects.filter(campaign=c).values_list("not_before", flat=True)) == {at(9, day=24)}


def test_group_broadcast_plans_groups_through_their_owner(world, senders):
    g1 = CustomerGroupFactory(organization=world.org, owner=senders[0])
    g2 = CustomerGroupFactory(organization=world.org, owner=None)
    c = campaign(world.org, kind=CampaignKind.BROADCAST_GROUP, group_ids=[g1.pk, g2.pk])
    result = campaign_plan(campaign_id=c.pk, now=at(10))
    assert result.planned == 1 and result.excluded == {"no_sender": 1}
    assert QuotaLedger.objects.get().group_id == g1.pk
    again = campaign(world.org, kind=CampaignKind.BROADCAST_GROUP, group_ids=[g1.pk])
    assert campaign_plan(campaign_id=again.pk, now=at(11)).excluded == {"quota": 1}


def test_planning_twice_changes_nothing(world, senders):
    reachable_customers(world.org, 3, staff=senders)
    c = campaign(world.org)
    campaign_plan(campaign_id=c.pk, now=at(10))
    again = campaign_plan(campaign_id=c.pk, now=at(10))
    assert again.planned == 3
    assert Delivery.objects.filter(campaign=c).count() == 3


def test_a_sender_with_more_than_one_calls_worth_gets_several_batches(world, senders, monkeypatch):
    from campaigns import planner

    monkeypatch.setattr(planner, "MAX_CUSTOMERS_PER_CALL", 3)
    reachable_customers(world.org, 7, staff=[senders[0]])
    reachable_customers(world.org, 2, staff=[senders[1]], prefix="s")
    c = campaign(world.org)
    campaign_plan(campaign_id=c.pk, now=at(10))
    sizes = sorted(Batch.objects.filter(campaign=c).values_list("sender_id", "seq", "size"))
    assert sizes == sorted([(senders[0].pk, 0, 3), (senders[0].pk, 1, 3), (senders[0].pk, 2, 1), (senders[1].pk, 0, 2)])
    assert not Delivery.objects.filter(campaign=c, status=DeliveryStatus.PLANNED, batch__isnull=True).exists()


def test_a_slot_written_between_reading_the_window_and_reserving_makes_the_plan_start_again(world, senders):
    """A dispatcher may write a slot (e.g. WeCom's status 3) after the planner read the window: the
    unique constraint refuses the planner's INSERT, and the plan is redone from the start."""
    from django.db import connection

    customers = reachable_customers(world.org, 3, staff=senders)
    c = campaign(world.org)
    attempts: list[str] = []

    def racing_slot(execute, sql, params, many, context):
        if sql.lstrip().startswith("INSERT INTO campaigns_quotaledger") and not attempts:
            attempts.append("raced")
            with connection.cursor() as cursor:
                cursor.execute(
                    """INSERT INTO campaigns_quotaledger (organization_id, kind, customer_id, window_start, slot_no,
                                                          state, priority, created_at)
                       VALUES (%s, %s, %s, %s, 0, 'used', 0, now())""",
                    [world.org.pk, LedgerKind.WECOM_CUSTOMER, customers[0].pk, params[2]],
                )
        return execute(sql, params, many, context)

    with connection.execute_wrapper(racing_slot):
        result = campaign_plan(campaign_id=c.pk, now=at(10))
    assert attempts == ["raced"]
    # The racing slot was part of the failed attempt's transaction here, so the second attempt finds
    # the window free again; what matters is that the failed attempt left nothing behind.
    assert result.planned == 3
    assert QuotaLedger.objects.filter(customer__in=customers).count() == 3
    assert Delivery.objects.filter(campaign=c).count() == 3
