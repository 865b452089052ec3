"""End to end: sandbox → encrypted callback → live webhook → real Celery worker → contacts services."""

from __future__ import annotations

import time
from datetime import timedelta

import psutil
import pytest

from channels.inbox import inbox_replay, inbox_sweep
from channels.models import ContactWay, InboxEvent, InboxStatus
from channels.wecom.contact_ways import contact_way_save
from contacts.models import Customer, Follow, TimelineEvent
from tests.conftest import start_worker
from tests.factories import StaffFactory, TagFactory

pytestmark = pytest.mark.slow


@pytest.fixture
def live_account(transactional_db, live_server, wecom_sandbox, world):
    wecom_sandbox.add_member("guide_a", "导购A")
    return wecom_sandbox.connect(world.org, callback_base=live_server.url)


def test_a_customer_added_through_a_channel_qr_code_ends_tagged_followed_welcomed(
    live_account, wecom_sandbox, world, celery_worker
):
    guide = StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_a", name="导购A")
    vip, skin = (
        TagFactory(group__organization=world.org, name="门店扫码"),
        TagFactory(group__organization=world.org, name="护肤"),
    )
    way = contact_way_save(
        account=live_account, name="A店收银台", state="store_a_desk", channel="meituan", store=world.store_a,
        staff=[guide], tags=[vip, skin], welcome_text="欢迎来到A店，回复1领取新人礼",
    )  # fmt: skip
    assert way.config_id and way.qr_code and not way.sync_error

    scanned = wecom_sandbox.scan(state="store_a_desk", name="扫码顾客", unionid="union-1")
    assert scanned["userid"] == "guide_a"

    customer = celery_worker.wait_for(lambda: Customer.objects.filter(name="扫码顾客").first(), timeout=30)
    celery_worker.wait_for(lambda: InboxEvent.objects.filter(status=InboxStatus.DONE).exists(), timeout=30)
    customer.refresh_from_db()
    assert set(customer.tag_ids) == {vip.pk, skin.pk}
    assert customer.home_store_id == world.store_a.pk
    assert customer.source_channel == "meituan" and customer.unionid == "union-1"
    assert customer.first_touch["state"] == "store_a_desk" and customer.first_touch["contact_way_id"] == way.pk
    follow = Follow.objects.get(customer=customer)
    assert follow.staff_id == guide.pk and follow.state == "store_a_desk" and follow.deleted_at is None
    welcomes = wecom_sandbox.welcomes()
    assert [(w["external_userid"], w["text"]) for w in welcomes] == [
        (scanned["external_userid"], "欢迎来到A店，回复1领取新人礼")
    ]
    kinds = set(TimelineEvent.objects.filter(customer=customer).values_list("kind", flat=True))
    assert {"added", "welcomed", "tagged"} <= kinds
    assert InboxEvent.objects.get().error == "welcome sent"


# Fast heartbeat for the real-process tests: beat every second, stale after 3 s (production: 10 s / 45 s).
FAST_HEARTBEAT = {"INBOX_HEARTBEAT_SECONDS": "1", "INBOX_STALE_SECONDS": "3"}


def _kill_tree(worker) -> None:
    parent = psutil.Process(worker.process.pid)
    for child in parent.children(recursive=True):
        child.kill()
    worker.stop(kill=True)


def test_a_worker_killed_mid_event_is_recovered_by_the_heartbeat_sweep(
    live_account, wecom_sandbox, world, tmp_path, settings
):
    settings.INBOX_STALE_SECONDS = 3
    worker = start_worker(tmp_path, queues="inbox", extra_env=FAST_HEARTBEAT)
    try:
        wecom_sandbox.set_options(slow_apis={"externalcontact/get": 30})
        ext = wecom_sandbox.scan(userid="guide_a", name="半路顾客")["external_userid"]
        event = worker.wait_for(lambda: InboxEvent.objects.filter(status=InboxStatus.PROCESSING).first(), timeout=30)
        # A live worker keeps its claim: the heartbeat moves on and the sweep leaves the event alone.
        worker.wait_for(
            lambda: InboxEvent.objects.filter(pk=event.pk, heartbeat_at__gt=event.started_at + timedelta(seconds=2))
            .exists(),
            timeout=10,
        )
        assert inbox_sweep() == 0 and not inbox_replay(event=event)
        # SIGKILL the whole worker (pool children first) while it waits on WeCom.
        _kill_tree(worker)
    finally:
        worker.stop(kill=True)
    event.refresh_from_db()
    assert event.status == InboxStatus.PROCESSING and event.attempts == 1
    assert not Customer.objects.exists()
    wecom_sandbox.set_options(slow_apis={})
    worker = start_worker(tmp_path, queues="inbox", extra_env=FAST_HEARTBEAT)
    ready_at = time.monotonic()  # a worker's start-up time is the machine's, not the recovery's
    try:

        def recovered() -> bool:
            inbox_sweep()  # what beat does every 15 s
            return InboxEvent.objects.filter(pk=event.pk, status=InboxStatus.DONE).exists()

        worker.wait_for(recovered, timeout=30, interval=0.5)
    finally:
        worker.stop()
    # Recovered once the heartbeat went stale (3 s here), not after a fixed 5 minutes.
    assert time.monotonic() - ready_at < 20
    event.refresh_from_db()
    assert event.attempts == 2
    customer = Customer.objects.get()
    assert customer.identities.get().external_id == ext
    assert Follow.objects.filter(customer=customer).count() == 1


def test_events_are_acknowledged_and_kept_while_no_worker_runs(live_account, wecom_sandbox):
    wecom_sandbox.scan(userid="guide_a", name="无人处理")
    assert wecom_sandbox.wait_idle()
    delivery = wecom_sandbox.fake.corp(wecom_sandbox.corp_id).deliveries[-1]
    assert delivery["status"] == 200
    assert InboxEvent.objects.get().status == InboxStatus.PENDING
    assert ContactWay.objects.count() == 0
