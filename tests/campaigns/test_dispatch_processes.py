"""Done-when tests against the WeCom sandbox: pacing under tiny limits, and a SIGKILLed worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import time as dtime

import pytest
from django.db import connection

from campaigns import dispatcher
from campaigns.models import (
    AttemptOutcome,
    Batch,
    BatchStatus,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    DispatchAttempt,
)
from campaigns.services import campaign_start
from tests.campaigns.conftest import sandbox_brand
from tests.campaigns.factories import campaign, policy
from tests.conftest import start_worker

API = "externalcontact/add_msg_template"


def task_recipients(sandbox) -> list[str]:
    return [rid for msg in sandbox.group_sends().values() for task in msg.tasks.values() for rid in task["recipients"]]


def add_calls(sandbox) -> int:
    return sum(1 for api, _ in list(sandbox.fake.calls) if api == API)


def run_in_threads(batch_ids: list[int], workers: int = 3) -> None:
    """Dispatch batches from several threads (own DB connections), re-running rate-limited ones."""
    todo = list(batch_ids)
    lock = threading.Lock()

    def worker() -> None:
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    batch_id = todo.pop(0)
                outcome = dispatcher.batch_dispatch(batch_id=batch_id)
                if outcome in ("rate_limited", "not_yet", "busy"):
                    time.sleep(0.2)
                    with lock:
                        todo.append(batch_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)


def test_tiny_rate_limits_are_respected_without_a_storm_of_45009(transactional_db, world, wecom_sandbox, monkeypatch):
    monkeypatch.setattr(dispatcher, "_enqueue", lambda ids, countdown=None: None)
    wecom_sandbox.set_limits(API, per_minute=60, concurrency=1)  # tiny: one call at a time, 1/s
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=12, n_staff=6)
    brand.account.rate_limits = {API: {"per_minute": 50, "concurrency": 1}}
    brand.account.save(update_fields=["rate_limits"])
    policy(world.org, quiet_start=dtime(0), quiet_end=dtime(0))
    c = campaign(world.org, status=CampaignStatus.SCHEDULED)
    campaign_start(campaign=c)
    batches = list(Batch.objects.filter(campaign=c).values_list("pk", flat=True))
    assert len(batches) == 6
    started = time.monotonic()
    run_in_threads(batches, workers=3)
    elapsed = time.monotonic() - started
    assert set(Batch.objects.filter(campaign=c).values_list("status", flat=True)) == {BatchStatus.CREATED}
    assert sorted(task_recipients(wecom_sandbox)) == sorted(brand.ext(x) for x in brand.customers)
    assert add_calls(wecom_sandbox) == 6  # every call succeeded: no 45009/45033 at all
    assert elapsed >= 5 * 1.2 * 0.8  # paced at ~1 call per 1.2 s


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


@pytest.mark.slow
def test_a_worker_killed_mid_dispatch_never_sends_twice(transactional_db, world, wecom_sandbox, tmp_path):
    wecom_sandbox.fake.slow_apis[API] = 1.5  # hold every create mid-call; WeCom still creates it
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=16, n_staff=8)
    policy(world.org, quiet_start=dtime(0), quiet_end=dtime(0))
    c = campaign(world.org, status=CampaignStatus.SCHEDULED)
    worker = start_worker(tmp_path, queues="dispatch", concurrency=2)
    try:
        campaign_start(campaign=c)
        worker.wait_for(lambda: add_calls(wecom_sandbox) >= 2, timeout=60)
        for pid in [*_children(worker.process.pid), worker.process.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.process.wait(10)
    finally:
        worker.stop(kill=True)
    time.sleep(2)  # the fake finishes the creates it was holding
    assert Batch.objects.filter(campaign=c, status=BatchStatus.ATTEMPTING).exists()
    # Reconcile 4 s after the killed attempts began (production: 25 s, longer than the call timeout).
    restarted = start_worker(
        tmp_path, queues="dispatch", concurrency=2, extra_env={"CAMPAIGNS_RECONCILE_AFTER_SECONDS": "4"}
    )
    try:
        wecom_sandbox.fake.slow_apis[API] = 0.0

        def settled() -> bool:
            dispatcher.dispatch_tick()  # what beat does every 30 s
            return not Batch.objects.filter(
                campaign=c, status__in=[BatchStatus.PENDING, BatchStatus.ATTEMPTING]
            ).exists()

        restarted.wait_for(settled, timeout=90, interval=1.0)
    finally:
        restarted.stop()
    planned = sorted(
        brand.ext(d.customer)
        for d in Delivery.objects.filter(campaign=c).exclude(status=DeliveryStatus.EXCLUDED).select_related("customer")
    )
    assert len(planned) == 16
    assert sorted(task_recipients(wecom_sandbox)) == planned  # each planned recipient in exactly one task
    assert not Batch.objects.filter(campaign=c, status=BatchStatus.NEEDS_OPERATOR).exists()
    # The killed calls were found on WeCom's side and adopted rather than sent again.
    assert DispatchAttempt.objects.filter(batch__campaign=c, outcome=AttemptOutcome.RECONCILED).exists()
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.SENDING
