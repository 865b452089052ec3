"""The counting rules and the reward tiers without WeCom traffic (the sandbox test covers the callbacks)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Identity, Platform, Role
from offers.models import CouponSource, CouponTemplate, IssuedCoupon
from referrals.counting import friend_refusal, referrals_tick
from referrals.models import FriendStatus, ReferralReward, RewardStatus
from referrals.services import referral_participant_enrol
from tests.factories import CustomerFactory, FollowFactory, UserFactory
from tests.offers.helpers import template
from tests.referrals.conftest import make_campaign
from tests.referrals.test_views import friends
from todos.models import Todo, TodoKind, TodoStatus

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


def test_the_reward_to_do_is_sent_from_the_sidebar_with_one_tap_and_then_done(setup, world):
    setup.guide_a.user = UserFactory(username="guide_a", role=Role.STORE_STAFF)
    setup.guide_a.save(update_fields=["user"])
    campaign = make_campaign(setup, world, goal=1)
    customer = CustomerFactory(organization=world.org, home_store=world.store_a)
    Identity.objects.create(
        organization=world.org, customer=customer, platform=Platform.WECOM, external_id="wm_reward_1"
    )
    participant, _ = referral_participant_enrol(campaign=campaign, customer=customer, by=setup.guide_a)
    friends(participant, 1, FriendStatus.VALID, staff=setup.guide_a)
    assert referrals_tick().issued == 1
    todo = Todo.objects.get(kind=TodoKind.REFERRAL_REWARD, assignee=setup.guide_a)
    assert todo.get_kind_display() == "任务宝奖励" and "/c/" in todo.body
    guide = world.client_for(setup.guide_a)
    page = guide.get("/sidebar/todos/").content.decode()
    item = page[page.index(f'data-testid="todo-{todo.pk}"') :]
    item = item[: item.index("</li>")]
    assert 'data-testid="todo-send"' in item and 'data-ext="wm_reward_1"' in item and "任务宝奖励" in item
    done = guide.post(f"/todos/{todo.pk}/done/", HTTP_ACCEPT="application/json")
    assert done.json() == {"id": todo.pk, "status": "done"}
    todo.refresh_from_db()
    assert todo.status == TodoStatus.DONE and todo.done_by == setup.guide_a
    assert 'data-testid="todo-send"' not in guide.get("/sidebar/todos/").content.decode()
