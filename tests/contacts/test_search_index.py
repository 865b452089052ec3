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
    sql = sql_of("小丽")
    assert "ILIKE" in sql and "UPPER(" not in sql  # icontains' UPPER(name) LIKE … no index can serve
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname IN ('customer_name_trgm', 'follow_remark_trgm')")
        defs = sorted(r[0] for r in cursor.fetchall())
    assert len(defs) == 2 and all("gin_trgm_ops" in d for d in defs)


def test_the_search_still_finds_by_name_remark_and_phone(people: People):  # noqa: F811
    org = people.world.org
    found = lambda q: set(Customer.objects.filter(organization=org).filter(customer_search_q(q)).values_list("name", flat=True))  # noqa: E731
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
