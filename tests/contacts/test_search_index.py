"""The customer search is answered from indexes (trigram ILIKE on names and remarks), at any size."""

from __future__ import annotations

from django.db import connection

from contacts.models import Customer
from contacts.selectors import customer_search_q
from tests.contacts.views_fixtures import People, people  # noqa: F401  (fixture)
from tests.factories import CustomerFactory, FollowFactory


def sql_of(q: str) -> str:
    return str(Customer.objects.filter(customer_search_q(q)).query)


def test_the_search_compiles_to_ilike_which_the_trigram_indexes_serve(db):
    sql = sql_of("王小丽")
    assert "ILIKE" in sql and "UPPER(" not in sql  # icontains' UPPER(name) LIKE … no index can serve
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname IN ('customer_name_trgm', 'follow_remark_trgm')"
        )
        defs = sorted(r[0] for r in cursor.fetchall())
    assert len(defs) == 2 and all("gin_trgm_ops" in d for d in defs)


def plan_of(q: str) -> str:
    sql, params = Customer.objects.filter(customer_search_q(q)).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is tiny: make the choice visible
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in cursor.fetchall())


def test_a_query_shorter_than_a_trigram_is_served_by_the_short_gram_indexes(db):
    # 王芳 (two characters, four in ten Chinese names) and 王 have no trigram: the trigram index would
    # read every row for them. The one- and two-character gram indexes answer instead.
    for q in ("王芳", "王"):
        sql = sql_of(q)
        assert "scrm_short_grams" in sql and "ILIKE" not in sql
        plan = plan_of(q)
        assert "customer_name_short_grams" in plan and "follow_remark_short_grams" in plan, plan
        assert "trgm" not in plan


def test_the_matches_are_fetched_by_primary_key_whatever_their_estimate(db):
    """The index look-ups run first as one array and the customers are fetched by id: with ``pk IN
    (subquery)`` a look-up the planner overestimates (a default selectivity for ``@>`` on the gram
    index of remarks) made Postgres hash the matches and scan every customer of the brand."""
    for q in ("王芳", "王小丽", "1234"):
        sql = sql_of(q)
        assert '"contacts_customer"."id" = ANY(ARRAY(' in sql, sql
        with connection.cursor() as cursor:
            # Even with a sequential scan and a hash join at the planner's disposal, as at 1M customers.
            cursor.execute("SET LOCAL enable_nestloop = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
            sql_, params = Customer.objects.filter(customer_search_q(q)).query.sql_with_params()
            cursor.execute("EXPLAIN " + sql_, params)
            plan = "\n".join(r[0] for r in cursor.fetchall())
        assert "contacts_customer_pkey" in plan and "Hash Join" not in plan, plan


def test_short_queries_match_anywhere_in_the_name_or_remark(world):
    CustomerFactory(organization=world.org, name="李王芳")
    CustomerFactory(organization=world.org, name="王芳")
    CustomerFactory(organization=world.org, name="王小芳")
    by_remark = CustomerFactory(organization=world.org, name="陈")
    FollowFactory(customer=by_remark, staff=world.store_staff, remark="VIP王芳")
    found = lambda q: set(Customer.objects.filter(customer_search_q(q)).values_list("name", flat=True))  # noqa: E731
    assert found("王芳") == {"李王芳", "王芳", "陈"}
    assert found("芳") == {"李王芳", "王芳", "王小芳", "陈"}
    assert found("vi") == {"陈"}  # any case, as ILIKE
    assert found("王芳x") == set()


def test_the_search_still_finds_by_name_remark_and_phone(people: People):  # noqa: F811
    org = people.world.org

    def found(q):
        return set(
            Customer.objects.filter(organization=org).filter(customer_search_q(q)).values_list("name", flat=True)
        )

    assert found("小丽") == {"王小丽"}
    assert found("vip") == {"王小丽"}  # a follower's remark, any case
    assert found("13900001111") == {"李大明"}
    assert found("1111") == {"李大明"}


def test_like_wildcards_in_the_query_are_literal(world):
    CustomerFactory(organization=world.org, name="百分之百%会员")
    CustomerFactory(organization=world.org, name="普通会员")
    other = CustomerFactory(organization=world.org, name="下划线")
    FollowFactory(customer=other, staff=world.store_staff, remark="a_b")
    found = lambda q: set(Customer.objects.filter(customer_search_q(q)).values_list("name", flat=True))  # noqa: E731
    assert found("%会员") == {"百分之百%会员"}
    assert found("%") == {"百分之百%会员"}
    assert found("a_b") == {"下划线"} and found("_") == {"下划线"}
