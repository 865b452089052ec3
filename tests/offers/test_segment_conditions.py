"""The coupon segment conditions on coupons issued, redeemed and refunded through the services:
"redeemed a coupon" (window, templates, stores; a refund that gave the coupon back does not count)
and "holds a valid coupon" (not used, inside its validity, optionally expiring soon)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from analytics import services as order_services
from contacts import segments
from contacts.access import actor_for_user
from offers import services
from tests.factories import CustomerFactory, OrganizationFactory
from tests.offers.helpers import template

pytestmark = pytest.mark.django_db


def _redeem(world: Any, code: str, store: Any, ref: str) -> Any:
    redemption, _created = services.coupon_redeem(
        organization=world.org,
        code=code,
        store=store,
        amount=Decimal("88.00"),
        external_ref=ref,
        staff=None,
        store_ids=None,
    )
    return redemption


def _ids(actor: Any, expression: dict[str, Any], now: Any = None) -> set[int]:
    return set(segments.segment_queryset(actor=actor, expression=expression, now=now).values_list("pk", flat=True))


def test_redeemed_counts_kept_redemptions_by_window_template_and_store(world):
    five = template(world.org, name="立减5元")
    ten = template(world.org, name="立减10元")
    a, b, refunded, idle = (CustomerFactory(organization=world.org, home_store=world.store_a) for _ in range(4))
    _redeem(world, services.coupon_issue(template=five, customer=a).code, world.store_a, "P1")
    _redeem(world, services.coupon_issue(template=ten, customer=b).code, world.store_b, "P2")
    gone = _redeem(world, services.coupon_issue(template=five, customer=refunded).code, world.store_a, "P3")
    order_services.order_refund(order=gone.order, amount=gone.order.amount, at=timezone.now())
    services.coupon_issue(template=ten, customer=idle)
    operator = actor_for_user(world.operator.user)

    assert _ids(operator, {"coupon_redeemed": {}}) == {a.pk, b.pk}
    assert _ids(operator, {"coupon_redeemed": {"template_ids": [five.pk]}}) == {a.pk}
    assert _ids(operator, {"coupon_redeemed": {"store_ids": [world.store_b.pk], "within_days": 1}}) == {b.pk}
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    assert _ids(operator, {"coupon_redeemed": {"to": yesterday}}) == set()
    count = segments.segment_count(actor=operator, expression={"coupon_redeemed": {"within_days": 7}})
    assert count == 2
    # The refunded customer's coupon is back in hand: valid again, like the idle one's.
    assert _ids(operator, {"coupon_valid": {}}) == {refunded.pk, idle.pk}
    assert _ids(operator, {"coupon_valid": {"template_ids": [ten.pk]}}) == {idle.pk}


def test_a_valid_coupon_is_unused_inside_its_window_and_may_expire_soon(world):
    week = template(world.org, name="周券", valid_days=7)
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    services.coupon_issue(template=week, customer=c)
    operator = actor_for_user(world.operator.user)
    now = timezone.now()
    assert _ids(operator, {"coupon_valid": {}}, now) == {c.pk}
    # Valid 7 days from now: it expires within 8 Beijing days (today included), not within 3.
    assert _ids(operator, {"coupon_valid": {"expires_within_days": 8}}, now) == {c.pk}
    assert _ids(operator, {"coupon_valid": {"expires_within_days": 3}}, now) == set()
    # Eight days on it has expired.
    assert _ids(operator, {"coupon_valid": {}}, now + dt.timedelta(days=8)) == set()


def test_the_coupon_conditions_read_as_sentences_and_check_their_ids(world):
    five = template(world.org, name="立减5元")
    org = world.org.pk
    assert segments.describe({"coupon_redeemed": {}}, organization_id=org) == "曾经核销过优惠券。"
    assert (
        segments.describe(
            {"coupon_redeemed": {"within_days": 30, "template_ids": [five.pk], "store_ids": [world.store_a.pk]}},
            organization_id=org,
        )
        == "最近 30 天核销过“立减5元”（在“A店”）。"
    )
    assert segments.describe({"coupon_valid": {"expires_within_days": 3}}, organization_id=org) == (
        "持有未使用且在有效期内的优惠券（3 天内到期）。"
    )
    assert segments.describe({"coupon_valid": {"template_ids": [five.pk]}}, organization_id=org) == (
        "持有未使用且在有效期内的“立减5元”。"
    )
    foreign = OrganizationFactory()
    with pytest.raises(segments.SegmentError, match="优惠券"):
        segments.validate({"coupon_redeemed": {"template_ids": [five.pk]}}, organization_id=foreign.pk)
    with pytest.raises(segments.SegmentError, match="门店"):
        segments.validate({"coupon_redeemed": {"store_ids": [world.store_a.pk]}}, organization_id=foreign.pk)
    with pytest.raises(segments.SegmentError, match="优惠券"):
        segments.validate({"not": {"coupon_valid": {"template_ids": [999_999]}}}, organization_id=org)
    with pytest.raises(segments.SegmentError, match="几天内到期"):
        segments.validate({"coupon_valid": {"expires_within_days": 0}})
    with pytest.raises(segments.SegmentError, match="只支持"):
        segments.validate({"coupon_redeemed": {"code": "X"}})
