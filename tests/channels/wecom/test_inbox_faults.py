"""Faults during inbound processing: Redis restarted (every queued message lost), Postgres
connections cut mid-event. Callbacks go sandbox → live webhook → inbox → a real worker; afterwards
every event is done and each had its effect exactly once."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

import pytest

from channels import inbox
from channels.inbox import inbox_sweep
from channels.models import InboxEvent, InboxStatus
from contacts.models import Customer, Follow, TimelineEvent
from tests.conftest import start_worker
from tests.fault_fixtures import private_redis, terminate_backends, until  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)

FAST = {"INBOX_HEARTBEAT_SECONDS": "1", "INBOX_STALE_SECONDS": "3"}


@pytest.fixture
def live_account(transactional_db, live_server, wecom_sandbox, world, settings, monkeypatch):
    settings.INBOX_STALE_SECONDS = 3
    monkeypatch.setattr(inbox, "PENDING_GRACE", timedelta(seconds=2))
    wecom_sandbox.add_member("guide_a", "导购A")
    return wecom_sandbox.connect(world.org, callback_base=live_server.url)


def sweep() -> None:
    """Beat's sweep. While the broker is down it raises; beat would just try again next tick."""
    try:
        inbox_sweep()
    except Exception as exc:
        log.info("sweep could not enqueue yet: %s", type(exc).__name__)


def unfinished() -> list[tuple]:
    return list(
        InboxEvent.objects.exclude(status=InboxStatus.DONE).values_list(
            "pk", "status", "attempts", "heartbeat_at", "received_at", "error"
        )
    )


def scan(sandbox, names: list[str]) -> list[str]:
    return [sandbox.scan(userid="guide_a", name=n)["external_userid"] for n in names]


def assert_each_processed_once(exts: list[str]) -> None:
    events = InboxEvent.objects.all()
    assert events.count() == len(exts)
    assert set(events.values_list("status", flat=True)) == {InboxStatus.DONE}
    customers = Customer.objects.filter(identities__external_id__in=exts)
    assert customers.count() == len(exts) == Customer.objects.count()
    assert Follow.objects.filter(customer__in=customers).count() == len(exts)
    # one "added" entry per customer: no event's effect was applied twice
    added = list(TimelineEvent.objects.filter(kind="added").values_list("customer_id", flat=True))
    assert sorted(added) == sorted(customers.values_list("pk", flat=True))


def test_redis_restarted_during_inbound_processing(live_account, wecom_sandbox, private_redis, tmp_path):  # noqa: F811
    wecom_sandbox.set_options(slow_apis={"externalcontact/get": 0.4})
    worker = start_worker(tmp_path, queues="inbox", concurrency=2, extra_env={**FAST, **private_redis.env})
    try:
        exts = scan(wecom_sandbox, [f"顾客{i}" for i in range(8)])
        assert wecom_sandbox.wait_idle(30)
        until(lambda: InboxEvent.objects.filter(status=InboxStatus.PROCESSING).exists(), timeout=20, worker=worker)
        assert private_redis.queued() > 0  # messages waiting in the broker …

        def while_down() -> None:  # … lost with the restart; callbacks keep arriving meanwhile
            exts.extend(scan(wecom_sandbox, [f"停机顾客{i}" for i in range(3)]))
            assert wecom_sandbox.wait_idle(30)

        private_redis.restart(down_for=1.0, during=while_down)
        assert private_redis.queued_at_restart == 0  # everything queued was lost
        deliveries = wecom_sandbox.fake.corp(wecom_sandbox.corp_id).deliveries
        assert all(d["status"] == 200 for d in deliveries)  # the webhook answered even with Redis down
        until(
            lambda: not InboxEvent.objects.exclude(status=InboxStatus.DONE).exists(),
            timeout=45,
            tick=sweep,
            worker=worker,
            describe=unfinished,
        )
    finally:
        worker.stop()
    assert private_redis.restarts == 1
    assert_each_processed_once(exts)


def test_postgres_connections_cut_during_inbound_processing(live_account, wecom_sandbox, private_redis, tmp_path):  # noqa: F811
    wecom_sandbox.set_options(slow_apis={"externalcontact/get": 0.6})
    worker = start_worker(tmp_path, queues="inbox", concurrency=2, extra_env={**FAST, **private_redis.env})
    try:
        exts = scan(wecom_sandbox, [f"顾客{i}" for i in range(8)])
        assert wecom_sandbox.wait_idle(30)
        until(lambda: InboxEvent.objects.filter(status=InboxStatus.PROCESSING).exists(), timeout=20, worker=worker)
        cut = terminate_backends()  # the worker's connections (and its heartbeat threads') mid-event
        assert cut >= 1
        until(lambda: InboxEvent.objects.filter(status=InboxStatus.DONE).count() >= 2, timeout=30, worker=worker)
        assert terminate_backends() >= 1  # and once more, later in the run
        until(
            lambda: not InboxEvent.objects.exclude(status=InboxStatus.DONE).exists(),
            timeout=45,
            tick=sweep,
            worker=worker,
            describe=unfinished,
        )
    finally:
        worker.stop()
    with contextlib.suppress(Exception):
        log.info("worker log tail: %s", worker.log_path.read_text()[-500:])
    assert_each_processed_once(exts)
    assert InboxEvent.objects.filter(attempts__gt=1).exists()  # something really was interrupted
