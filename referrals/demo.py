"""The demo brand's 任务宝: one running campaign (3 new friends → ¥10, 10 → ¥50) with a dozen
participants and their new friends in every state, so the leaderboard and totals have something to
show. Rows only: a participant's 活码 is made on WeCom when their poster is first opened."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.utils import timezone

from channels.models import ChannelAccount
from offers.services import coupon_template_save
from referrals.models import (
    EnrolSource,
    FriendStatus,
    ReferralCampaign,
    ReferralFriend,
    ReferralParticipant,
    ReferralStatus,
)


def _reward(org: Any, name: str, amount: str) -> Any:
    return coupon_template_save(
        organization=org,
        data={
            "name": name, "kind": "amount", "amount_off": Decimal(amount), "threshold": Decimal("0"),
            "validity": "relative", "valid_days": 30, "stock": 1000, "per_customer_limit": 5,
            "stackable": False, "refund_restores": False, "is_active": True,
        },
        stores=[],
    )  # fmt: skip


def load(*, context: dict[str, Any], rng: random.Random) -> None:
    org = context["organization"]
    account = ChannelAccount.objects.filter(organization=org, platform="wecom").first()
    staff = [s for s in context["staff"] if s.wecom_userid]
    customers = list(context["customers"])
    if account is None or not staff or len(customers) < 20:
        return
    now = timezone.now()
    flagship = context["stores"][0]
    receivers = [s for s in staff if s.store_id == flagship.pk][:2] or staff[:1]
    campaign = ReferralCampaign.objects.create(
        organization=org, name="老带新 · 邀 3 位好友得 10 元券", account=account, goal=3,
        reward=_reward(org, "任务宝奖励 · 10 元", "10.00"), goal2=10, reward2=_reward(org, "任务宝奖励 · 50 元", "50.00"),
        starts_at=now - dt.timedelta(days=5), ends_at=now + dt.timedelta(days=25),
        poster_text="邀请好友扫码添加悦享生活顾问，满 3 位送 10 元无门槛券，满 10 位再送 50 元！",
        status=ReferralStatus.RUNNING,
    )  # fmt: skip
    campaign.staff.set(receivers)
    picked = rng.sample(customers, min(60, len(customers)))
    participants, pool = picked[:12], picked[12:]
    for i, customer in enumerate(participants):
        participant = ReferralParticipant.objects.create(
            organization=org, campaign=campaign, customer=customer, serving_staff=receivers[i % len(receivers)],
            source=EnrolSource.STAFF, created_at=now - dt.timedelta(days=4, hours=i),
        )  # fmt: skip
        for _ in range(min(len(pool), rng.choice([0, 1, 2, 2, 3, 4, 5]))):
            friend = pool.pop()
            member = rng.choice(receivers)
            added = now - dt.timedelta(hours=rng.randint(2, 90))
            status = FriendStatus.PENDING if added > now - dt.timedelta(hours=24) else FriendStatus.VALID
            if status == FriendStatus.VALID and rng.random() < 0.15:
                status = FriendStatus.CHURNED
            ReferralFriend.objects.create(
                organization=org, campaign=campaign, participant=participant, friend=friend, staff=member,
                store=member.store, added_at=added, status=status,
            )  # fmt: skip
