"""Coupons under concurrency on real Postgres: each thread has its own connection (transactional_db).

What must hold (and is held by the database, not by a Python check):
* the last coupon in stock goes to exactly one of several customers issued at once;
* one customer issued at once from several devices gets no more than the per-customer limit;
* one code redeemed at once from several devices (different orders) is redeemed exactly once;
* two coupons put on one order at once from two devices: both only when both are stackable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from analytics.models import Order
from offers import services
from offers.models import CouponHolding, CouponStatus, CouponTemplate, IssuedCoupon, Redemption
from tests.factories import CustomerFactory
from tests.offers.helpers import template

THREADS = 4


def race(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run the calls in threads released together; (results, errors)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcome = call()
            with lock:
                results.append(outcome)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


# A transactional test costs a table flush (~5 s), so one test runs every race in turn.
def test_concurrent_issue_and_redemption_succeed_exactly_as_often_as_the_rules_allow(transactional_db, world):
    _last_coupon_in_stock(world)
    _per_customer_limit(world)
    _several_devices(world)
    _second_device_waits_then_is_refused(world)
    _pos_retry_racing_itself(world)
    _two_coupons_on_one_order(world)


def _last_coupon_in_stock(world: Any) -> None:
    t = template(world.org, stock=1)
    customers = [CustomerFactory(organization=world.org, home_store=world.store_a) for _ in range(THREADS)]
    results, errors = race(
        [lambda c=c: services.coupon_issue(template=CouponTemplate.objects.get(pk=t.pk), customer=c) for c in customers]
    )
    assert len(results) == 1
    assert len(errors) == THREADS - 1 and all(isinstance(e, services.CouponError) for e in errors)
    assert all("库存不足" in str(e) for e in errors)
    assert IssuedCoupon.objects.filter(template=t).count() == 1
    assert CouponTemplate.objects.get(pk=t.pk).issued == 1
    # The losers' per-customer counters rolled back with their refused issue.
    assert CouponHolding.objects.filter(template=t).count() == 1


def _per_customer_limit(world: Any) -> None:
    t = template(world.org, name="每人限领2张", stock=50, per_customer_limit=2)
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    results, errors = race(
        [lambda: services.coupon_issue(template=CouponTemplate.objects.get(pk=t.pk), customer=c)] * THREADS
    )
    assert len(results) == 2 and len(errors) == THREADS - 2
    assert all(e.field == "customer_id" for e in errors)  # type: ignore[attr-defined]
    assert IssuedCoupon.objects.filter(customer=c).count() == 2
    assert CouponHolding.objects.get(template=t).issued == 2
    assert CouponTemplate.objects.get(pk=t.pk).issued == 2


def _redeem(world: Any, code: str, ref: str) -> Any:
    return services.coupon_redeem(
        organization=world.org,
        code=code,
        store=world.store_a,
        amount=Decimal("66"),
        external_ref=ref,
        staff=world.store_staff,
        store_ids=frozenset({world.store_a.pk}),
    )


def _several_devices(world: Any) -> None:
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    coupon = services.coupon_issue(template=template(world.org, name="多设备"), customer=c)
    results, errors = race([lambda i=i: _redeem(world, coupon.code, f"POS-{i}") for i in range(THREADS)])
    assert len(results) == 1 and results[0][1] is True
    assert len(errors) == THREADS - 1 and all(getattr(e, "field", None) == "code" for e in errors)
    assert Redemption.objects.filter(coupon=coupon).count() == 1
    assert Order.objects.filter(customer=c).count() == 1
    assert IssuedCoupon.objects.get(pk=coupon.pk).status == CouponStatus.REDEEMED


def _second_device_waits_then_is_refused(world: Any) -> None:
    """The interleaving made explicit: A has claimed the code and not committed; B's claim waits on
    A's row lock, then finds the coupon no longer 'issued'."""
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    coupon = services.coupon_issue(template=template(world.org, name="先后两台"), customer=c)
    claimed, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def device_a() -> None:
        try:
            with transaction.atomic():
                outcome["a"] = _redeem(world, coupon.code, "POS-A")
                claimed.set()
                release.wait(10)
        finally:
            connection.close()

    def device_b() -> None:
        try:
            claimed.wait(10)
            outcome["b"] = _redeem(world, coupon.code, "POS-B")
        except services.CouponError as exc:
            outcome["b_error"] = exc
        finally:
            connection.close()

    a, b = threading.Thread(target=device_a), threading.Thread(target=device_b)
    a.start()
    b.start()
    claimed.wait(10)
    b.join(0.5)
    assert b.is_alive(), "B must wait for A's transaction"
    release.set()
    a.join(20)
    b.join(20)
    assert outcome["a"][1] is True and "b" not in outcome
    assert outcome["b_error"].field == "code"
    assert Redemption.objects.get(coupon=coupon).external_ref == "POS-A"


def _pos_retry_racing_itself(world: Any) -> None:
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    coupon = services.coupon_issue(template=template(world.org, name="重试"), customer=c)
    results, errors = race([lambda: _redeem(world, coupon.code, "POS-SAME")] * 2)
    assert errors == [] and sorted(created for _r, created in results) == [False, True]
    assert Redemption.objects.filter(coupon=coupon).count() == 1
    assert Order.objects.filter(customer=c).count() == 1


def _two_coupons_on_one_order(world: Any) -> None:
    """Without the exclusion constraint both devices pass the Python check (neither sees the other's
    uncommitted redemption) and the order carries two non-stackable coupons."""
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    cases = [
        ("不叠加A", False, "不叠加B", False, 1),
        ("可叠加A", True, "不叠加C", False, 1),
        ("可叠加B", True, "可叠加C", True, 2),
    ]
    for i, (name_a, stack_a, name_b, stack_b, expected) in enumerate(cases):
        a = services.coupon_issue(template=template(world.org, name=name_a, stackable=stack_a), customer=c)
        b = services.coupon_issue(template=template(world.org, name=name_b, stackable=stack_b), customer=c)
        ref = f"ORDER-STACK-{i}"
        results, errors = race([lambda code=code, ref=ref: _redeem(world, code, ref) for code in (a.code, b.code)])
        assert len(results) == expected, (name_a, name_b, errors)
        assert len(errors) == 2 - expected
        assert all(isinstance(e, services.CouponError) and "不可叠加" in str(e) for e in errors)
        assert Redemption.objects.filter(external_ref=ref, reverted_at__isnull=True).count() == expected
        assert Order.objects.filter(external_ref=ref).count() == 1
        # The refused coupon is still the customer's to use.
        statuses = sorted(IssuedCoupon.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True))
        assert statuses.count(CouponStatus.REDEEMED) == expected
