"""A follow's 渠道参数 is shown as the name of its 活码, never as the raw code (issue 13)."""

from __future__ import annotations

import re

import pytest

from channels.models import ChannelAccount, ContactWay
from tests.conftest import World
from tests.factories import CustomerFactory, FollowFactory


@pytest.mark.django_db
def test_the_profile_names_the_contact_way_of_each_follow(world: World) -> None:
    account = ChannelAccount.objects.create(organization=world.org, platform="wecom", name="企微")
    ContactWay.objects.create(organization=world.org, account=account, name="门店收银台 · 通用码", state="wecom_demo")
    # Another brand's 活码 with the same state names nothing here.
    other = ChannelAccount.objects.create(organization=world.other_org, platform="wecom", name="对手企微")
    ContactWay.objects.create(organization=world.other_org, account=other, name="对手的码", state="shop_poster")
    customer = CustomerFactory(organization=world.org, home_store=world.store_a)
    FollowFactory(organization=world.org, customer=customer, staff=world.store_staff, state="wecom_demo")
    FollowFactory(organization=world.org, customer=customer, staff=world.manager, state="shop_poster")
    html = world.client_for(world.operator).get(f"/customers/{customer.pk}/").content.decode()
    assert "门店收银台 · 通用码" in html
    assert "未登记的渠道参数" in html and "对手的码" not in html
    visible = re.sub(r"<[^>]+>", " ", html)
    assert "wecom_demo" not in visible and "shop_poster" not in visible
