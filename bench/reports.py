"""Reports benchmark (issue 6): each report's latency over the rollups, the incremental cost of
recording one order, and the full rebuild time — each next to a same-run baseline.

* report latency (p50/p95 per report, all stores and one store) vs. one raw aggregate query over
  the same orders (GMV per day × store for the overview's 90 days, straight from ``analytics_order``);
* incremental update per order (``order_record``: insert + daily cell upsert + per-customer
  recompute) vs. a bare ``INSERT`` of the same order row;
* full rebuild (``analytics_rebuild``) vs. one raw aggregate over all the orders (the GROUP BY the
  rebuild's daily part performs, without writing anything).

    python -m bench.reports --customers 100000 --orders 1000000 [--repeat 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from decimal import Decimal
from typing import Any

from bench import common, datagen_orders

TARGETS = {"report_p95_ms": 1000, "incremental_p50_ms": 50}
RAW_OVERVIEW = """
    SELECT (paid_at AT TIME ZONE 'Asia/Shanghai')::date, store_id, COUNT(*), SUM(amount - refunded_amount)
      FROM analytics_order
     WHERE organization_id = %s AND paid_at >= %s AND paid_at < %s
  GROUP BY 1, 2
"""
RAW_ALL = """
    SELECT (paid_at AT TIME ZONE 'Asia/Shanghai')::date, store_id, channel, staff_id, COUNT(*), SUM(amount),
           SUM(refunded_amount)
      FROM analytics_order WHERE organization_id = %s
  GROUP BY 1, 2, 3, 4
"""


def _fetch(sql: str, params: list[Any]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.fetchall()


def run(*, customers: int, orders: int, repeat: int, json_path: str | None) -> dict[str, Any]:
    ds, n_orders = datagen_orders.generate(customers=customers, orders=orders)
    from django.db import connection, transaction
    from django.utils import timezone

    from analytics import reports, services
    from analytics.models import Order
    from contacts.models import Customer, Organization

    org = Organization.objects.get(pk=ds.organization_id)

    # 1. Full rebuild vs. one raw aggregate over the same orders.
    started = time.perf_counter()
    services.analytics_rebuild(organization_id=org.pk)
    rebuild_ms = (time.perf_counter() - started) * 1000
    raw_all = common.summarize(common.measure(lambda: _fetch(RAW_ALL, [org.pk]), repeat=3, warmup=1))
    with connection.cursor() as cursor:
        # What autovacuum would do after a rebuild rewrote these (the rebuild updates every customer).
        cursor.execute(
            "VACUUM (ANALYZE) analytics_dailyrollup, analytics_buyerfact, analytics_customermonth, "
            "analytics_acquisitionmonth, analytics_acquisitionstaffmonth, analytics_repurchaseday, "
            "analytics_cohortmonth, analytics_rfmcell, contacts_customer"
        )

    # 2. Report latency (all stores, and the largest store), next to a raw aggregate.
    today = timezone.localdate()
    windows = {"overview": 90, "ltv": 365, "repurchase": 365, "cohorts": 365, "rfm": 365, "funnel": 180, "staff": 30}
    contenders = {}
    for name, days in windows.items():
        for label, stores in (("all", None), ("store", frozenset({ds.store_ids[0]}))):
            f = reports.ReportFilter(
                organization_id=org.pk,
                start=today - dt.timedelta(days=days - 1),
                end=today,
                store_ids=stores,
                today=today,
            )
            contenders[f"{name}:{label}"] = lambda fn=reports.REPORTS[name], f=f: fn(f)
    lo = timezone.now() - dt.timedelta(days=90)
    contenders["raw_overview_aggregate"] = lambda: _fetch(RAW_OVERVIEW, [org.pk, lo, timezone.now()])
    samples = common.measure_interleaved(contenders, repeat=repeat, warmup=1)
    stats = {k: common.summarize(v) for k, v in samples.items()}
    report_samples = [x for k, v in samples.items() if k != "raw_overview_aggregate" for x in v]
    pooled = common.summarize(report_samples)

    # 3. Incremental cost per order vs. a bare insert of the same row (rolled back: no data change).
    rng = random.Random(5)
    ids = list(Customer.objects.filter(organization=org).values_list("pk", flat=True)[: min(customers, 50_000)])
    picks = [Customer.objects.select_related("home_store").get(pk=rng.choice(ids)) for _ in range(60)]
    inc, bare = [], []

    class _Rollback(Exception):
        pass

    for i, c in enumerate(picks):
        paid = timezone.now() - dt.timedelta(days=rng.randint(0, 300))
        for kind in ("inc", "bare") if i % 2 else ("bare", "inc"):
            try:
                with transaction.atomic():
                    start = time.perf_counter()
                    if kind == "inc":
                        services.order_record(
                            organization=org,
                            customer=c,
                            store=c.home_store,
                            amount=Decimal("199.00"),
                            paid_at=paid,
                            source="api",
                            external_ref=f"bench-{i}",
                        )
                        inc.append((time.perf_counter() - start) * 1000)
                    else:
                        Order.objects.create(
                            organization=org,
                            customer=c,
                            store=c.home_store,
                            amount=Decimal("199.00"),
                            paid_at=paid,
                            source="api",
                            external_ref=f"bench-{i}",
                            channel=c.source_channel,
                        )
                        bare.append((time.perf_counter() - start) * 1000)
                    raise _Rollback
            except _Rollback:
                pass
    inc_stats, bare_stats = common.summarize(inc[5:]), common.summarize(bare[5:])

    metrics = {
        "report_p50_ms": pooled["p50_ms"],
        "report_p95_ms": pooled["p95_ms"],
        "worst_report_p95_ms": max(s["p95_ms"] for k, s in stats.items() if k != "raw_overview_aggregate"),
        "incremental_p50_ms": inc_stats["p50_ms"],
        "incremental_p95_ms": inc_stats["p95_ms"],
        "rebuild_ms": round(rebuild_ms, 1),
        "repetitions": repeat,
    }
    baseline = {
        "raw_overview_aggregate_p50_ms": stats["raw_overview_aggregate"]["p50_ms"],
        "bare_insert_p50_ms": bare_stats["p50_ms"],
        "raw_full_aggregate_ms": raw_all["p50_ms"],
    }
    ratios = {
        "overview_p50_vs_raw_aggregate": common.ratio(
            stats["overview:all"]["p50_ms"], baseline["raw_overview_aggregate_p50_ms"]
        ),
        "incremental_p50_vs_bare_insert": common.ratio(inc_stats["p50_ms"], bare_stats["p50_ms"]),
        "rebuild_vs_raw_full_aggregate": common.ratio(rebuild_ms, raw_all["p50_ms"]),
    }
    ok = (
        metrics["worst_report_p95_ms"] <= TARGETS["report_p95_ms"]
        and metrics["incremental_p50_ms"] <= TARGETS["incremental_p50_ms"]
    )
    path = common.write_result(
        name="reports",
        scale={"customers": ds.customers, "orders": n_orders},
        metrics=metrics,
        baseline=baseline,
        ratios=ratios,
        targets={**TARGETS, "worst_report_p95_ms": TARGETS["report_p95_ms"]},
        ok=ok,
        details=stats,
        path=json_path,
    )
    print(f"\nreports @ {ds.customers:,} customers / {n_orders:,} orders, {repeat} repetitions (ms)\n")
    common.print_table([[k, s["p50_ms"], s["p95_ms"]] for k, s in stats.items()], ["report:stores", "p50", "p95"])
    print()
    common.print_table(
        [
            [
                "incremental order_record",
                inc_stats["p50_ms"],
                "bare INSERT",
                bare_stats["p50_ms"],
                ratios["incremental_p50_vs_bare_insert"],
            ],
            [
                "full rebuild",
                round(rebuild_ms, 1),
                "raw aggregate over all orders",
                raw_all["p50_ms"],
                ratios["rebuild_vs_raw_full_aggregate"],
            ],
            [
                "overview (all stores) p50",
                stats["overview:all"]["p50_ms"],
                "raw 90-day aggregate",
                stats["raw_overview_aggregate"]["p50_ms"],
                ratios["overview_p50_vs_raw_aggregate"],
            ],
        ],
        ["figure", "ms", "baseline", "ms", "ratio"],
    )
    print(
        f"\nworst report p95 {metrics['worst_report_p95_ms']} ms "
        f"(target ≤ {TARGETS['report_p95_ms']}); ok: {ok}\n→ {path}"
    )
    return {"metrics": metrics, "ratios": ratios, "ok": ok}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, help="default: 10 per customer")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", default="scrm_bench_reports", help="scratch database (created and reused)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    common.setup_django(args.db)
    run(customers=args.customers, orders=args.orders or args.customers * 10, repeat=args.repeat, json_path=args.json)


if __name__ == "__main__":
    main()
