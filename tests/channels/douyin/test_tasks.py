"""The beat tasks fan out per active account and call the sync services (run eagerly here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels.douyin.tasks import douyin_leads_task
from channels.meituan.tasks import meituan_redemptions_task
from channels.models import ChannelPlatform, Lead, MeituanRedemption
from channels.sandbox.douyin import OceanEngineFake, serve
from channels.sandbox.meituan import MeituanFake
from scrm.celery import app
from tests.channels.leads.helpers import make_account


@pytest.fixture
def eager() -> Iterator[None]:
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_beat_tasks_are_registered_under_their_names() -> None:
    for name in (
        "channels.sync.douyin_leads",
        "channels.sync.meituan_redemptions",
        "channels.sync.wecom_behavior",
        "channels.sync.video_leads",
    ):
        assert name in app.tasks
    from scrm.schedule import BEAT_SCHEDULE

    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert {"channels.sync.douyin_leads", "channels.sync.meituan_redemptions", "channels.sync.wecom_behavior"} <= tasks


def test_douyin_and_meituan_beat_tasks_sync_active_accounts(world, eager) -> None:
    ocean, meituan = OceanEngineFake(), MeituanFake()
    ocean.add_clue(telephone="13800138100")
    token = meituan.authorize(shop="shop-a")
    meituan.consume_out_of_band(meituan.add_voucher(shop="shop-a").code)
    served_ocean, served_meituan = serve(ocean), serve(meituan)
    try:
        make_account(
            world.org,
            ChannelPlatform.OCEAN_ENGINE,
            credentials={"access_token": ocean.access_token},
            api_base=served_ocean.base_url,
            settings={"advertiser_ids": [1760000000001]},
        )
        disabled = make_account(
            world.org,
            ChannelPlatform.OCEAN_ENGINE,
            credentials={"access_token": "x"},
            api_base=served_ocean.base_url,
            settings={"advertiser_ids": [1]},
            name="停用",
        )
        disabled.is_active = False
        disabled.save()
        make_account(
            world.org,
            ChannelPlatform.MEITUAN,
            api_base=served_meituan.base_url,
            store=world.store_a,
            credentials={"developer_id": meituan.developer_id, "sign_key": meituan.sign_key, "app_auth_token": token},
        )
        douyin_leads_task.delay()
        meituan_redemptions_task.delay()
        assert Lead.objects.count() == 1
        assert MeituanRedemption.objects.count() == 1
    finally:
        served_ocean.stop()
        served_meituan.stop()
