"""本地推 / 抖音来客 leads (``tools/clue/life/get``) over real HTTP: customers, refunds, 50-account
chunks, their own moving window beside the ad leads, and the console field that turns them on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels.douyin.services import LIFE_CURSOR_KIND, ocean_engine_leads_sync
from channels.models import ChannelAccount, ChannelPlatform, Lead, LeadSource, LeadSyncCursor
from channels.sandbox.douyin import OceanEngineFake, serve
from contacts.models import Customer
from tests.channels.leads.helpers import make_account

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)
ADV = 1760000000001
LOCAL = 7000000000001


@pytest.fixture
def ocean() -> Iterator[tuple[OceanEngineFake, str]]:
    fake = OceanEngineFake(clock=lambda: T0)
    served = serve(fake)
    yield fake, served.base_url
    served.stop()


def account_for(world, fake, base_url, external_id: str = str(ADV), **settings) -> ChannelAccount:
    return make_account(
        world.org,
        ChannelPlatform.OCEAN_ENGINE,
        credentials={"access_token": fake.access_token},
        api_base=base_url,
        external_id=external_id,
        settings=settings,
        store=world.store_a,
    )


def test_local_leads_become_douyin_customers_with_what_brought_them(world, ocean) -> None:
    fake, base_url = ocean
    account = account_for(world, fake, base_url, advertiser_ids=[ADV], local_account_ids=[LOCAL])
    fake.add_clue(telephone="13800138001", created_at=T0 - timedelta(minutes=9))  # an ad lead
    order = fake.add_life_clue(
        local_account_id=LOCAL, telephone="13900139001", order_id="800001", created_at=T0 - timedelta(minutes=5)
    )
    fake.add_life_clue(
        local_account_id=LOCAL,
        telephone="",
        action_type="IM_MESSAGE",
        clue_type="CONSULT",
        created_at=T0 - timedelta(minutes=4),
    )
    fake.add_life_clue(local_account_id=LOCAL + 1, created_at=T0 - timedelta(minutes=3))  # not this account's
    stats = ocean_engine_leads_sync(account_id=account.pk, now=T0)
    assert stats == {"seen": 1, "created": 1, "updated": 0, "local": {"seen": 2, "created": 2, "updated": 0}}
    local = Lead.objects.filter(organization=world.org, source=LeadSource.OCEAN_ENGINE_LOCAL)
    assert local.count() == 2 and Lead.objects.filter(source=LeadSource.OCEAN_ENGINE).count() == 1
    bought = local.get(external_id=order["clue_id"])
    assert bought.ad["action_type"] == "GROUPON_ORDER" and bought.ad["order_id"] == "800001"
    assert bought.campaign_name == "门店团购 引流"
    customer = bought.customer
    assert customer is not None and customer.source_channel == "douyin" and customer.home_store == world.store_a
    assert customer.first_touch["local_account_id"] == LOCAL and customer.first_touch["source"] == "ocean_engine_local"
    assert local.get(ad__action_type="IM_MESSAGE").customer is None  # no phone, no customer
    assert Customer.objects.filter(organization=world.org).count() == 2  # the ad lead's and the order's
    assert LeadSyncCursor.objects.get(account=account, kind=LIFE_CURSOR_KIND).position == T0


def test_a_refund_masks_the_phone_and_a_repull_keeps_what_we_had(world, ocean) -> None:
    fake, base_url = ocean
    account = account_for(world, fake, base_url, external_id="", local_account_ids=[LOCAL])
    kept = fake.add_life_clue(local_account_id=LOCAL, telephone="13900139002", created_at=T0 - timedelta(minutes=5))
    later = fake.add_life_clue(local_account_id=LOCAL, telephone="13900139003", created_at=T0 - timedelta(minutes=4))
    fake.refund_life(later["clue_id"])  # refunded before we ever read it: only the masked phone
    stats = ocean_engine_leads_sync(account_id=account.pk, now=T0)
    assert stats == {"local": {"seen": 2, "created": 2, "updated": 0}}  # no advertiser: ad leads not pulled
    assert Lead.objects.get(external_id=later["clue_id"]).customer is None
    assert "139****9003" not in str(Lead.objects.get(external_id=later["clue_id"]).fields)
    fake.refund_life(kept["clue_id"])
    stats = ocean_engine_leads_sync(account_id=account.pk, now=T0 + timedelta(minutes=1))
    assert stats["local"] == {"seen": 2, "created": 0, "updated": 2}  # the window overlaps: same clue ids
    lead = Lead.objects.get(external_id=kept["clue_id"])
    assert lead.phone_hash and lead.customer is not None  # a masked phone never replaces the real one


def test_more_than_fifty_local_accounts_are_read_in_chunks(world, ocean) -> None:
    fake, base_url = ocean
    ids = [LOCAL + i for i in range(60)]
    account = account_for(world, fake, base_url, local_account_ids=ids)
    fake.add_life_clue(local_account_id=ids[55], created_at=T0 - timedelta(minutes=2))
    assert ocean_engine_leads_sync(account_id=account.pk, now=T0)["local"]["created"] == 1
    calls = [r for r in fake.requests_seen if r["path"].startswith("/open_api/2/tools/clue/life/get")]
    assert len(calls) == 2  # 50 + 10


def test_the_console_saves_local_account_ids_and_tests_both_apis(world, ocean) -> None:
    fake, base_url = ocean
    client = world.client_for(world.operator)
    form = {
        "platform": "ocean_engine",
        "name": "巨量 + 本地推",
        "external_id": str(ADV),
        "api_base": base_url,
        "access_token": fake.access_token,
    }
    bad = client.post("/channels/leads/accounts/connect/", {**form, "local_account_ids": "70001,abc"})
    assert "本地推账户 ID 应为数字" in bad.content.decode()
    ok = client.post(
        "/channels/leads/accounts/connect/", {**form, "local_account_ids": f"{LOCAL}， {LOCAL + 1}"}, follow=True
    )
    assert "本地推线索接口可用" in ok.content.decode()
    account = ChannelAccount.objects.get(platform="ocean_engine")
    assert account.settings == {"advertiser_ids": [ADV], "local_account_ids": [LOCAL, LOCAL + 1]}
    edit = client.get(f"/channels/leads/accounts/{account.pk}/").content.decode()
    assert f"{LOCAL},{LOCAL + 1}" in edit
