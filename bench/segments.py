"""Segment count latency (issue 3): the real code path vs hand-written SQL vs the floor.

For typical expressions on the generated brand (bench/datagen.py):

* **count** — ``contacts.segments.segment_count`` as the console calls it (validate, compile to one
  ``query_int`` statement, execute);
* **raw SQL** — the same count written by hand with plain array operators (``@>``, ``&&``) on the
  same table the product counts from (``contacts_segmentfact``), the same-run baseline (its result is
  also checked equal to the real count);
* **floor** — counting only the expression's most common positive tag (``tag_ids @> ARRAY[t]``) on
  that table;
* **customer-heap floor** — the floor run on ``contacts_customer`` instead, for reference: what the
  narrow fact table saves over scanning the customers themselves.

Targets: count p50 ≤ 150 ms, ≤ 1.5× raw SQL, ≤ 2× the floor. Writes bench/results/segments.json.

    python -m bench.segments [--customers 1000000] [--repeat 15] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
from typing import Any

from bench import common, datagen

FLOOR_SQL = "SELECT count(*) FROM contacts_segmentfact WHERE organization_id = %s AND tag_ids @> ARRAY[%s]::int[]"
HEAP_FLOOR_SQL = FLOOR_SQL.replace("contacts_segmentfact", "contacts_customer")
TARGETS = {"count_p50_ms": 150, "count_p50_vs_raw_sql": 1.5, "count_p50_vs_floor": 2.0}


def expressions(ds: datagen.Dataset) -> list[tuple[str, dict[str, Any]]]:
    t = ds.tags_by_rank
    level = ds.single_tags.get("会员等级", [])
    since = (dt.date.today() - dt.timedelta(days=180)).isoformat()
    return [
        ("one common tag (~50%)", {"tags": {"all": [t[0]]}}),
        ("two tags, all", {"tags": {"all": [t[0], t[1]]}}),
        ("any of three tail tags", {"tags": {"any": [t[20], t[30], t[40]]}}),
        ("all + none", {"tags": {"all": [t[1]], "none": [t[3], t[4]]}}),
        ("level + interest, consent granted", {"tags": {"all": [level[2], t[2]]}, "consent": "granted"}),
        ("any of two tags in the 3 largest stores", {"tags": {"any": [t[5], t[6]]}, "stores": ds.store_ids[:3]}),
        ("level, created in the last 180 days", {"tags": {"all": [level[1]]}, "created": {"from": since}}),
        ("common tag followed by 5 staff", {"tags": {"all": [t[0]]}, "follower_staff": ds.staff_ids[:5]}),
        ("rare tag, LTV ≥ 200", {"tags": {"all": [t[40]]}, "ltv": {"min": 200}}),
    ]


def raw_sql(org: int, e: dict[str, Any]) -> tuple[str, list[Any]]:
    """The count as one would write it by hand (array operators, no query_int)."""
    where, params = ["organization_id = %s"], [org]
    tags = e.get("tags", {})
    if tags.get("all"):
        where.append("tag_ids @> %s::int[]")
        params.append(tags["all"])
    if tags.get("any"):
        where.append("tag_ids && %s::int[]")
        params.append(tags["any"])
    if tags.get("none"):
        where.append("NOT (tag_ids && %s::int[])")
        params.append(tags["none"])
    if e.get("stores"):
        where.append("home_store_id = ANY(%s)")
        params.append(e["stores"])
    if e.get("consent") == "granted":
        where.append("marketing_consent AND NOT opted_out")
    if e.get("created", {}).get("from"):
        where.append("created_day >= %s::date")
        params.append(e["created"]["from"])
    if e.get("follower_staff"):
        where.append(
            "EXISTS (SELECT 1 FROM contacts_follow f WHERE f.customer_id = contacts_segmentfact.id"
            " AND f.staff_id = ANY(%s) AND f.deleted_at IS NULL)"
        )
        params.append(e["follower_staff"])
    if e.get("ltv", {}).get("min") is not None:
        where.append("ltv >= %s")
        params.append(e["ltv"]["min"])
    return "SELECT count(*) FROM contacts_segmentfact WHERE " + " AND ".join(where), params


def _scalar(sql: str, params: list[Any]) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def floor_tag(org: int, e: dict[str, Any]) -> int | None:
    positive = [*e.get("tags", {}).get("all", []), *e.get("tags", {}).get("any", [])]
    if not positive:
        return None
    counts = {t: _scalar("SELECT count(*) FROM contacts_customertag WHERE tag_id = %s", [t]) for t in positive}
    return max(counts, key=lambda t: counts[t])


def operator_actor(organization_id: int) -> Any:
    from contacts.access import Actor
    from contacts.models import Organization, Role, Staff

    organization = Organization.objects.get(pk=organization_id)
    staff = Staff.objects.filter(organization=organization).first()
    return Actor(user_id=0, organization=organization, staff=staff, role=Role.OPERATOR, store_ids=None)


def run(*, customers: int, repeat: int, warmup: int = 2, json_path: str | None = None) -> dict[str, Any]:
    ds = datagen.generate(customers=customers)
    from contacts import segments

    actor = operator_actor(ds.organization_id)
    rows, details = [], []
    pooled: dict[str, list[float]] = {
        "count": [],
        "raw": [],
        "floor_count": [],
        "floor": [],
        "heap_floor": [],
        "sample": [],
    }
    correct = True
    for label, expression in expressions(ds):
        raw, raw_params = raw_sql(ds.organization_id, expression)
        real_n = segments.segment_count(actor=actor, expression=expression)
        raw_n = _scalar(raw, raw_params)
        correct = correct and real_n == raw_n
        tag = floor_tag(ds.organization_id, expression)
        contenders = {
            "count": lambda e=expression: segments.segment_count(actor=actor, expression=e),
            "raw": lambda s=raw, p=raw_params: _scalar(s, p),
            "sample": lambda e=expression: segments.segment_sample(actor=actor, expression=e, limit=20),
        }
        if tag is not None:
            contenders["floor"] = lambda t=tag: _scalar(FLOOR_SQL, [ds.organization_id, t])
            contenders["heap_floor"] = lambda t=tag: _scalar(HEAP_FLOOR_SQL, [ds.organization_id, t])
        samples = common.measure_interleaved(contenders, repeat=repeat, warmup=warmup)
        stats = {name: common.summarize(values) for name, values in samples.items()}
        pooled["count"] += samples["count"]
        pooled["raw"] += samples["raw"]
        pooled["sample"] += samples["sample"]
        if tag is not None:
            pooled["floor"] += samples["floor"]
            pooled["heap_floor"] += samples["heap_floor"]
            pooled["floor_count"] += samples["count"]
        sql, params = segments.count_sql(organization_id=ds.organization_id, expression=expression)
        plan = "\n".join(r[0] for r in _plan(sql, params))
        details.append(
            {
                "expression": label,
                "json": expression,
                "matches": real_n,
                "raw_matches": raw_n,
                "count": stats["count"],
                "raw_sql": stats["raw"],
                "floor": stats.get("floor"),
                "customer_heap_floor": stats.get("heap_floor"),
                "sample": stats["sample"],
                "uses_tag_gin": "segmentfact_org_tags_gin" in plan,
            }
        )
        floor_p50 = stats["floor"]["p50_ms"] if "floor" in stats else float("nan")
        rows.append(
            [
                label,
                real_n,
                stats["count"]["p50_ms"],
                stats["count"]["p95_ms"],
                stats["raw"]["p50_ms"],
                floor_p50,
                common.ratio(stats["count"]["p50_ms"], stats["raw"]["p50_ms"]),
                stats["sample"]["p50_ms"],
            ]
        )
    count = common.summarize(pooled["count"])
    raw_stats = common.summarize(pooled["raw"])
    floor_stats = common.summarize(pooled["floor"])
    heap_floor_stats = common.summarize(pooled["heap_floor"])
    count_with_floor = common.summarize(pooled["floor_count"])
    metrics = {
        "count_p50_ms": count["p50_ms"],
        "count_p95_ms": count["p95_ms"],
        "sample_p50_ms": round(statistics.median(pooled["sample"]), 2),
        "expressions": len(details),
        "repetitions_per_expression": repeat,
    }
    baseline = {
        "raw_sql_count_p50_ms": raw_stats["p50_ms"],
        "raw_sql_count_p95_ms": raw_stats["p95_ms"],
        "floor_count_p50_ms": floor_stats["p50_ms"],
        "customer_heap_floor_p50_ms": heap_floor_stats["p50_ms"],
    }
    ratios = {
        "count_p50_vs_raw_sql": common.ratio(count["p50_ms"], raw_stats["p50_ms"]),
        "count_p50_vs_floor": common.ratio(count_with_floor["p50_ms"], floor_stats["p50_ms"]),
        "worst_expression_p50_vs_raw_sql": max(r[6] for r in rows),
    }
    ok = correct and all(value <= TARGETS[key] for key, value in {**metrics, **ratios}.items() if key in TARGETS)
    path = common.write_result(
        name="segments",
        scale={"customers": ds.customers},
        metrics=metrics,
        baseline=baseline,
        ratios=ratios,
        targets=TARGETS,
        ok=ok,
        details=details,
        path=json_path,
    )
    print(f"\nsegments @ {ds.customers:,} customers, {repeat} repetitions per expression (ms)\n")
    common.print_table(
        rows, ["expression", "matches", "count p50", "count p95", "raw p50", "floor p50", "vs raw", "sample p50"]
    )
    print(
        f"\npooled: count p50 {count['p50_ms']} ms (p95 {count['p95_ms']}), raw SQL p50 {raw_stats['p50_ms']} ms, "
        f"floor p50 {floor_stats['p50_ms']} ms (on the customer heap {heap_floor_stats['p50_ms']} ms); "
        f"vs raw {ratios['count_p50_vs_raw_sql']}×, vs floor {ratios['count_p50_vs_floor']}×; "
        f"counts equal to raw SQL: {correct}; ok: {ok}\n→ {path}"
    )
    return {"metrics": metrics, "ratios": ratios, "ok": ok}


def _plan(sql: str, params: list[Any]) -> list[tuple[str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return list(cursor.fetchall())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Segment count latency")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    run(customers=args.customers, repeat=args.repeat, json_path=args.json_path)


if __name__ == "__main__":
    main()
