"""Ocean Engine pull over real HTTP: moving window, dedupe by clue_id, late fields, customers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from channels.douyin.services import ocean_engine_leads_sync
from channels.models import ChannelPlatform, Lead, LeadSource
from channels.sandbox.douyin import OceanEngineFake, serve
from contacts.models import Customer, TimelineEvent, TimelineKind
from tests.channels.leads.helpers import make_account

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 11, 23, 10, 0, tzinfo=SH)
ADV = 1760000000001


@pytest.fixture
def ocean() -> Iterator[tuple[OceanEngineFake, str, dict]]:
    clock = {"now": T0}
    fake = OceanEngineFake(clock=lambda: clock["now"])
    served = serve(fake)
    yield fake, served.base_url, clock
    served.stop()


@pytest.fixture
def account(world, ocean):
    fake, base_url, _ = ocean
    return make_account(
        world.org,
        ChannelPlatform.OCEAN_ENGINE,
        credentials={"access_token": fake.access_token},
        api_base=base_url,
        external_id=str(ADV),
        settings={"advertiser_ids": [ADV]},
        store=world.store_a,
    )


def test_leads_with_phone_become_customers_with_their_ad(world, ocean, account) -> None:
    fake, _, _clock = ocean
    fake.add_clue(
        telephone="13800138001", name="王女士", created_at=T0 - timedelta(minutes=5), ad_id=71001, ad_name="秋冬新品"
    )
    fake.add_clue(telephone="", name="无电话", created_at=T0 - timedelta(minutes=3))
    fake.add_clue(telephone="13800138001", name="王女士", created_at=T0 - timedelta(minutes=2), ad_id=71002)
    stats = ocean_engine_leads_sync(account_id=account.pk, now=T0)
    assert stats == {"seen": 3, "created": 3, "updated": 0}
    assert Lead.objects.filter(organization=world.org, source=LeadSource.OCEAN_ENGINE).count() == 3
    customers = Customer.objects.filter(organization=world.org)
    assert customers.count() == 1  # the repeated phone is one person
    customer = customers.get()
    assert customer.source_channel == "douyin"
    assert customer.home_store == world.store_a
    assert customer.first_touch["ad_id"] in (71001, 71002)
    assert customer.first_touch["advertiser_id"] == ADV
    assert TimelineEvent.objects.filter(customer=customer, kind=TimelineKind.LEAD).count() == 2
    no_phone = Lead.objects.get(name="无电话")
    assert no_phone.customer_id is None
    first = Lead.objects.get(ad_id="71001")
    assert first.ad_name == "秋冬新品"
    assert first.phone_masked == "138****8001"


def test_a_second_pull_changes_nothing_and_late_fields_fill_in(world, ocean, account) -> None:
    fake, _, clock = ocean
    clue = fake.add_clue(created_at=T0 - timedelta(minutes=1))
    ocean_engine_leads_sync(account_id=account.pk, now=T0)
    lead = Lead.objects.get(external_id=clue["clue_id"])
    assert not lead.late_fields_filled
    stats = ocean_engine_leads_sync(account_id=account.pk, now=T0 + timedelta(minutes=1))
    assert stats["created"] == 0 and stats["updated"] == 1
    clock["now"] = T0 + timedelta(minutes=12)
    ocean_engine_leads_sync(account_id=account.pk, now=clock["now"])
    lead.refresh_from_db()
    assert lead.late_fields_filled
    assert lead.fields["app_name"] == "抖音"
    assert Lead.objects.count() == 1
    assert Customer.objects.count() == 1
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD).count() == 1


def test_a_lead_inserted_in_the_past_is_caught_by_the_overlap(world, ocean, account) -> None:
    fake, _, _clock = ocean
    ocean_engine_leads_sync(account_id=account.pk, now=T0)
    # Ocean Engine shows a lead created 5 min before our last window end only now.
    late = fake.add_clue(created_at=T0 - timedelta(minutes=5), telephone="13800138009")
    ocean_engine_leads_sync(account_id=account.pk, now=T0 + timedelta(minutes=2))
    assert Lead.objects.filter(external_id=late["clue_id"]).exists()


def test_a_refund_never_blanks_the_phone(world, ocean, account) -> None:
    fake, _, _ = ocean
    clue = fake.add_clue(created_at=T0 - timedelta(minutes=1), telephone="13800138010")
    ocean_engine_leads_sync(account_id=account.pk, now=T0)
    fake.refund(clue["clue_id"])
    ocean_engine_leads_sync(account_id=account.pk, now=T0 + timedelta(minutes=1))
    assert Lead.objects.get(external_id=clue["clue_id"]).phone_masked == "138****8010"


def test_a_throttled_pull_keeps_the_cursor(world, ocean, account) -> None:
    fake, _, _ = ocean
    fake.throttled = 1
    stats = ocean_engine_leads_sync(account_id=account.pk, now=T0)
    assert stats["error"] == fake.throttle_code
    fake.add_clue(created_at=T0 - timedelta(hours=3))
    ocean_engine_leads_sync(account_id=account.pk, now=T0 + timedelta(minutes=1))
    assert Lead.objects.count() == 1  # the first (failed) window was read again from the same start


def test_the_demo_fake_keeps_producing_leads(world) -> None:
    from django.utils import timezone

    fake = OceanEngineFake.for_demo()
    served = serve(fake)
    try:
        account = make_account(
            world.org,
            ChannelPlatform.OCEAN_ENGINE,
            credentials={"access_token": fake.access_token},
            api_base=served.base_url,
            settings={"advertiser_ids": [ADV]},
        )
        now = timezone.now()
        first = ocean_engine_leads_sync(account_id=account.pk, now=now)
        assert first["created"] >= 6 + 24 * 6  # the seeded leads and a day of ambient ones
        again = ocean_engine_leads_sync(account_id=account.pk, now=now)  # same end: no new ambient slot
        assert again["created"] == 0
    finally:
        served.stop()


def test_a_failing_lead_does_not_block_the_others_and_is_retried(world, ocean, account, monkeypatch) -> None:
    from channels.douyin import services

    fake, _, _ = ocean
    good = fake.add_clue(created_at=T0 - timedelta(minutes=2), telephone="13800138201")
    bad = fake.add_clue(created_at=T0 - timedelta(minutes=1), telephone="13800138202")
    real = services.lead_ingest

    def flaky(**kwargs):
        if kwargs["event"].external_id == bad["clue_id"]:
            raise RuntimeError("boom")
        return real(**kwargs)

    monkeypatch.setattr(services, "lead_ingest", flaky)
    stats = ocean_engine_leads_sync(account_id=account.pk, now=T0)
    assert stats["failed"] == [bad["clue_id"]]
    assert Lead.objects.filter(external_id=good["clue_id"]).exists()
    monkeypatch.setattr(services, "lead_ingest", real)
    # Hours later (beyond the overlap) the failed lead is still read again: the window start was kept.
    ocean_engine_leads_sync(account_id=account.pk, now=T0 + timedelta(hours=3))
    assert Lead.objects.filter(external_id=bad["clue_id"]).exists()
