"""任务宝 through the WeCom sandbox: adds posted as real (encrypted) add_external_contact callbacks
through the participant's 活码 state, processed by the inbox, counted by the referrals listener."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from channels.models import AppMessage, ContactWay
from contacts.models import Customer, Follow, Identity
from offers.models import IssuedCoupon
from referrals.counting import referrals_tick
from referrals.models import FriendStatus, ReferralFriend, ReferralReward, RewardStatus
from referrals.services import referral_code_ensure, referral_participant_enrol
from tests.channels.wecom.test_events import Relay
from tests.factories import CustomerFactory
from tests.referrals.conftest import make_campaign
from todos.models import Todo

pytestmark = pytest.mark.django_db


def customer_of(ext: str) -> Customer:
    return Identity.objects.select_related("customer").get(external_id=ext).customer


def status_of(ext: str) -> str | None:
    row = ReferralFriend.objects.filter(friend=customer_of(ext)).first()
    return row.status if row else None


def test_adds_through_the_participants_code_count_once_and_issue_the_reward_once(
    setup, world, wecom_sandbox, django_capture_on_commit_callbacks
):
    relay = Relay(wecom_sandbox, setup.account)

    def deliver(twice: bool = False) -> None:
        corp = wecom_sandbox.fake.corp(wecom_sandbox.corp_id)
        if twice:  # WeCom retries a callback it thinks we missed: the same XML arrives again
            corp.outbox.extend(list(corp.outbox))
        with django_capture_on_commit_callbacks(execute=True):
            relay()

    campaign = make_campaign(setup, world, goal=2)
    p1_customer = CustomerFactory(organization=world.org, home_store=world.store_a, name="老客甲")
    p2_customer = CustomerFactory(organization=world.org, home_store=world.store_a, name="老客乙")
    p1, _ = referral_participant_enrol(campaign=campaign, customer=p1_customer, by=setup.guide_a)
    p2, _ = referral_participant_enrol(campaign=campaign, customer=p2_customer, by=setup.guide_a)
    way1 = referral_code_ensure(participant=p1)
    way2 = referral_code_ensure(participant=p2)
    assert way1 is not None and way1.state == f"rf{campaign.pk}_{p1.pk}" and len(way1.state) <= 30
    assert way1.config_id and way1.qr_code and way2 is not None
    # the code is on WeCom, with the campaign's receiving members
    on_wecom = wecom_sandbox.fake.corp(wecom_sandbox.corp_id).contact_ways[way1.config_id]
    assert on_wecom["state"] == way1.state and sorted(on_wecom["user"]) == ["guide_a", "guide_b"]

    # An existing customer: a friend of guide_a since yesterday.
    old_ext = wecom_sandbox.scan(userid="guide_a", name="老朋友")["external_userid"]
    deliver()
    old = customer_of(old_ext)
    yesterday = timezone.now() - dt.timedelta(days=1)
    Customer.objects.filter(pk=old.pk).update(created_at=yesterday)
    Follow.objects.filter(customer=old).update(added_at=yesterday)

    # Three new friends through P1's code (one delivered twice), the old friend through it too.
    f1 = wecom_sandbox.scan(state=way1.state, userid="guide_a", name="新朋友一")["external_userid"]
    f2 = wecom_sandbox.scan(state=way1.state, userid="guide_b", name="新朋友二")["external_userid"]
    deliver(twice=True)
    f3 = wecom_sandbox.scan(state=way1.state, userid="guide_a", name="新朋友三")["external_userid"]
    wecom_sandbox.scan(state=way1.state, userid="guide_b", external_userid=old_ext)
    # F1 again, through P2's code with the other member: one friend counts once.
    wecom_sandbox.scan(state=way2.state, userid="guide_b", external_userid=f1)
    deliver()
    assert (status_of(f1), status_of(f2), status_of(f3)) == ("pending",) * 3
    assert status_of(old_ext) is None
    assert ReferralFriend.objects.get(friend=customer_of(f1)).participant == p1
    assert not ReferralFriend.objects.filter(participant=p2).exists()
    assert ReferralFriend.objects.get(friend=customer_of(f2)).store == world.store_b  # guide_b's store

    # F3 deletes the member within the hour, then adds again: churned, and the re-add does not count.
    wecom_sandbox.customer_deletes(f3, "guide_a")
    deliver()
    assert status_of(f3) == FriendStatus.CHURNED
    wecom_sandbox.scan(state=way1.state, userid="guide_a", external_userid=f3)
    deliver()
    assert status_of(f3) == FriendStatus.CHURNED and ReferralFriend.objects.count() == 3

    # Before 24 hours nothing is confirmed and nothing is issued.
    early = referrals_tick(now=timezone.now() + dt.timedelta(hours=23))
    assert early.confirmed == 0 and not ReferralReward.objects.exists()

    # After 24 hours: F1 and F2 are valid, P1 reaches 2 → one reward; a second tick changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        first = referrals_tick(now=timezone.now() + dt.timedelta(hours=25))
        second = referrals_tick(now=timezone.now() + dt.timedelta(hours=26))
    assert (first.confirmed, first.churned, first.claimed, first.issued) == (2, 0, 1, 1)
    assert (second.confirmed, second.claimed, second.issued) == (0, 0, 0)
    reward = ReferralReward.objects.get()
    assert reward.participant == p1 and reward.status == RewardStatus.ISSUED and reward.tier == 1
    coupon = IssuedCoupon.objects.get()
    assert coupon.customer == p1_customer and coupon.template == setup.reward and reward.coupon == coupon
    assert coupon.token == reward.token
    todo = Todo.objects.get(source_key=f"referral-reward:{reward.pk}")
    assert todo.assignee == setup.guide_a and "/c/" in todo.body and todo.customer_id == p1_customer.pk
    assert AppMessage.objects.filter(source_key=f"referral-reward:{reward.pk}").count() == 1

    # F2 leaves after the 24 hours: the reward is kept and F2 still counts.
    wecom_sandbox.customer_deletes(f2, "guide_b")
    deliver()
    assert status_of(f2) == FriendStatus.VALID
    referrals_tick(now=timezone.now() + dt.timedelta(hours=27))
    assert IssuedCoupon.objects.count() == 1 and ReferralReward.objects.get().status == RewardStatus.ISSUED

    # The campaign ends: the participants' codes are deleted on WeCom.
    referrals_tick(now=campaign.ends_at + dt.timedelta(minutes=1))
    assert way1.config_id not in wecom_sandbox.fake.corp(wecom_sandbox.corp_id).contact_ways
    assert not ContactWay.objects.filter(pk__in=[way1.pk, way2.pk], is_active=True).exists()


def test_a_churn_the_listener_missed_is_caught_by_the_tick(
    setup, world, wecom_sandbox, django_capture_on_commit_callbacks
):
    relay = Relay(wecom_sandbox, setup.account)
    campaign = make_campaign(setup, world, goal=1)
    p, _ = referral_participant_enrol(
        campaign=campaign, customer=CustomerFactory(organization=world.org, home_store=world.store_a), by=setup.guide_a
    )
    way = referral_code_ensure(participant=p)
    ext = wecom_sandbox.scan(state=way.state, userid="guide_a", name="快走的人")["external_userid"]
    with django_capture_on_commit_callbacks(execute=True):
        relay()
    friend = ReferralFriend.objects.get()
    # The follow ended 2 hours after the add, recorded by a full sync (no callback to the listener).
    Follow.objects.filter(customer=customer_of(ext)).update(deleted_at=friend.added_at + dt.timedelta(hours=2))
    result = referrals_tick(now=timezone.now() + dt.timedelta(hours=25))
    friend.refresh_from_db()
    assert friend.status == FriendStatus.CHURNED and result.claimed == 0
    assert not IssuedCoupon.objects.exists()
