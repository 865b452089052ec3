"""The counting rules and the reward tiers without WeCom traffic (the sandbox test covers the callbacks)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from offers.models import CouponSource, CouponTemplate, IssuedCoupon
from referrals.counting import friend_refusal, referrals_tick
from referrals.models import FriendStatus, ReferralReward, RewardStatus
from referrals.services import referral_participant_enrol
from tests.factories import CustomerFactory, FollowFactory
from tests.offers.helpers import template
from tests.referrals.conftest import make_campaign
from tests.referrals.test_views import friends

pytestmark = pytest.mark.django_db


def test_the_participant_themself_and_adds_outside_the_window_do_not_count(setup, world):
    campaign = make_campaign(setup, world)
    customer = CustomerFactory(organization=world.org, home_store=world.store_a)
    participant, _ = referral_participant_enrol(campaign=campaign, customer=customer, by=setup.guide_a)
    follow = FollowFactory(customer=customer, staff=setup.guide_a, added_at=timezone.now())
    assert friend_refusal(participant=participant, customer=customer, follow=follow) == "the participant themself"
    newcomer = CustomerFactory(organization=world.org)
    late = FollowFactory(customer=newcomer, staff=setup.guide_a, added_at=campaign.ends_at + dt.timedelta(minutes=1))
    assert friend_refusal(participant=participant, customer=newcomer, follow=late) == "campaign not running"
    on_time = FollowFactory(customer=CustomerFactory(organization=world.org), staff=setup.guide_b)
    assert friend_refusal(participant=participant, customer=on_time.customer, follow=on_time) == ""


def test_both_tiers_are_issued_once_and_a_refused_issue_is_retried(setup, world):
    second = template(world.org, name="任务宝奖励50元", amount_off="50.00", stock=1)
    campaign = make_campaign(setup, world, goal=1, goal2=2, reward2=second)
    a, _ = referral_participant_enrol(
        campaign=campaign, customer=CustomerFactory(organization=world.org, home_store=world.store_a), by=setup.guide_a
    )
    b, _ = referral_participant_enrol(
        campaign=campaign, customer=CustomerFactory(organization=world.org, home_store=world.store_a), by=setup.guide_a
    )
    friends(a, 2, FriendStatus.VALID, staff=setup.guide_a)
    friends(b, 2, FriendStatus.VALID, staff=setup.guide_a, start=2)
    result = referrals_tick()
    assert result.claimed == 4 and result.issued == 3  # the ¥50 coupon has stock for one participant only
    failed = ReferralReward.objects.get(status=RewardStatus.FAILED)
    assert failed.tier == 2 and "库存不足" in failed.error and failed.coupon is None
    assert IssuedCoupon.objects.count() == 3
    # The report and the profile show 任务宝奖励, not 员工发放.
    assert set(IssuedCoupon.objects.values_list("source", flat=True)) == {CouponSource.REFERRAL}
    CouponTemplate.objects.filter(pk=second.pk).update(stock=5)
    assert referrals_tick().issued == 1
    assert referrals_tick().issued == 0
    assert ReferralReward.objects.filter(status=RewardStatus.ISSUED).count() == 4 and IssuedCoupon.objects.count() == 4
