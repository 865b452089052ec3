"""Faults during a dispatch: Redis restarted (every queued batch message lost) and Postgres
connections cut while WeCom calls are in flight. A real worker sends to the WeCom sandbox, which
records every group-send task; afterwards each planned recipient is in exactly one task."""

from __future__ import annotations

import contextlib
import logging
from datetime import time as dtime

import pytest

from campaigns import dispatcher
from campaigns.models import (
    AttemptOutcome,
    Batch,
    BatchStatus,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    DispatchAttempt,
)
from campaigns.services import campaign_start
from tests.campaigns.conftest import sandbox_brand
from tests.campaigns.factories import campaign, policy
from tests.campaigns.test_dispatch_processes import add_calls, task_recipients
from tests.conftest import start_worker
from tests.fault_fixtures import private_redis, terminate_backends, until  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)

API = "externalcontact/add_msg_template"
RECONCILE_FAST = {"CAMPAIGNS_RECONCILE_AFTER_SECONDS": "4"}  # production: 25 s (> the call timeout)


def tick() -> None:
    """What beat does every 30 s (here every half second); with the broker down it raises and beat tries later."""
    try:
        dispatcher.dispatch_tick()
    except Exception as exc:
        log.info("tick could not enqueue yet: %s", type(exc).__name__)


def settled(c) -> bool:
    return not Batch.objects.filter(campaign=c, status__in=[BatchStatus.PENDING, BatchStatus.ATTEMPTING]).exists()


def batches(c) -> list[tuple]:
    return list(Batch.objects.filter(campaign=c).values_list("pk", "status", "attempts", "last_error"))


def assert_each_planned_message_sent_once(c, brand) -> None:
    planned = sorted(
        brand.ext(d.customer)
        for d in Delivery.objects.filter(campaign=c).exclude(status=DeliveryStatus.EXCLUDED).select_related("customer")
    )
    assert len(planned) == len(brand.customers)
    assert sorted(task_recipients(brand.sandbox)) == planned  # each planned recipient in exactly one task
    assert len(brand.sandbox.group_sends()) == Batch.objects.filter(campaign=c).count()
    assert set(Batch.objects.filter(campaign=c).values_list("status", flat=True)) == {BatchStatus.CREATED}


@pytest.fixture
def sending(transactional_db, world, wecom_sandbox):
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=16, n_staff=8)
    policy(world.org, quiet_start=dtime(0), quiet_end=dtime(0))
    return brand, campaign(world.org, status=CampaignStatus.SCHEDULED)


def test_redis_restarted_during_a_dispatch(sending, wecom_sandbox, private_redis, tmp_path):  # noqa: F811
    brand, c = sending
    wecom_sandbox.fake.slow_apis[API] = 1.0
    worker = start_worker(tmp_path, queues="dispatch", concurrency=2, extra_env={**RECONCILE_FAST, **private_redis.env})
    try:
        campaign_start(campaign=c)
        until(lambda: add_calls(wecom_sandbox) >= 2, timeout=30, worker=worker)
        assert private_redis.queued() > 0  # batches still waiting in the broker …
        private_redis.restart(down_for=1.5)  # … are lost, and the worker's pacing buckets with them
        assert private_redis.queued_at_restart == 0  # everything queued was lost
        until(lambda: settled(c), timeout=50, tick=tick, worker=worker, describe=lambda: batches(c))
    finally:
        worker.stop()
    assert_each_planned_message_sent_once(c, brand)


def test_postgres_connections_cut_during_a_dispatch(sending, wecom_sandbox, private_redis, tmp_path):  # noqa: F811
    brand, c = sending
    wecom_sandbox.fake.slow_apis[API] = 1.5  # WeCom holds each create: the cut lands while calls are in flight
    worker = start_worker(tmp_path, queues="dispatch", concurrency=2, extra_env={**RECONCILE_FAST, **private_redis.env})
    try:
        campaign_start(campaign=c)
        until(lambda: add_calls(wecom_sandbox) >= 2, timeout=30, interval=0.05, worker=worker)
        # The workers' sessions die — and with them the advisory locks, while their calls are still
        # waiting on WeCom; the other worker process must not take those batches for lost and send again.
        assert terminate_backends() >= 1
        until(lambda: add_calls(wecom_sandbox) >= 6, timeout=30, tick=tick, worker=worker)
        assert terminate_backends() >= 1
        until(lambda: settled(c), timeout=50, tick=tick, worker=worker, describe=lambda: batches(c))
    finally:
        worker.stop()
    with contextlib.suppress(Exception):
        log.info("worker log tail: %s", worker.log_path.read_text()[-500:])
    assert_each_planned_message_sent_once(c, brand)
    # The cut calls had reached WeCom: they were found there and adopted rather than sent again.
    assert DispatchAttempt.objects.filter(batch__campaign=c, outcome=AttemptOutcome.RECONCILED).exists()
