"""contacts.segments: validation messages, the compiled SQL against a brute-force Python evaluation on
random data (hypothesis), scoping, and the index the tag part uses."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts import segments, services
from contacts.access import Actor, actor_for_user
from contacts.models import Customer, CustomerGroupMember, CustomerTag, Follow, Role, Segment
from tests.factories import (
    CustomerFactory,
    CustomerGroupFactory,
    OrganizationFactory,
    StaffFactory,
    StoreFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db
SH = segments.SHANGHAI
BASE_DAY = dt.date(2026, 3, 1)
CHANNELS = ["wecom", "douyin", "meituan"]
STAGES = ["lead", "customer", "repeat"]


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ([1, 2], "JSON 对象"),
        ({"colour": "red"}, "colour"),
        ({"tags": {"all": ["x"]}}, "标签（全部包含）"),
        ({"tags": {"some": [1]}}, "some"),
        ({"tags": {"all": [1], "none": [1]}}, "同时出现"),
        ({"stores": "1"}, "门店"),
        ({"source_channels": ["tiktok"]}, "来源渠道"),
        ({"lifecycle": ["vip"]}, "生命周期"),
        ({"created": {"from": "2026-13-01"}}, "建档日期（起）"),
        ({"last_order": {"from": "2026-03-02", "to": "2026-03-01"}}, "最近下单日期"),
        ({"ltv": {"min": "abc"}}, "累计消费（最小）"),
        ({"order_count": {"min": 1.5}}, "订单数（最小）"),
        ({"order_count": {"min": 5, "max": 1}}, "订单数"),
        ({"consent": "maybe"}, "营销授权"),
    ],
)
def test_validate_names_the_bad_field(expression: Any, fragment: str) -> None:
    with pytest.raises(segments.SegmentError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        segments.validate(expression)


def test_validate_normalizes() -> None:
    assert segments.validate(
        {"tags": {"all": ["3", 1, 3], "any": [], "none": None}, "stores": [], "consent": "any", "ltv": {"min": "10.50"}}
    ) == {"tags": {"all": [1, 3]}, "ltv": {"min": 10.5}}
    assert segments.validate({}) == {}


def test_validate_checks_references_in_the_organization() -> None:
    org = OrganizationFactory()
    foreign_tag = TagFactory()
    with pytest.raises(segments.SegmentError, match="标签"):
        segments.validate({"tags": {"any": [foreign_tag.pk]}}, organization_id=org.pk)


# --- compiled SQL == brute force -------------------------------------------------------------------

ids6 = st.lists(st.integers(0, 5), max_size=3, unique=True)


@st.composite
def customer_rows(draw: Any) -> dict[str, Any]:
    return {
        "tags": draw(ids6),
        "store": draw(st.sampled_from([0, 1, None])),
        "channel": draw(st.sampled_from(CHANNELS)),
        "stage": draw(st.sampled_from(STAGES)),
        "consent": draw(st.booleans()),
        "opted_out": draw(st.booleans()),
        # Minutes around Shanghai midnights, so day boundaries are exercised.
        "created": draw(st.integers(0, 6)) * 1440 + draw(st.sampled_from([0, 1, 479, 480, 481, 1439])),
        "last_order": draw(st.none() | st.integers(0, 6 * 1440)),
        "ltv": draw(st.sampled_from([Decimal("0"), Decimal("50"), Decimal("100.50"), Decimal("200")])),
        "orders": draw(st.integers(0, 3)),
        "follows": draw(st.lists(st.tuples(st.integers(0, 1), st.booleans()), max_size=2, unique_by=lambda t: t[0])),
        "groups": draw(st.lists(st.tuples(st.integers(0, 1), st.booleans()), max_size=2, unique_by=lambda t: t[0])),
    }


def day(n: int) -> str:
    return (BASE_DAY + dt.timedelta(days=n)).isoformat()


@st.composite
def expressions(draw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {}
    if draw(st.booleans()):
        all_, any_, none_ = draw(ids6), draw(ids6), draw(ids6)
        e["tags"] = {"all": all_, "any": any_, "none": [t for t in none_ if t not in all_ and t not in any_]}
    if draw(st.booleans()):
        e["stores"] = draw(st.lists(st.integers(0, 1), min_size=1, unique=True))
    if draw(st.booleans()):
        e["source_channels"] = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, unique=True))
    if draw(st.booleans()):
        e["lifecycle"] = draw(st.lists(st.sampled_from(STAGES), min_size=1, unique=True))
    if draw(st.booleans()):
        e["follower_staff"] = draw(st.lists(st.integers(0, 1), min_size=1, unique=True))
    if draw(st.booleans()):
        e["groups"] = draw(st.lists(st.integers(0, 1), min_size=1, unique=True))
    for key in ("created", "last_order"):
        if draw(st.booleans()):
            lo, hi = sorted([draw(st.integers(0, 6)), draw(st.integers(0, 6))])
            e[key] = {k: v for k, v in (("from", day(lo)), ("to", day(hi))) if draw(st.booleans())}
    if draw(st.booleans()):
        lo, hi = sorted(draw(st.lists(st.sampled_from([0, 50, 100.5, 150]), min_size=2, max_size=2)))
        e["ltv"] = {"min": draw(st.sampled_from([None, lo])), "max": draw(st.sampled_from([None, hi]))}
    if draw(st.booleans()):
        lo, hi = sorted([draw(st.integers(0, 3)), draw(st.integers(0, 3))])
        e["order_count"] = {"min": draw(st.sampled_from([None, lo])), "max": draw(st.sampled_from([None, hi]))}
    e["consent"] = draw(st.sampled_from(segments.CONSENT_VALUES))
    return e


def at(minutes: int) -> dt.datetime:
    return dt.datetime.combine(BASE_DAY, dt.time.min, tzinfo=SH) + dt.timedelta(minutes=minutes)


def python_match(row: dict[str, Any], e: dict[str, Any], store_scope: set[int] | None) -> bool:
    """The expression's meaning, written the obvious way (Asia/Shanghai calendar days, inclusive)."""
    tags = set(row["tags"])
    t = e.get("tags", {})
    if (
        not set(t.get("all", [])) <= tags
        or (t.get("any") and not tags & set(t["any"]))
        or tags & set(t.get("none", []))
    ):
        return False
    if e.get("stores") and row["store"] not in e["stores"]:
        return False
    if store_scope is not None and row["store"] not in store_scope:
        return False
    if e.get("source_channels") and row["channel"] not in e["source_channels"]:
        return False
    if e.get("lifecycle") and row["stage"] not in e["lifecycle"]:
        return False
    if e.get("follower_staff") and not any(s in e["follower_staff"] and not gone for s, gone in row["follows"]):
        return False
    if e.get("groups") and not any(g in e["groups"] and not left for g, left in row["groups"]):
        return False
    for key, minutes in (("created", row["created"]), ("last_order", row["last_order"])):
        span = e.get(key) or {}
        if not span:
            continue
        if minutes is None:
            return False
        local_day = at(minutes).astimezone(SH).date().isoformat()
        if ("from" in span and local_day < span["from"]) or ("to" in span and local_day > span["to"]):
            return False
    for key, value in (("ltv", row["ltv"]), ("order_count", row["orders"])):
        span = e.get(key) or {}
        if span.get("min") is not None and value < Decimal(str(span["min"])):
            return False
        if span.get("max") is not None and value > Decimal(str(span["max"])):
            return False
    consent = e.get("consent", "any")
    if consent == "granted":
        return row["consent"] and not row["opted_out"]
    if consent == "not_granted":
        return not row["consent"] and not row["opted_out"]
    if consent == "opted_out":
        return row["opted_out"]
    return True


def remap(e: dict[str, Any], tags: list[int], stores: list[int], staff: list[int], groups: list[int]) -> dict[str, Any]:
    out = dict(e)
    if "tags" in e:
        out["tags"] = {k: [tags[i] for i in v] for k, v in e["tags"].items()}
    for key, ids in (("stores", stores), ("follower_staff", staff), ("groups", groups)):
        if key in e:
            out[key] = [ids[i] for i in e[key]]
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    rows=st.lists(customer_rows(), max_size=14),
    expression=expressions(),
    scope=st.sampled_from([None, (0,), (1,), ()]),
)
def test_compiled_sql_matches_brute_force(
    db: Any, rows: list[dict[str, Any]], expression: dict[str, Any], scope: Any
) -> None:
    with transaction.atomic():
        org = OrganizationFactory()
        noise = CustomerFactory()  # another organization never leaks in
        stores = [StoreFactory(organization=org).pk for _ in range(2)]
        staff = [StaffFactory(organization=org).pk for _ in range(2)]
        groups = [CustomerGroupFactory(organization=org).pk for _ in range(2)]
        tags = [TagFactory(group__organization=org).pk for _ in range(6)]
        customers = Customer.objects.bulk_create(
            Customer(
                organization=org,
                name=f"c{i}",
                home_store_id=stores[r["store"]] if r["store"] is not None else None,
                source_channel=r["channel"],
                lifecycle=r["stage"],
                marketing_consent=r["consent"],
                opted_out_at=at(0) if r["opted_out"] else None,
                created_at=at(r["created"]),
                last_order_at=at(r["last_order"]) if r["last_order"] is not None else None,
                ltv=r["ltv"],
                order_count=r["orders"],
            )
            for i, r in enumerate(rows)
        )
        CustomerTag.objects.bulk_create(
            CustomerTag(organization=org, customer=c, tag_id=tags[t])
            for c, r in zip(customers, rows, strict=True)
            for t in r["tags"]
        )
        services.customer_tag_ids_rebuild(organization_id=org.pk)
        Follow.objects.bulk_create(
            Follow(organization=org, customer=c, staff_id=staff[s], deleted_at=at(0) if gone else None)
            for c, r in zip(customers, rows, strict=True)
            for s, gone in r["follows"]
        )
        CustomerGroupMember.objects.bulk_create(
            CustomerGroupMember(
                organization=org, customer=c, group_id=groups[g], member_id=f"m{c.pk}", left_at=at(0) if left else None
            )
            for c, r in zip(customers, rows, strict=True)
            for g, left in r["groups"]
        )
        store_ids = None if scope is None else frozenset(stores[i] for i in scope)
        real = remap(expression, tags, stores, staff, groups)

        sql, params = segments.compile_sql(organization_id=org.pk, expression=real, store_ids=store_ids)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            got = {row[0] for row in cursor.fetchall()}
            cursor.execute(*segments.count_sql(organization_id=org.pk, expression=real, store_ids=store_ids))
            counted = cursor.fetchone()[0]

        scope_set = None if scope is None else set(scope)
        expected = {c.pk for c, r in zip(customers, rows, strict=True) if python_match(r, expression, scope_set)}
        assert got == expected
        assert counted == len(expected)
        assert noise.pk not in got
        # The same conditions on contacts_customer itself (samples, bulk actions).
        scoped = Actor(user_id=0, organization=org, staff=None, role=Role.OPERATOR, store_ids=store_ids)
        assert set(segments.segment_queryset(actor=scoped, expression=real).values_list("pk", flat=True)) == expected
        transaction.set_rollback(True)


# --- actor scoping, sample, saved segments, index ------------------------------------------------


def test_count_and_sample_are_limited_to_the_store_staff_store(world: Any) -> None:
    tag = TagFactory(group__organization=world.org)
    mine = CustomerFactory(organization=world.org, home_store=world.store_a)
    theirs = CustomerFactory(organization=world.org, home_store=world.store_b)
    for c in (mine, theirs):
        services.customer_tag_add(customer=c, tag=tag)
    expression = {"tags": {"all": [tag.pk]}}
    clerk = actor_for_user(world.store_staff.user)
    operator = actor_for_user(world.operator.user)
    outsider = actor_for_user(world.outsider.user)
    assert segments.segment_count(actor=clerk, expression=expression) == 1
    assert [c.pk for c in segments.segment_sample(actor=clerk, expression=expression)] == [mine.pk]
    assert segments.segment_count(actor=operator, expression=expression) == 2
    assert set(segments.segment_queryset(actor=operator, expression=expression).values_list("pk", flat=True)) == {
        mine.pk,
        theirs.pk,
    }
    assert segments.segment_count(actor=outsider, expression=expression) == 0


def test_segment_save_stores_the_normalized_expression_and_count(world: Any) -> None:
    tag = TagFactory(group__organization=world.org)
    customer = CustomerFactory(organization=world.org)
    services.customer_tag_add(customer=customer, tag=tag)
    operator = actor_for_user(world.operator.user)
    segment = services.segment_save(actor=operator, name="护肤人群", expression={"tags": {"all": [str(tag.pk)]}})
    segment.refresh_from_db()
    assert segment.expression == {"tags": {"all": [tag.pk]}} and segment.last_count == 1
    with pytest.raises(segments.SegmentError, match="已存在"):
        services.segment_save(actor=operator, name="护肤人群", expression={})
    assert Segment.objects.filter(organization=world.org).count() == 1


def test_compiled_sql_feeds_insert_select() -> None:
    org = OrganizationFactory()
    tag = TagFactory(group__organization=org)
    members = [CustomerFactory(organization=org) for _ in range(3)]
    services.customers_tag_bulk(organization=org, tag=tag, customer_ids=[c.pk for c in members[:2]])
    sql, params = segments.compile_sql(organization_id=org.pk, expression={"tags": {"all": [tag.pk]}})
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE picked (id bigint)")
        cursor.execute(f"INSERT INTO picked (id) {sql}", params)
        cursor.execute("SELECT id FROM picked ORDER BY id")
        assert [r[0] for r in cursor.fetchall()] == sorted(c.pk for c in members[:2])


def test_tag_part_is_served_by_the_composite_gin_index() -> None:
    org = OrganizationFactory()
    with connection.cursor() as cursor:
        # 30,000 customers, tag 7 rare (1 in 3,000): the planner should go through the composite GIN.
        cursor.execute(
            """
            INSERT INTO contacts_customer (organization_id, name, gender, avatar, phone_encrypted, phone_hash, unionid,
                source_channel, first_touch, lifecycle, marketing_consent, consent_source, opt_out_source, attributes,
                tag_ids, ltv, order_count, avg_order_value, rfm_r, rfm_f, rfm_m, rfm_segment, created_at, updated_at)
            SELECT %s, 'c' || g, 0, '', '', '', '', 'wecom', '{}', 'lead', true, '', '', '{}',
                   CASE WHEN g %% 3000 = 0 THEN ARRAY[1, 7] ELSE ARRAY[1, 2 + g %% 3] END,
                   0, 0, 0, 0, 0, 0, '', now(), now()
              FROM generate_series(1, 30000) g
            """,
            [org.pk],
        )
        # Merge the GIN's pending list (what autovacuum would do): its unmerged entries otherwise make
        # the planner's estimate for the GIN depend on timing.
        cursor.execute("SELECT gin_clean_pending_list('segmentfact_org_tags_gin'::regclass)")
        cursor.execute("ANALYZE contacts_segmentfact")
        cursor.execute("SET LOCAL enable_seqscan = off")  # small table; at scale a scan never wins
        sql, params = segments.count_sql(organization_id=org.pk, expression={"tags": {"all": [7], "none": [3]}})
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(r[0] for r in cursor.fetchall())
        assert "segmentfact_org_tags_gin" in plan, plan
        cursor.execute(sql, params)
        assert cursor.fetchone()[0] == 10
