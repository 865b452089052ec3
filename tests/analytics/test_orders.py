from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from analytics import rollups, services
from analytics.models import DailyRollup, Order, OrderStatus
from contacts.models import Follow
from tests.analytics.factories import at, generate, record
from tests.factories import CustomerFactory


def test_order_record_is_idempotent_per_source_and_ref(world):
    c = CustomerFactory(organization=world.org, home_store=world.store_a, source_channel="douyin")
    o1, created1 = services.order_record(
        organization=world.org,
        customer=c,
        store=None,
        amount=Decimal("100"),
        paid_at=at(2026, 3, 1),
        source="meituan",
        external_ref="MT1",
    )
    o2, created2 = services.order_record(
        organization=world.org,
        customer=c,
        store=None,
        amount=Decimal("100"),
        paid_at=at(2026, 3, 1),
        source="meituan",
        external_ref="MT1",
    )
    assert (created1, created2) == (True, False)
    assert o1.pk == o2.pk
    assert Order.objects.count() == 1
    c.refresh_from_db()
    assert c.order_count == 1 and c.ltv == Decimal("100.00")
    assert o1.channel == "douyin" and o1.store == world.store_a
    cell = DailyRollup.objects.get()
    assert cell.orders == 1 and cell.gmv == Decimal("100")
    # Same ref from another source is another order.
    _, created3 = services.order_record(
        organization=world.org,
        customer=c,
        store=None,
        amount=Decimal("5"),
        paid_at=at(2026, 3, 2),
        source="pos_import",
        external_ref="MT1",
    )
    assert created3


def test_attribution_uses_redeemer_else_serving_follower(world):
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    Follow.objects.create(organization=world.org, customer=c, staff=world.store_staff, added_at=at(2026, 1, 1))
    Follow.objects.create(
        organization=world.org,
        customer=c,
        staff=world.manager,
        added_at=at(2026, 2, 1),
        deleted_at=at(2026, 2, 5),
        deleted_by="customer",
    )
    o = record(c, 10, at(2026, 3, 1), "A")
    assert o.staff == world.store_staff and o.is_private
    o2 = record(c, 10, at(2026, 3, 1), "B", staff=world.manager)
    assert o2.staff == world.manager
    lone = CustomerFactory(organization=world.org)
    o3 = record(lone, 10, at(2026, 3, 1), "C")
    assert o3.staff is None and not o3.is_private


def test_repeated_import_with_refund_applies_difference(world):
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    record(c, 300, at(2026, 3, 1), "R1")
    o = record(c, 300, at(2026, 3, 1), "R1", refunded_amount=Decimal("100"))
    assert o.refunded_amount == Decimal("100") and o.status == OrderStatus.PARTIALLY_REFUNDED
    o = record(c, 300, at(2026, 3, 1), "R1", status="refunded")
    assert o.status == OrderStatus.REFUNDED
    c.refresh_from_db()
    assert c.order_count == 0 and c.ltv == 0 and c.rfm_segment == ""
    cell = DailyRollup.objects.get()
    assert (cell.orders, cell.gmv, cell.refunds) == (0, Decimal("300"), Decimal("300"))


def test_refund_beyond_amount_is_refused(world):
    c = CustomerFactory(organization=world.org)
    o = record(c, 50, at(2026, 3, 1), "X")
    with pytest.raises(services.OrderError, match="最多还可退"):
        services.order_refund(order=o, amount=Decimal("60"), at=at(2026, 3, 2))


def _snapshot(org):
    cells = sorted(
        DailyRollup.objects.filter(organization=org).values_list(
            "day",
            "store_id",
            "channel",
            "staff_id",
            "new_customers",
            "churned",
            "orders",
            "gmv",
            "refunds",
            "private_orders",
            "private_gmv",
            "private_refunds",
        ),
        key=repr,
    )
    cells = [c for c in cells if any(c[4:])]
    from contacts.models import Customer

    cust = sorted(
        Customer.objects.filter(organization=org).values_list(
            "id",
            "ltv",
            "order_count",
            "first_order_at",
            "last_order_at",
            "avg_order_value",
            "rfm_r",
            "rfm_f",
            "rfm_m",
            "rfm_segment",
        )
    )
    return cells, cust


def test_incremental_rollups_equal_full_rebuild(world):
    staff = [world.manager, world.store_staff]
    generate(org=world.org, stores=[world.store_a, world.store_b], staff=staff, customers=30)
    rollups.daily_customer_metrics_refresh(
        organization_id=world.org.pk, start=dt.date(2025, 12, 1), end=dt.date(2026, 12, 31)
    )
    before = _snapshot(world.org)
    services.analytics_rebuild(organization_id=world.org.pk)
    after = _snapshot(world.org)
    assert before == after
    assert any(c[6] for c in after[0])


def test_merge_moves_orders_and_refreshes_the_survivors_rollups(world, django_capture_on_commit_callbacks):
    from analytics.models import BuyerFact, CustomerMonth
    from contacts.services import customer_merge
    from tests.factories import CustomerFactory as CF

    a = CF(organization=world.org, home_store=world.store_a, created_at=at(2026, 2, 1))
    b = CF(organization=world.org, home_store=world.store_a, created_at=at(2026, 1, 10))
    record(a, 100, at(2026, 3, 1), "M-A1")
    record(b, 300, at(2026, 3, 9), "M-B1")
    record(b, 50, at(2026, 2, 1), "M-B2")
    rollups.daily_customer_metrics_refresh(
        organization_id=world.org.pk, start=dt.date(2026, 1, 1), end=dt.date(2026, 2, 28)
    )
    assert sum(DailyRollup.objects.values_list("new_customers", flat=True)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        customer_merge(survivor=a, absorbed=b, reason="same phone")
    a.refresh_from_db()
    assert (a.order_count, a.ltv) == (3, Decimal("450.00"))
    assert a.first_order_at == at(2026, 2, 1)
    fact = BuyerFact.objects.get()
    assert (fact.customer_id, fact.first_order_at, fact.second_order_at) == (a.pk, at(2026, 2, 1), at(2026, 3, 1))
    assert sorted(CustomerMonth.objects.values_list("customer_id", "month", "orders")) == [
        (a.pk, dt.date(2026, 2, 1), 1),
        (a.pk, dt.date(2026, 3, 1), 2),
    ]
    # One person now: one new customer, on the survivor's (earlier) creation day.
    assert sum(DailyRollup.objects.values_list("new_customers", flat=True)) == 1
    before = _snapshot(world.org)
    services.analytics_rebuild(organization_id=world.org.pk)
    assert _snapshot(world.org) == before


def test_beat_tasks_count_todays_new_customers_and_rescore_rfm(world):
    from django.utils import timezone

    from analytics import tasks
    from scrm.schedule import BEAT_SCHEDULE
    from tests.factories import CustomerFactory as CF

    assert {e["task"] for e in BEAT_SCHEDULE.values()} >= {
        "analytics.rollups.refresh_recent",
        "analytics.rollups.rfm_nightly",
    }
    c = CF(organization=world.org, home_store=world.store_a, created_at=timezone.now())
    record(c, 100, timezone.now() - dt.timedelta(days=100), "OLD")
    # Stale score, as if the last order had been yesterday.
    type(c).objects.filter(pk=c.pk).update(rfm_r=5, rfm_segment="general_develop")
    tasks.refresh_recent()
    tasks.rfm_nightly()
    today = timezone.localdate()
    assert DailyRollup.objects.get(day=today, store=world.store_a).new_customers == 1
    c.refresh_from_db()
    assert (c.rfm_r, c.rfm_segment) == (3, "general_retain")
