from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from contacts.models import Staff
from referrals.models import ReferralCampaign
from referrals.services import CampaignInput, referral_campaign_save, referral_campaign_start
from tests.factories import StaffFactory
from tests.offers.helpers import template
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)


@dataclass
class Setup:
    account: Any
    guide_a: Staff
    guide_b: Staff
    reward: Any


def make_campaign(
    setup: Setup, world: Any, *, goal: int = 2, store: Any = None, start: bool = True, **extra: Any
) -> ReferralCampaign:
    now = timezone.now()
    campaign = referral_campaign_save(
        organization_id=world.org.pk,
        data=CampaignInput(
            name=extra.pop("name", "老带新"),
            account=setup.account,
            staff=[setup.guide_a, setup.guide_b],
            store=store,
            goal=goal,
            reward=setup.reward,
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(days=7),
            poster_text="邀请好友扫码，满 2 位送 10 元券",
            **extra,
        ),
        by=world.operator,
    )
    if start:
        referral_campaign_start(campaign=campaign)
    return campaign


@pytest.fixture
def setup(db, world, wecom_sandbox) -> Setup:  # noqa: F811
    wecom_sandbox.add_member("guide_a", "导购A")
    wecom_sandbox.add_member("guide_b", "导购B")
    account = wecom_sandbox.connect(world.org, default_store=world.store_a)
    guide_a = StaffFactory(organization=world.org, store=world.store_a, name="导购A", wecom_userid="guide_a")
    guide_b = StaffFactory(organization=world.org, store=world.store_b, name="导购B", wecom_userid="guide_b")
    reward = template(world.org, name="任务宝奖励10元", amount_off="10.00")
    return Setup(account=account, guide_a=guide_a, guide_b=guide_b, reward=reward)
