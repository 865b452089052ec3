"""Planner throughput (issue 5): recipients planned per second vs a raw ``INSERT … SELECT``.

On the generated brand (bench/datagen.py, plus one WeCom identity per customer):

* **plan** — ``campaigns.planner.campaign_plan`` for a campaign to everyone (``{}``): audience →
  opt-outs, consent, holdout 10%, sender per customer (last-serving follower, else store primary),
  quota ledger reservation (one range read of the window, then a plain ``INSERT``), batches per
  sender — one delivery row per audience member, each planned or excluded with its reason;
* **raw insert** — the same-run baseline: ``INSERT INTO campaigns_delivery … SELECT`` of the same
  rows the plan wrote (customer, sender, batch, status, reason — copied once from the warm-up plan into
  a scratch table), no logic at all;
* **bare insert** (reported, not a target) — one row per customer with only the required columns
  (no sender, no batch), the baseline used before; it touches fewer indexes than the plan's rows;
* **raw writes** (reported, not a target) — every row the plan writes, with no logic: the delivery
  rows and the ledger slots, copied from the warm-up plan and inserted again in one transaction. It is
  the floor of any plan that keeps one delivery and one ledger slot per recipient on this machine.

Between repetitions every campaigns table is truncated. Targets: ≥ 200,000 recipients/s and the plan
within 3× of the raw statement. Writes bench/results/planner.json.

    python -m bench.planner [--customers 1000000] [--repeat 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench import common, datagen

TARGETS = {"plan_per_s": 200_000, "plan_ms_vs_raw_insert": 3.0}
IDENT_KEY = "campaigns:identities"
TRUNCATE = (
    "TRUNCATE campaigns_dispatchattempt, campaigns_quotaledger, campaigns_delivery, campaigns_batch,"
    " campaigns_campaign_exclusion_segments, campaigns_campaign RESTART IDENTITY CASCADE"
)


def ensure_identities(ds: datagen.Dataset) -> None:
    from django.db import connection

    if common.get_meta(IDENT_KEY) == ds.customers:
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO contacts_identity (organization_id, customer_id, platform, account, external_id, created_at)
            SELECT organization_id, id, 'wecom', 'bench-corp', 'wmb' || id, now()
              FROM contacts_customer WHERE organization_id = %s
            ON CONFLICT DO NOTHING
            """,
            [ds.organization_id],
        )
        cursor.execute("ANALYZE contacts_identity")
    common.set_meta(IDENT_KEY, ds.customers)
    print(f"planner: WeCom identities ready in {time.perf_counter() - started:.1f}s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    ds = datagen.generate(customers=args.customers)
    ensure_identities(ds)
    from django.db import connection, transaction
    from django.utils import timezone

    from campaigns.models import Campaign, CampaignKind
    from campaigns.planner import campaign_plan

    def truncate() -> None:
        with connection.cursor() as cursor:
            cursor.execute(TRUNCATE)

    results: dict[str, Any] = {}

    def plan() -> None:
        campaign = Campaign.objects.create(
            organization_id=ds.organization_id,
            name="bench",
            kind=CampaignKind.BROADCAST_SINGLE,
            text="bench",
            expression={},
            holdout_percent=10,
        )
        # A fixed daytime clock: the default quiet hours never defer the bench run.
        now = timezone.now().replace(hour=4, minute=0)  # 12:00 Asia/Shanghai
        result = campaign_plan(campaign_id=campaign.pk, now=now)
        results["planned"] = result.planned
        results["excluded"] = result.excluded
        results["batches"] = result.batches
        results.setdefault("timings_ms", []).append(result.timings_ms)

    def keep_rows() -> None:
        """The rows of the plan just made, for the raw baseline to write again."""
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_planner_rows")
            cursor.execute(
                """CREATE TABLE bench_planner_rows AS
                   SELECT id, customer_id, sender_id, batch_id, status, reason FROM campaigns_delivery ORDER BY id"""
            )
            cursor.execute("DROP TABLE IF EXISTS bench_planner_slots")
            cursor.execute(
                """CREATE TABLE bench_planner_slots AS
                   SELECT organization_id, kind, customer_id, window_start, slot_no, state, priority, delivery_id
                     FROM campaigns_quotaledger ORDER BY id"""
            )
            cursor.execute("ANALYZE bench_planner_rows")
            cursor.execute("ANALYZE bench_planner_slots")

    def raw_insert() -> None:
        campaign = Campaign.objects.create(
            organization_id=ds.organization_id, name="raw", kind=CampaignKind.BROADCAST_SINGLE, text="raw"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO campaigns_delivery
                       (organization_id, campaign_id, customer_id, sender_id, batch_id, status, reason)
                SELECT %s, %s, customer_id, sender_id, batch_id, status, reason FROM bench_planner_rows
                """,
                [ds.organization_id, campaign.pk],
            )

    def raw_writes() -> None:
        campaign = Campaign.objects.create(
            organization_id=ds.organization_id, name="raw writes", kind=CampaignKind.BROADCAST_SINGLE, text="raw"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO campaigns_delivery
                       (id, organization_id, campaign_id, customer_id, sender_id, batch_id, status, reason)
                SELECT id, %s, %s, customer_id, sender_id, batch_id, status, reason FROM bench_planner_rows
                """,
                [ds.organization_id, campaign.pk],
            )
            cursor.execute(
                """
                INSERT INTO campaigns_quotaledger (organization_id, kind, customer_id, window_start, slot_no, state,
                       priority, campaign_id, delivery_id, created_at)
                SELECT organization_id, kind, customer_id, window_start, slot_no, state, priority, %s, delivery_id,
                       now()
                  FROM bench_planner_slots
                """,
                [campaign.pk],
            )

    def bare_insert() -> None:
        campaign = Campaign.objects.create(
            organization_id=ds.organization_id, name="bare", kind=CampaignKind.BROADCAST_SINGLE, text="bare"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO campaigns_delivery (organization_id, campaign_id, customer_id, sender_id, status, reason)
                SELECT organization_id, %s, id, NULL, 'planned', '' FROM contacts_customer WHERE organization_id = %s
                """,
                [campaign.pk, ds.organization_id],
            )

    samples: dict[str, list[float]] = {"plan": [], "raw_insert": [], "bare_insert": [], "raw_writes": []}
    truncate()
    plan()
    keep_rows()
    for i in range(args.repeat + 1):  # the first round warms the cache and is not counted
        contenders = [
            ("plan", plan),
            ("raw_insert", raw_insert),
            ("bare_insert", bare_insert),
            ("raw_writes", raw_writes),
        ]
        for name, fn in contenders[i % 4 :] + contenders[: i % 4]:
            truncate()
            started = time.perf_counter()
            fn()
            elapsed = (time.perf_counter() - started) * 1000
            if i:
                samples[name].append(elapsed)
    truncate()
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_planner_rows, bench_planner_slots")

    plan_ms = statistics.median(samples["plan"])
    raw_ms = statistics.median(samples["raw_insert"])
    bare_ms = statistics.median(samples["bare_insert"])
    writes_ms = statistics.median(samples["raw_writes"])
    rows = ds.customers
    metrics = {
        "plan_ms_p50": round(plan_ms, 1),
        "plan_per_s": round(rows / (plan_ms / 1000)),
        "planned_recipients": results.get("planned"),
        "batches": results.get("batches"),
        "repeat": args.repeat,
    }
    baseline = {
        "raw_insert_ms_p50": round(raw_ms, 1),
        "raw_insert_per_s": round(rows / (raw_ms / 1000)),
        "bare_insert_ms_p50": round(bare_ms, 1),
        "bare_insert_per_s": round(rows / (bare_ms / 1000)),
        "raw_writes_ms_p50": round(writes_ms, 1),
        "raw_writes_per_s": round(rows / (writes_ms / 1000)),
    }
    ratios = {
        "plan_ms_vs_raw_insert": common.ratio(plan_ms, raw_ms),
        "plan_ms_vs_bare_insert": common.ratio(plan_ms, bare_ms),
        "plan_ms_vs_raw_writes": common.ratio(plan_ms, writes_ms),
    }
    path = common.write_result(
        name="planner",
        scale={"customers": rows},
        metrics=metrics,
        baseline=baseline,
        ratios=ratios,
        targets=TARGETS,
        details={"excluded": results.get("excluded"), "samples_ms": samples, "phases_ms": results.get("timings_ms")},
        path=args.json,
    )
    print(f"\nplanner at {rows:,} customers ({args.repeat} runs each, p50)")
    print(f"  plan        {plan_ms:9.0f} ms   {metrics['plan_per_s']:>10,} recipients/s")
    print(f"  raw insert  {raw_ms:9.0f} ms   {baseline['raw_insert_per_s']:>10,} rows/s (the plan's rows)")
    print(f"  bare insert {bare_ms:9.0f} ms   {baseline['bare_insert_per_s']:>10,} rows/s (customer ids only)")
    print(
        f"  raw writes  {writes_ms:9.0f} ms   {baseline['raw_writes_per_s']:>10,} recipients/s "
        "(the plan's deliveries + ledger slots, no logic)"
    )
    print(f"  plan / raw  {ratios['plan_ms_vs_raw_insert']:9.2f}×   (target ≤ {TARGETS['plan_ms_vs_raw_insert']}×)")
    print(f"  plan / bare {ratios['plan_ms_vs_bare_insert']:9.2f}×")
    print(f"  phases (ms) {results.get('timings_ms', [{}])[-1]}")
    print(f"  planned {results.get('planned'):,}, excluded {results.get('excluded')}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
