"""The lead-source demo loads through the real services and is deterministic."""

from __future__ import annotations

import random

from analytics.models import Order
from channels import demo as channels_demo
from channels.models import (
    ChannelAccount,
    Lead,
    LeadAssignment,
    LeadForm,
    LeadPoolEntry,
    LeadPoolRule,
    MeituanRedemption,
    PoolStatus,
    RedemptionStatus,
)
from channels.sandbox.douyin import OceanEngineFake
from channels.sandbox.meituan import MeituanFake, demo_voucher_code
from channels.sandbox.video import WeChatShopFake
from tests.factories import StaffFactory, StoreFactory


def test_demo_loads_leads_forms_and_redemptions(world) -> None:
    stores = [StoreFactory(organization=world.org, code=c, name=c) for c in ("SH001", "SH002", "BJ001")]
    context = {"organization": world.org, "stores": stores, "staff": [world.store_staff], "customers": []}
    result = channels_demo.load_lead_sources(context=context, rng=random.Random(7))
    assert result["ad_leads"] == 140
    assert Lead.objects.filter(organization=world.org).count() >= 150
    assert Lead.objects.filter(customer__isnull=False).exists()
    assert LeadForm.objects.filter(slug="demo-try").exists()
    assert MeituanRedemption.objects.filter(status=RedemptionStatus.CONSUMED).count() == result["redemptions"]
    assert Order.objects.filter(source="meituan").count() == result["redemptions"]
    assert ChannelAccount.objects.filter(organization=world.org, platform="meituan").count() == 3


def test_demo_pool_has_rules_and_waiting_assigned_and_converted_people(world) -> None:
    stores = [StoreFactory(organization=world.org, code=c, name=c) for c in ("SH001", "SH002", "BJ001")]
    staff = [StaffFactory(organization=world.org, store=stores[0], wecom_userid=f"sh_{i}") for i in range(3)]
    staff.append(StaffFactory(organization=world.org, store=stores[1], wecom_userid="sh2_0"))
    context = {
        "organization": world.org,
        "stores": stores,
        "staff": staff,
        "customers": [],
        "logins": {"operator": world.operator},
    }
    channels_demo.load_lead_sources(context=context, rng=random.Random(7))
    result = channels_demo.load_lead_pool(context=context, rng=random.Random(7))
    assert result["rules"] == 2 and LeadPoolRule.objects.filter(organization=world.org).count() == 2
    assert LeadPoolRule.objects.get(store=stores[0]).import_enters_pool is True
    statuses = set(LeadPoolEntry.objects.filter(organization=world.org).values_list("status", flat=True))
    assert {PoolStatus.WAITING, PoolStatus.ASSIGNED, PoolStatus.CONVERTED} <= statuses
    assert result["converted"] == LeadAssignment.objects.filter(status="converted").count() > 0
    assert not LeadAssignment.objects.filter(status="converted", seconds_to_add__isnull=True).exists()
    # Every assignment went to a member (or backup) of the rules.
    assert set(LeadAssignment.objects.values_list("staff_id", flat=True)) <= {s.pk for s in staff}


def test_demo_fakes_are_seeded() -> None:
    ocean = OceanEngineFake.for_demo()
    assert len(ocean.clues) == 6 and ocean.ambient_minutes == 10
    meituan = MeituanFake.for_demo()
    assert meituan.vouchers[demo_voucher_code("SH001", 1)].status == "unused"
    assert meituan.vouchers[demo_voucher_code("SH001", 39)].status == "consumed"
    assert WeChatShopFake.for_demo().components


def test_demo_meituan_buyers_are_not_one_masked_number_in_three_shops() -> None:
    meituan = MeituanFake.for_demo()
    masks = [v.mobile for v in meituan.vouchers.values()]
    assert len(masks) == len(set(masks))
