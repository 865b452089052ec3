"""Benchmark data: N customers of one brand, generated in Postgres with set-based SQL.

Realistic on purpose (docs/benchmarks.md#data-generators): stores of very different sizes (Zipf-like), 1–3 follows per
customer by staff of the customer's store, single-choice tag groups (member level, spend level) plus a
long tail of multi-choice tags (a few on half the customers, most on 1–3 %), Chinese names, consent
and opt-outs, order rollups with a share of repeat buyers, group-chat membership. A small second
organization shares the tables so the organization part of every index matters.

Everything is ``INSERT … SELECT … generate_series`` with secondary indexes dropped during the load
and rebuilt after (1M customers + ~4M tag rows + ~1.8M follows in well under two minutes on 2 cores).
The scale is recorded in ``bench_meta``; a second run at the same scale reuses the data.

    python -m bench.datagen --customers 1000000 [--force]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

from bench import common

VERSION = 4  # 4: segment facts filled after the load
META_KEY = "contacts"
INDEX_KEY = "contacts:dropped_indexes"
TABLES = [
    "contacts_customer",
    "contacts_customertag",
    "contacts_follow",
    "contacts_customergroupmember",
    "contacts_segmentfact",
]
STORES = 40
ORGANIZATIONS = [("基准品牌", "bench"), ("另一个品牌", "bench-other")]
SINGLE_GROUPS = [
    ("会员等级", [("普通会员", 0.55), ("银卡会员", 0.25), ("金卡会员", 0.12), ("黑金会员", 0.03)]),
    ("消费能力", [("价格敏感", 0.35), ("中等", 0.40), ("高消费", 0.15)]),
]
MULTI_GROUPS = [
    ("兴趣偏好", ["护肤", "彩妆", "香氛", "身体护理", "男士", "母婴", "礼盒", "防晒", "美发", "口腔护理"]),
    ("沟通偏好", ["喜欢新品", "喜欢优惠", "只看活动", "勿频繁打扰", "喜欢直播", "喜欢图文"]),
    ("来源活动", ["双11", "618", "门店开业", "直播间", "抖音团购", "美团团购", "会员日", "年货节", "三八节", "七夕"]),
    ("生活阶段", ["学生", "职场新人", "新婚", "孕期", "宝妈", "银发"]),
    ("商品偏好", [f"单品{i:02d}" for i in range(1, 17)]),
]
SOURCES = [("wecom", 0.45), ("douyin", 0.15), ("meituan", 0.15), ("video", 0.10), ("form", 0.05), ("import", 0.10)]
LIFECYCLES = [("lead", 0.35), ("prospect", 0.20), ("customer", 0.25), ("repeat", 0.15), ("churned", 0.05)]


@dataclass
class Dataset:
    organization_id: int
    customers: int
    tags_by_rank: list[int]  # multi-choice tags, most common first
    single_tags: dict[str, list[int]]
    store_ids: list[int]  # largest store first
    staff_ids: list[int]


def _cumulative(weights: list[float]) -> list[float]:
    """Lower bounds for ``width_bucket(random(), bounds)`` (1-based bucket = the pick)."""
    total = sum(weights)
    bounds, acc = [], 0.0
    for w in weights:
        bounds.append(round(acc / total, 9))
        acc += w
    return bounds


def _exec(cursor: Any, label: str, sql: str, params: Any = None) -> None:
    start = time.perf_counter()
    cursor.execute(sql, params)
    print(f"  {label}: {time.perf_counter() - start:.1f}s", flush=True)


def _restore_indexes(cursor: Any) -> None:
    """Recreate secondary indexes a previous (possibly interrupted) load dropped."""
    saved = common.get_meta(INDEX_KEY) or []
    cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    present = {row[0] for row in cursor.fetchall()}
    cursor.execute("SET maintenance_work_mem = '512MB'")
    for name, definition in saved:
        if name not in present:
            _exec(cursor, f"index {name}", definition)
    common.set_meta(INDEX_KEY, [])


def _drop_indexes(cursor: Any) -> None:
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
         WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [TABLES],
    )
    defs = [list(row) for row in cursor.fetchall()]
    common.set_meta(INDEX_KEY, defs)  # first, so an interrupted load still knows what to rebuild
    for name, _definition in defs:
        cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def generate(*, customers: int, force: bool = False, seed: float = 0.42) -> Dataset:
    """Load (or reuse) ``customers`` customers; returns what the benchmarks need to build expressions."""
    common.setup_django()
    from django.db import connection

    wanted = {"customers": customers, "version": VERSION}
    with connection.cursor() as cursor:
        _restore_indexes(cursor)
        if not force and common.get_meta(META_KEY) == wanted:
            dataset = _describe()
            if dataset is not None:
                print(f"datagen: reusing {customers:,} customers in {connection.settings_dict['NAME']}")
                return dataset
        print(f"datagen: generating {customers:,} customers in {connection.settings_dict['NAME']}", flush=True)
        started = time.perf_counter()
        common.clear_meta()  # every dependent data set (orders…) is stale once customers change
        _exec(cursor, "truncate", "TRUNCATE contacts_organization, contacts_segmentfact RESTART IDENTITY CASCADE")
        try:
            cursor.execute("SET session_replication_role = replica")  # skip FK triggers during the load
        except Exception:  # not a superuser: FKs are checked row by row, slower but correct
            connection.rollback()
        cursor.execute("SELECT setseed(%s)", [seed])
        _drop_indexes(cursor)
        _load(cursor, customers)
        cursor.execute("SET session_replication_role = DEFAULT")
        # The load ran without triggers: fill the segment facts the way the triggers would have.
        from contacts.services import segment_facts_rebuild

        started_facts = time.perf_counter()
        segment_facts_rebuild()
        print(f"  segment facts: {time.perf_counter() - started_facts:.1f}s", flush=True)
        _restore_indexes(cursor)
        # VACUUM, not just ANALYZE: sets hint bits and the visibility map as autovacuum would on a live
        # database; otherwise the first reads of every page write it back (and the timings show it).
        _exec(cursor, "vacuum analyze", "VACUUM (FREEZE, ANALYZE) " + ", ".join(TABLES))
        common.set_meta(META_KEY, wanted)
        print(f"datagen: done in {time.perf_counter() - started:.1f}s", flush=True)
    dataset = _describe()
    if dataset is None:
        raise RuntimeError("datagen: the generated organization is missing")
    return dataset


def _load(cursor: Any, n: int) -> None:
    cursor.execute("DROP TABLE IF EXISTS bench_tag, bench_store_staff")
    from contacts.models import Organization

    # Through the ORM: the organization's settings columns carry Python-side defaults only.
    org, other = (Organization.objects.create(name=name, slug=slug).pk for name, slug in ORGANIZATIONS)
    weights = [1 / (i + 1) ** 0.8 for i in range(STORES)]
    cursor.execute(
        """
        INSERT INTO contacts_store (organization_id, name, code, city, address, is_active, created_at)
        SELECT %s, '门店' || lpad(i::text, 3, '0'), 'S' || lpad(i::text, 3, '0'), '上海', '', true, now()
          FROM generate_series(1, %s) i ORDER BY i RETURNING id
        """,
        [org, STORES],
    )
    stores = [row[0] for row in cursor.fetchall()]
    # Staff: 2 + proportional to store size; plus 5 headquarters staff for customers without a store.
    staff_per_store = [2 + round(w / sum(weights) * STORES * 4) for w in weights]
    cursor.execute(
        """
        INSERT INTO contacts_staff (organization_id, name, store_id, wecom_userid, is_active, created_at)
        SELECT %s, '导购' || s.ord || '-' || k, s.store_id, 'bench-' || s.ord || '-' || k, true, now()
          FROM unnest(%s::bigint[], %s::int[]) WITH ORDINALITY AS s(store_id, n, ord)
          CROSS JOIN LATERAL generate_series(1, s.n) k
        UNION ALL
        SELECT %s, '总部' || k, NULL, 'bench-hq-' || k, true, now() FROM generate_series(1, 5) k
        """,
        [org, stores, staff_per_store, org],
    )
    cursor.execute(
        """
        CREATE TEMP TABLE bench_store_staff AS
        SELECT COALESCE(store_id, 0) AS store_id, array_agg(id ORDER BY id) AS staff_ids
          FROM contacts_staff WHERE organization_id = %s GROUP BY COALESCE(store_id, 0)
        """,
        [org],
    )
    # Tags: single-choice groups (one tag or none per customer) and a Zipf-like multi-choice tail.
    cursor.execute("CREATE TEMP TABLE bench_tag (tag_id int, grp int, p float8, lo float8, hi float8)")
    order = 0
    for g, (group_name, tags) in enumerate(SINGLE_GROUPS, start=1):
        group_id = _tag_group(cursor, org, group_name, "single", order)
        order += 1
        acc = 0.0
        for name, p in tags:
            tag_id = _tag(cursor, org, group_id, name)
            cursor.execute("INSERT INTO bench_tag VALUES (%s, %s, %s, %s, %s)", [tag_id, g, p, acc, acc + p])
            acc += p
    rank = 0
    for group_name, names in MULTI_GROUPS:
        group_id = _tag_group(cursor, org, group_name, "multi", order)
        order += 1
        for name in names:
            rank += 1
            tag_id = _tag(cursor, org, group_id, name)
            cursor.execute("INSERT INTO bench_tag VALUES (%s, 0, %s, 0, 0)", [tag_id, 0.5 / rank**0.9])
    from contacts.demo import GIVEN, SURNAMES

    store_bounds = _cumulative(weights)
    _exec(
        cursor,
        f"customers ({n:,})",
        """
        INSERT INTO contacts_customer (organization_id, name, gender, avatar, phone_encrypted, phone_hash, unionid,
            home_store_id, source_channel, first_touch, first_touch_at, lifecycle, marketing_consent, consent_at,
            consent_source, opted_out_at, opt_out_source, attributes, tag_ids, ltv, order_count, first_order_at,
            last_order_at, avg_order_value, rfm_r, rfm_f, rfm_m, rfm_segment, created_at, updated_at)
        SELECT %(org)s,
               substr(%(surnames)s, 1 + floor(r.a * length(%(surnames)s))::int, 1)
                 || substr(%(given)s, 1 + floor(r.b * length(%(given)s))::int, 1)
                 || CASE WHEN r.c < 0.6 THEN substr(%(given)s, 1 + floor(r.d * length(%(given)s))::int, 1) ELSE '' END,
               (1 + floor(r.c * 3))::int %% 3, '', '', '', '',
               CASE WHEN r.e < 0.05 THEN NULL
                    ELSE (%(stores)s::bigint[])[width_bucket(r.f, %(store_bounds)s::float8[])] END,
               (%(sources)s::text[])[width_bucket(r.g, %(source_bounds)s::float8[])],
               '{}', r.created, (%(stages)s::text[])[width_bucket(r.h, %(stage_bounds)s::float8[])],
               r.i < 0.7, CASE WHEN r.i < 0.7 THEN r.created END, CASE WHEN r.i < 0.7 THEN 'bench' ELSE '' END,
               CASE WHEN r.j < 0.03 THEN r.created + interval '30 days' END,
               CASE WHEN r.j < 0.03 THEN 'bench' ELSE '' END,
               '{}',
               sort(array_remove(ARRAY(
                   SELECT t.tag_id FROM bench_tag t
                    WHERE (t.grp = 0 AND random() < t.p)
                       OR (t.grp = 1 AND r.s1 >= t.lo AND r.s1 < t.hi)
                       OR (t.grp = 2 AND r.s2 >= t.lo AND r.s2 < t.hi)
               ), NULL)),
               o.cnt * (80 + floor(r.k * 400)), o.cnt,
               CASE WHEN o.cnt > 0 THEN r.created + interval '3 days' END,
               CASE WHEN o.cnt > 0 THEN now() - (r.l * 365) * interval '1 day' END,
               CASE WHEN o.cnt > 0 THEN 80 + floor(r.k * 400) ELSE 0 END,
               0, 0, 0, '', r.created, now()
          FROM generate_series(1, %(n)s) g
         CROSS JOIN LATERAL (
               SELECT random() AS a, random() AS b, random() AS c, random() AS d, random() AS e, random() AS f,
                      random() AS g, random() AS h, random() AS i, random() AS j, random() AS k, random() AS l,
                      random() AS s1, random() AS s2, random() AS m,
                      now() - (random() * 730) * interval '1 day' AS created, g.g AS gg
         ) r
         CROSS JOIN LATERAL (
               SELECT CASE WHEN r.m < 0.55 THEN 0 ELSE 1 + floor(-ln(1 - r.k) * 1.5)::int END AS cnt, r.gg
         ) o
        """,
        {
            "org": org,
            "n": n,
            "surnames": SURNAMES,
            "given": GIVEN,
            "stores": stores,
            "store_bounds": store_bounds,
            "sources": [s for s, _ in SOURCES],
            "source_bounds": _cumulative([w for _, w in SOURCES]),
            "stages": [s for s, _ in LIFECYCLES],
            "stage_bounds": _cumulative([w for _, w in LIFECYCLES]),
        },
    )
    # The other organization: 5 % as many customers, with its own tags.
    group_id = _tag_group(cursor, other, "等级", "multi", 0)
    other_tags = [_tag(cursor, other, group_id, name) for name in ("A", "B", "C")]
    _exec(
        cursor,
        "other organization",
        """
        INSERT INTO contacts_customer (organization_id, name, gender, avatar, phone_encrypted, phone_hash, unionid,
            source_channel, first_touch, lifecycle, marketing_consent, consent_source, opt_out_source, attributes,
            tag_ids, ltv, order_count, avg_order_value, rfm_r, rfm_f, rfm_m, rfm_segment, created_at, updated_at)
        SELECT %s, '客' || g, 0, '', '', '', '', 'wecom', '{}', 'lead', true, '', '', '{}',
               CASE WHEN random() < 0.5 THEN ARRAY[%s]::int[] ELSE ARRAY[%s, %s]::int[] END,
               0, 0, 0, 0, 0, 0, '', now(), now()
          FROM generate_series(1, %s) g
        """,
        [other, other_tags[0], other_tags[1], other_tags[2], max(1, n // 20)],
    )
    _exec(
        cursor,
        "tag assignments",
        """
        INSERT INTO contacts_customertag (organization_id, customer_id, tag_id, assigned_at, assigned_by_id, source)
        SELECT c.organization_id, c.id, t.tag_id, c.created_at, NULL, 'import'
          FROM contacts_customer c CROSS JOIN LATERAL unnest(c.tag_ids) AS t(tag_id)
        """,
    )
    _exec(
        cursor,
        "follows",
        """
        INSERT INTO contacts_follow (organization_id, customer_id, staff_id, added_at, add_way, state, remark,
            description, last_interaction_at, deleted_at, deleted_by, remark_mobiles)
        SELECT c.organization_id, c.id,
               ss.staff_ids[1 + ((c.id + k) %% array_length(ss.staff_ids, 1))],
               c.created_at + k * interval '1 day', 1, '',
               CASE WHEN x.r < 0.05 THEN 'VIP老客' ELSE '' END, '', NULL,
               CASE WHEN x.r > 0.92 THEN now() END, CASE WHEN x.r > 0.92 THEN 'customer' ELSE '' END, '[]'::jsonb
          FROM contacts_customer c
          JOIN bench_store_staff ss ON ss.store_id = COALESCE(c.home_store_id, 0)
         CROSS JOIN LATERAL (SELECT random() AS n, c.id AS cid) f
         CROSS JOIN LATERAL generate_series(
               0, LEAST(array_length(ss.staff_ids, 1), CASE WHEN f.n < 0.6 THEN 1 WHEN f.n < 0.85 THEN 2 ELSE 3 END) - 1
         ) k
         CROSS JOIN LATERAL (SELECT random() AS r, k AS kk) x
         WHERE c.organization_id = %s
        """,
        [org],
    )
    groups = max(10, n // 500)
    cursor.execute(
        """
        INSERT INTO contacts_customergroup (organization_id, wecom_chat_id, name, owner_id, store_id, notice,
            member_count, member_version, created_at)
        SELECT %s, 'wrbench' || g, '客户群' || g, NULL, (%s::bigint[])[1 + g %% %s], '', 0, '', now()
          FROM generate_series(1, %s) g
        """,
        [org, stores, len(stores), groups],
    )
    _exec(
        cursor,
        "group members",
        """
        WITH gids AS (SELECT array_agg(id ORDER BY id) AS ids FROM contacts_customergroup WHERE organization_id = %s)
        INSERT INTO contacts_customergroupmember (organization_id, group_id, customer_id, member_type, member_id,
            name, join_scene, joined_at, left_at)
        SELECT c.organization_id, gids.ids[1 + c.id %% array_length(gids.ids, 1)], c.id, 'external', 'wm' || c.id,
               '', 3, c.created_at, CASE WHEN random() < 0.1 THEN now() END
          FROM contacts_customer c, gids
         WHERE c.organization_id = %s AND random() < 0.2
        """,
        [org, org],
    )


def _tag_group(cursor: Any, org: int, name: str, choice: str, order: int) -> int:
    cursor.execute(
        'INSERT INTO contacts_taggroup (organization_id, name, choice, origin, wecom_group_id, "order", created_at) '
        "VALUES (%s, %s, %s, 'local', '', %s, now()) RETURNING id",
        [org, name, choice, order],
    )
    return int(cursor.fetchone()[0])


def _tag(cursor: Any, org: int, group_id: int, name: str) -> int:
    cursor.execute(
        'INSERT INTO contacts_tag (organization_id, group_id, name, wecom_tag_id, "order", created_at) '
        "VALUES (%s, %s, %s, '', 0, now()) RETURNING id",
        [org, group_id, name],
    )
    return int(cursor.fetchone()[0])


def _describe() -> Dataset | None:
    """Read back the generated brand (ids the benchmarks build expressions from)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM contacts_organization WHERE slug = 'bench'")
        row = cursor.fetchone()
        if row is None:
            return None
        org = row[0]
        cursor.execute("SELECT count(*) FROM contacts_customer WHERE organization_id = %s", [org])
        n = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT t.id, g.choice, g.name, count(ct.id) AS n
              FROM contacts_tag t JOIN contacts_taggroup g ON g.id = t.group_id
              LEFT JOIN contacts_customertag ct ON ct.tag_id = t.id
             WHERE t.organization_id = %s
             GROUP BY t.id, g.choice, g.name ORDER BY n DESC, t.id
            """,
            [org],
        )
        multi, single = [], {}
        for tag_id, choice, group_name, _n in cursor.fetchall():
            if choice == "single":
                single.setdefault(group_name, []).append(tag_id)
            else:
                multi.append(tag_id)
        cursor.execute(
            """
            SELECT s.id FROM contacts_store s LEFT JOIN contacts_customer c ON c.home_store_id = s.id
             WHERE s.organization_id = %s GROUP BY s.id ORDER BY count(c.id) DESC, s.id
            """,
            [org],
        )
        stores = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT id FROM contacts_staff WHERE organization_id = %s ORDER BY id", [org])
        staff = [r[0] for r in cursor.fetchall()]
    return Dataset(
        organization_id=org, customers=n, tags_by_rank=multi, single_tags=single, store_ids=stores, staff_ids=staff
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--force", action="store_true", help="regenerate even when the scale matches")
    args = parser.parse_args()
    dataset = generate(customers=args.customers, force=args.force)
    print(
        f"organization {dataset.organization_id}: {dataset.customers:,} customers, {len(dataset.store_ids)} stores, "
        f"{len(dataset.staff_ids)} staff, {len(dataset.tags_by_rank)} multi-choice tags"
    )


if __name__ == "__main__":
    main()
