"""Journey tick throughput (issue 17): one tick advancing every enrolled customer vs a raw ``UPDATE``.

On the generated brand (bench/datagen.py), a manual journey of two waits (1 day, then 1 day) with every
customer enrolled and due:

* **tick** — ``journeys.engine.journeys_tick``: the scheduled triggers and the exit / goal UPDATEs over
  all enrollments, then rounds (20,000 a round) of claim (``INSERT … SELECT … FOR UPDATE SKIP LOCKED …
  ON CONFLICT DO NOTHING`` into ``journeys_steprun``) and move (one ``UPDATE`` per step and branch);
* **raw update** — the same-run baseline: one ``UPDATE journeys_enrollment`` moving the same rows to the
  next step, no claim, no run record, no rules.

Between repetitions the enrollments are put back at step 1 and the step runs truncated. Target: the tick
within 3× of the raw statement. Writes bench/results/journeys.json.

    python -m bench.journeys [--customers 1000000] [--repeat 3] [--json PATH] [--db NAME]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench import common, datagen

TARGETS = {"tick_ms_vs_raw_update": 3.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--db", default=common.DEFAULT_DB, help="scratch database name (default: %(default)s)")
    args = parser.parse_args(argv)

    common.setup_django(db_name=args.db)
    ds = datagen.generate(customers=args.customers)
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from journeys.engine import enrol, journeys_tick
    from journeys.models import EnrollmentState, Journey, JourneyStatus, JourneyStep, StepKind

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE journeys_steprun, journeys_enrollment, journeys_journeystep, journeys_journey CASCADE")
    now = timezone.now()
    journey = Journey.objects.create(
        organization_id=ds.organization_id,
        name="bench",
        trigger="manual",
        status=JourneyStatus.ACTIVE,
        activated_at=now,
        goal_days=14,
    )
    first = JourneyStep.objects.create(journey=journey, position=1, kind=StepKind.WAIT_DAYS, days=1)
    second = JourneyStep.objects.create(journey=journey, position=2, kind=StepKind.WAIT_DAYS, days=1)
    started = time.perf_counter()
    enrolled = enrol(
        journey=journey,
        customer_sql="SELECT id FROM contacts_customer WHERE organization_id = %s",
        params=[ds.organization_id],
        now=now - dt.timedelta(days=2),
    )
    enrol_ms = (time.perf_counter() - started) * 1000
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE journeys_enrollment")
    print(f"journeys: {enrolled:,} enrolled in {enrol_ms:.0f} ms", flush=True)
    tick_at = now + dt.timedelta(minutes=1)

    def reset() -> None:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE journeys_steprun")
            cursor.execute(
                "UPDATE journeys_enrollment SET step_id = %s, visit = 1, due_at = %s, state = %s WHERE journey_id = %s",
                [first.pk, now - dt.timedelta(hours=1), EnrollmentState.WAITING, journey.pk],
            )
            cursor.execute("VACUUM ANALYZE journeys_enrollment")

    results: dict[str, Any] = {}

    def tick() -> None:
        result = journeys_tick(now=tick_at)
        results["runs"], results["rounds"] = result.runs, result.rounds

    def raw_update() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE journeys_enrollment SET step_id = %s, visit = visit + 1, due_at = %s"
                " WHERE journey_id = %s AND state = 'waiting' AND due_at <= %s",
                [second.pk, tick_at + dt.timedelta(days=1), journey.pk, tick_at],
            )

    samples: dict[str, list[float]] = {"tick": [], "raw_update": []}
    for i in range(args.repeat + 1):  # the first round warms the cache and is not counted
        for name, fn in [("tick", tick), ("raw_update", raw_update)][:: 1 if i % 2 else -1]:
            reset()
            started = time.perf_counter()
            fn()
            elapsed = (time.perf_counter() - started) * 1000
            if i:
                samples[name].append(elapsed)
    moved = journey.enrollments.filter(step=second).count()
    tick_ms = statistics.median(samples["tick"])
    raw_ms = statistics.median(samples["raw_update"])
    rows = enrolled
    metrics = {
        "tick_ms_p50": round(tick_ms, 1),
        "tick_per_s": round(rows / (tick_ms / 1000)),
        "enrolled": rows,
        "enrol_ms": round(enrol_ms, 1),
        "runs": results.get("runs"),
        "rounds": results.get("rounds"),
        "repeat": args.repeat,
    }
    baseline = {"raw_update_ms_p50": round(raw_ms, 1), "raw_update_per_s": round(rows / (raw_ms / 1000))}
    ratios = {"tick_ms_vs_raw_update": common.ratio(tick_ms, raw_ms)}
    path = common.write_result(
        name="journeys",
        scale={"customers": ds.customers, "enrolled": rows},
        metrics=metrics,
        baseline=baseline,
        ratios=ratios,
        targets=TARGETS,
        details={"samples_ms": samples, "moved_last_run": moved},
        path=args.json,
    )
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE journeys_steprun, journeys_enrollment, journeys_journeystep, journeys_journey CASCADE")
    print(f"\njourney tick at {rows:,} enrollments ({args.repeat} runs each, p50)")
    print(
        f"  tick        {tick_ms:9.0f} ms   {metrics['tick_per_s']:>10,} enrollments/s ({results.get('rounds')} rounds)"
    )
    print(f"  raw update  {raw_ms:9.0f} ms   {baseline['raw_update_per_s']:>10,} rows/s")
    print(f"  tick / raw  {ratios['tick_ms_vs_raw_update']:9.2f}×   (target ≤ {TARGETS['tick_ms_vs_raw_update']}×)")
    print(f"  wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
