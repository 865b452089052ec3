"""Two planners at once on real Postgres (two connections): the ledger's unique slots decide."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from campaigns.models import Delivery, DeliveryStatus, QuotaLedger
from campaigns.planner import campaign_plan
from contacts.models import Segment
from tests.campaigns.factories import at, campaign, reachable_customers
from tests.factories import StaffFactory


def _plan_concurrently(campaign_ids: list[int]) -> list[BaseException]:
    barrier = threading.Barrier(len(campaign_ids))
    errors: list[BaseException] = []

    def run(cid: int) -> None:
        try:
            barrier.wait()
            campaign_plan(campaign_id=cid, now=at(10))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(cid,)) for cid in campaign_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


@pytest.mark.parametrize("high_first", [True, False])
def test_concurrent_plans_give_each_customer_one_slot_and_the_higher_priority_wins(transactional_db, world, high_first):
    staff = [StaffFactory(organization=world.org, store=world.store_a) for _ in range(3)]
    only_a = reachable_customers(world.org, 150, staff=staff, store=world.store_a, prefix="a")
    both = reachable_customers(world.org, 300, staff=staff, store=world.store_b, prefix="b")
    seg_ab = Segment.objects.create(organization=world.org, name="AB", expression={})
    low = campaign(world.org, name="低优先级", priority=1, segment=seg_ab)
    high = campaign(world.org, name="高优先级", priority=9, expression={"stores": [world.store_b.pk]})
    order = [high.pk, low.pk] if high_first else [low.pk, high.pk]
    assert _plan_concurrently(order) == []

    per_customer_day = Counter(QuotaLedger.objects.values_list("customer_id", "window_start"))
    assert max(per_customer_day.values()) == 1
    both_ids = {c.pk for c in both}
    assert set(QuotaLedger.objects.filter(customer_id__in=both_ids).values_list("campaign_id", flat=True)) == {high.pk}
    assert Delivery.objects.filter(campaign=high, status=DeliveryStatus.PLANNED).count() == len(both)
    low_planned = set(
        Delivery.objects.filter(campaign=low, status=DeliveryStatus.PLANNED).values_list("customer_id", flat=True)
    )
    assert low_planned == {c.pk for c in only_a}
    assert set(Delivery.objects.filter(campaign=low, customer_id__in=both_ids).values_list("reason", flat=True)) <= {
        "quota",
        "preempted",
    }
    # Every planned delivery holds exactly its own slot; no slot is held by an excluded delivery.
    assert QuotaLedger.objects.count() == Delivery.objects.filter(status=DeliveryStatus.PLANNED).count()
