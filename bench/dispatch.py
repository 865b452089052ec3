"""Dispatch throughput (issue 5): group-send tasks created per second against the WeCom sandbox, as a
share of the API rate the sandbox allows, and quota violations (must be zero).

A brand of ``--staff`` members with ``--per-staff`` customers each is loaded into the scratch
database and seeded into an in-process WeCom fake whose ``add_msg_template`` allows ``--rate`` calls
per minute (and 5 concurrent). Our account is configured with the same limit, so the channels token
bucket paces the calls. One campaign to everyone is planned and its batches are dispatched by
``--workers`` threads running ``campaigns.dispatcher.batch_dispatch`` (what Celery workers run).
Then every member confirms, a second campaign to the same audience is planned and dispatched the
same day, and every recipient is checked against the receive cap on the sandbox side.

* **throughput** — tasks created per second after the first call (the bucket lets the first one
  through immediately), against the allowed rate → ``dispatch_share_of_allowed`` (target ≥ 0.9);
* **quota violations** — recipients in more than one group-send task in the day (target 0), and the
  number of 45009 answers (calls that did not create a task).

    python -m bench.dispatch [--staff 40] [--per-staff 50] [--rate 120] [--workers 4] [--json PATH]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from datetime import time as dtime
from typing import Any

from bench import common

API = "externalcontact/add_msg_template"
CORP = "wwbenchdispatch01"
TARGETS = {"dispatch_share_of_allowed": 0.9, "quota_violations": 0}


def _load_brand(staff_n: int, per_staff: int, fake: Any, base_url: str, rate: int) -> tuple[Any, list[Any]]:
    from campaigns.models import QuotaPolicy
    from channels.services import channel_account_connect
    from contacts.models import Customer, Follow, Identity, Organization, Staff

    Organization.objects.filter(slug="bench-dispatch").delete()
    org = Organization.objects.create(name="派发压测", slug="bench-dispatch")
    QuotaPolicy.objects.create(organization=org, quiet_start=dtime(0), quiet_end=dtime(0))
    channel_account_connect(
        organization=org,
        platform="wecom",
        name="压测沙箱",
        external_id=CORP,
        credentials={"secret": "s", "token": "t", "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"},
        api_base=base_url,
        rate_limits={API: {"per_minute": rate, "concurrency": 5}},
    )
    staff = Staff.objects.bulk_create(
        [Staff(organization=org, name=f"导购{i}", wecom_userid=f"bench_u{i}") for i in range(staff_n)]
    )
    customers = Customer.objects.bulk_create(
        [Customer(organization=org, name=f"客户{i}", marketing_consent=True) for i in range(staff_n * per_staff)]
    )
    Identity.objects.bulk_create(
        [
            Identity(organization=org, customer=c, platform="wecom", account=CORP, external_id=f"wmbd{c.pk}")
            for c in customers
        ]
    )
    Follow.objects.bulk_create(
        [Follow(organization=org, customer=c, staff=staff[i % staff_n]) for i, c in enumerate(customers)]
    )
    for s in staff:
        fake.add_member(s.wecom_userid, s.name, corp_id=CORP)
    for i, c in enumerate(customers):
        fake.seed_customer(staff[i % staff_n].wecom_userid, external_userid=f"wmbd{c.pk}", corp_id=CORP)
    return org, staff


def _dispatch_all(batch_ids: list[int], workers: int) -> None:
    from django.db import connection

    from campaigns import dispatcher

    todo = list(batch_ids)
    lock = threading.Lock()

    def run() -> None:
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    batch_id = todo.pop(0)
                outcome = dispatcher.batch_dispatch(batch_id=batch_id, requeue=False)
                if outcome in ("rate_limited", "not_yet", "busy", "unknown"):
                    from campaigns.models import Batch

                    Batch.objects.filter(pk=batch_id, status="pending").update(not_before=None)
                    time.sleep(0.05)
                    with lock:
                        todo.append(batch_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=40)
    parser.add_argument("--per-staff", type=int, default=50)
    parser.add_argument("--rate", type=int, default=120, help="allowed add_msg_template calls per minute")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    common.setup_django()
    from campaigns.models import Batch, Campaign, CampaignKind, CampaignStatus
    from campaigns.planner import campaign_plan
    from channels.ratelimit import redis_client
    from channels.sandbox.server import serve
    from channels.sandbox.wecom import WeComFake

    for pattern in ("scrm:wecom:token:*", "scrm:rl:wecom:*", "scrm:cc:wecom:*"):
        keys = list(redis_client().scan_iter(pattern, count=1000))
        if keys:
            redis_client().delete(*keys)
    fake = WeComFake()
    running = serve(fake)
    fake.base_url = running.base_url
    fake.add_corp(CORP, "s", token="t", aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")  # noqa: S106 - fake
    fake.set_limits(API, per_minute=args.rate, concurrency=5)
    org, _staff = _load_brand(args.staff, args.per_staff, fake, running.base_url, args.rate)

    def campaign() -> Campaign:
        c = Campaign.objects.create(
            organization=org, name="压测群发", kind=CampaignKind.BROADCAST_SINGLE, text="压测", expression={}
        )
        campaign_plan(campaign_id=c.pk)
        Campaign.objects.filter(pk=c.pk).update(status=CampaignStatus.SENDING)
        return c

    first = campaign()
    batch_ids = list(Batch.objects.filter(campaign=first).values_list("pk", flat=True))
    started = time.perf_counter()
    _dispatch_all(batch_ids, args.workers)
    elapsed = time.perf_counter() - started
    corp = fake.corp(CORP)
    created = len(corp.group_sends)
    for msg in list(corp.group_sends.values()):
        for userid in list(msg.tasks):
            fake.confirm(userid, msg.msgid, corp_id=CORP)
    second = campaign()  # same audience, same platform day: the ledger must refuse every recipient
    second_batches = list(Batch.objects.filter(campaign=second).values_list("pk", flat=True))
    _dispatch_all(second_batches, args.workers)

    tasks_per_recipient = Counter(
        rid for msg in corp.group_sends.values() for task in msg.tasks.values() for rid in task["recipients"]
    )
    violations = sum(1 for n in tasks_per_recipient.values() if n > 1)
    capped = sum(
        1
        for msg in corp.group_sends.values()
        for task in msg.tasks.values()
        for row in task["recipients"].values()
        if row["status"] == 3
    )
    rejected = sum(1 for api, _ in list(fake.calls) if api == API) - len(corp.group_sends)
    allowed_per_s = args.rate / 60
    achieved_per_s = (created - 1) / elapsed if elapsed and created > 1 else 0.0
    share = achieved_per_s / allowed_per_s
    running.stop()
    metrics = {
        "dispatch_per_s": round(achieved_per_s, 3),
        "dispatch_share_of_allowed": round(share, 3),
        "tasks_created": created,
        "recipients": sum(tasks_per_recipient.values()),
        "quota_violations": violations,
        "status3_on_sandbox": capped,
        "rate_limited_answers_45009": rejected,
        "second_campaign_batches": len(second_batches),
        "elapsed_s": round(elapsed, 2),
    }
    path = common.write_result(
        name="dispatch",
        scale={"staff": args.staff, "customers": args.staff * args.per_staff, "workers": args.workers},
        metrics=metrics,
        baseline={"allowed_per_s": round(allowed_per_s, 3)},
        ratios={"dispatch_share_of_allowed": round(share, 3)},
        targets=TARGETS,
        ok=share >= TARGETS["dispatch_share_of_allowed"] and violations == 0,
        path=args.json,
    )
    print(f"\ndispatch: {created} tasks ({metrics['recipients']:,} recipients) by {args.workers} workers")
    print(f"  achieved   {achieved_per_s:7.3f} tasks/s")
    print(f"  allowed    {allowed_per_s:7.3f} tasks/s  → share {share:.1%} (target ≥ 90%)")
    print(f"  45009s {rejected}; quota violations {violations}; second campaign batches {len(second_batches)}")
    print(f"  wrote {path}")
    org.delete()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
