"""Benchmark orders for the bench customers (bench/datagen.py), generated with set-based SQL.

Realistic shape (docs/benchmarks.md#data-generators): a skewed number of orders per customer (many buy once or never, a
loyal few buy often), paid between the customer's creation and now with a 双11/618 bump, 4 % fully
and 3 % partly refunded, attributed to the customer's first follower, private-domain when followed,
sources mixed. Recorded in ``bench_meta`` so a second run at the same scale reuses the rows.

    python -m bench.datagen_orders --customers 100000 --orders 1000000 [--force]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import common, datagen

VERSION = 1
META_KEY = "orders"
INDEX_KEY = "orders:dropped_indexes"


def _drop_indexes(cursor: Any) -> None:
    """Drop analytics_order's secondary indexes (not constraints) for the load; remembered in bench_meta
    first, so an interrupted load still rebuilds them (``_restore_indexes``)."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
         WHERE i.schemaname = 'public' AND i.tablename = 'analytics_order'
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """
    )
    defs = [list(row) for row in cursor.fetchall()]
    common.set_meta(INDEX_KEY, (common.get_meta(INDEX_KEY) or []) + defs)
    for name, _definition in defs:
        cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def _restore_indexes(cursor: Any) -> None:
    saved = common.get_meta(INDEX_KEY) or []
    cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    present = {row[0] for row in cursor.fetchall()}
    cursor.execute("SET maintenance_work_mem = '1GB'")
    for name, definition in saved:
        if name not in present:
            _exec(cursor, f"index {name}", definition)
            present.add(name)
    cursor.execute("RESET maintenance_work_mem")
    common.set_meta(INDEX_KEY, [])


def _exec(cursor: Any, label: str, sql: str, params: Any = None) -> float:
    start = time.perf_counter()
    cursor.execute(sql, params)
    took = time.perf_counter() - start
    print(f"  {label}: {took:.1f}s", flush=True)
    return took


def generate(*, customers: int, orders: int, force: bool = False) -> tuple[datagen.Dataset, int]:
    ds = datagen.generate(customers=customers)
    from django.db import connection

    wanted = {"customers": customers, "orders": orders, "version": VERSION}
    if not force and common.get_meta(META_KEY) == wanted:
        print(f"datagen_orders: reusing {orders:,} orders")
        return ds, orders
    print(f"datagen_orders: generating {orders:,} orders for {ds.customers:,} customers", flush=True)
    started = time.perf_counter()
    org = ds.organization_id
    with connection.cursor() as cursor:
        _restore_indexes(cursor)  # a previous load that was interrupted
        _exec(
            cursor,
            "truncate",
            "TRUNCATE analytics_order, analytics_dailyrollup, analytics_dailystorerollup, analytics_buyerfact, "
            "analytics_customermonth RESTART IDENTITY CASCADE",  # coupon redemptions and attributions name orders
        )
        # Secondary indexes are built once after the load: maintaining five b-trees row by row over
        # 10M random-order inserts is most of the load time at that scale.
        _drop_indexes(cursor)
        cursor.execute("DROP TABLE IF EXISTS bench_buyers")
        cursor.execute("SELECT setseed(0.17)")
        _exec(
            cursor,
            "buyers",
            """
            CREATE TEMP TABLE bench_buyers AS
            SELECT row_number() OVER (ORDER BY c.id) AS rn, c.id, c.home_store_id, c.source_channel, c.created_at,
                   f.staff_id, f.added_at
              FROM contacts_customer c
              LEFT JOIN LATERAL (SELECT staff_id, added_at FROM contacts_follow fw
                                  WHERE fw.customer_id = c.id AND fw.deleted_at IS NULL
                               ORDER BY fw.added_at DESC, fw.id DESC LIMIT 1) f ON TRUE
             WHERE c.organization_id = %s
            """,
            [org],
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_buyers (rn)")
        cursor.execute("SELECT count(*) FROM bench_buyers")
        n = cursor.fetchone()[0]
        _exec(
            cursor,
            "orders",
            """
            INSERT INTO analytics_order (organization_id, customer_id, store_id, staff_id, channel, campaign_id,
                   is_private, amount, refunded_amount, status, paid_at, refunded_at, source, external_ref, items,
                   created_at, updated_at)
            SELECT %(org)s, b.id, b.home_store_id, b.staff_id, b.source_channel, NULL,
                   b.staff_id IS NOT NULL AND b.added_at <= x.paid_at, x.amount,
                   CASE WHEN x.r < 0.04 THEN x.amount WHEN x.r < 0.07 THEN round(x.amount / 2, 2) ELSE 0 END,
                   CASE WHEN x.r < 0.04 THEN 'refunded' WHEN x.r < 0.07 THEN 'partially_refunded' ELSE 'paid' END,
                   x.paid_at, CASE WHEN x.r < 0.07 THEN x.paid_at + interval '2 days' END,
                   (ARRAY['pos_import','pos_import','pos_import','wecom_pay','meituan','wechat_shop'])[1 + (x.g %% 6)],
                   'B' || x.g, '[]'::jsonb, now(), now()
              FROM (SELECT g, 1 + floor(power(random(), 2.2) * %(n)s)::int AS rn, random() AS r, random() AS t,
                           round((39 + 1500 * power(random(), 3))::numeric, 2) AS amount
                      FROM generate_series(1, %(orders)s) g) y
              JOIN bench_buyers b ON b.rn = y.rn
              CROSS JOIN LATERAL (SELECT y.g, y.r, y.amount,
                       b.created_at + (now() - b.created_at) * power(y.t, 0.7) AS paid_at) x
            """,
            {"org": org, "n": n, "orders": orders},
        )
        cursor.execute("DROP TABLE bench_buyers")
        _restore_indexes(cursor)
        _exec(cursor, "vacuum analyze", "VACUUM (ANALYZE) analytics_order")
    common.set_meta(META_KEY, wanted)
    print(f"datagen_orders: done in {time.perf_counter() - started:.1f}s", flush=True)
    return ds, orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--db", default="scrm_bench_reports", help="scratch database (created and reused)")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    common.setup_django(args.db)
    generate(customers=args.customers, orders=args.orders, force=args.force)


if __name__ == "__main__":
    main()
