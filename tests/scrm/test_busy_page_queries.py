"""Query counts of the pages the load benchmark drives (bench/load.py), pinned.

Each page is read at two sizes of the same brand; the count must stay within its pin at both, so a
page that starts issuing one query per row (or per tag, follow, order) fails here long before it is
slow under load."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.services import order_record
from contacts.models import CustomerTag, Identity, Note, Platform
from contacts.services import api_token_create
from tests.factories import CustomerFactory, FollowFactory, StaffFactory, TagFactory, TagGroupFactory

# page → (method, path, pin). A pin is the page's query count today; raise it only
# with a reason in the commit message.
PAGES = {
    "customer_list": ("GET", "/customers/", 27),
    "customer_search": ("GET", "/customers/?q=顾客", 27),
    "customer_profile": ("GET", "profile", 41),
    "segment_preview": ("POST", "/segments/preview/", 28),
    "reports_overview": ("GET", "/reports/", 26),
    "api_customers": ("API", "/api/v1/customers/", 7),
    "api_customers_tag": ("API", "/api/v1/customers/?tag={tag}", 7),
    "api_orders": ("API", "/api/v1/orders/", 6),
    "api_tags": ("API", "/api/v1/tags/", 5),
}


def grow(world, n: int, tags: list, staff: list, start: int) -> list:
    """``n`` more customers, each with tags, a WeCom identity, a follow, a note and two orders."""
    customers = []
    now = timezone.now()
    for i in range(start, start + n):
        c = CustomerFactory(
            organization=world.org, name=f"顾客{i}", home_store=world.store_a if i % 2 else world.store_b
        )
        for t in tags[: 1 + i % len(tags)]:
            CustomerTag.objects.create(organization=world.org, customer=c, tag=t)
        c.tag_ids = sorted(t.pk for t in tags[: 1 + i % len(tags)])
        c.save(update_fields=["tag_ids"])
        Identity.objects.create(organization=world.org, customer=c, platform=Platform.WECOM, external_id=f"wm{i}")
        FollowFactory(customer=c, staff=staff[i % len(staff)], remark=f"备注{i}")
        Note.objects.create(organization=world.org, customer=c, author=staff[0], body=f"笔记{i}")
        for k in range(2):
            order_record(
                organization=world.org, customer=c, store=c.home_store, amount=Decimal("99.00") + k,
                paid_at=now - timedelta(days=k * 7 + i), source="pos", external_ref=f"o{i}-{k}",
                staff=staff[i % len(staff)], items=[{"name": "面霜", "qty": 1}],
            )  # fmt: skip
        customers.append(c)
    return customers


@pytest.fixture
def brand(world):
    group = TagGroupFactory(organization=world.org, name="兴趣")
    tags = [TagFactory(group=group, name=f"标签{i}") for i in range(4)]
    staff = [StaffFactory(organization=world.org, store=world.store_a, name=f"导购{i}") for i in range(3)]
    _token, secret = api_token_create(staff=world.operator, by=None, name="查询数", days=1)
    return {"tags": tags, "staff": staff, "token": secret}


def request(world, brand, name: str, profile_id: int):
    method, path, _pin = PAGES[name]
    path = path.format(tag=brand["tags"][0].pk)
    if path == "profile":
        path = f"/customers/{profile_id}/"
    if method == "API":
        from django.test import Client

        response = Client(HTTP_AUTHORIZATION=f"Token {brand['token']}").get(path)
    elif method == "POST":
        body = {"expression": {"tags": {"any": [t.pk for t in brand["tags"][:2]]}, "stores": [world.store_a.pk]}}
        response = world.client_for(world.operator).post(path, json.dumps(body), content_type="application/json")
    else:
        response = world.client_for(world.operator).get(path)
    assert response.status_code == 200, (name, response.status_code)
    return response


@pytest.mark.parametrize("name", list(PAGES))
def test_a_busy_page_keeps_its_query_count_as_the_brand_grows(world, brand, name, django_assert_max_num_queries):
    small = grow(world, 3, brand["tags"], brand["staff"], 0)
    request(world, brand, name, small[0].pk)  # warm caches (content types, sessions) outside the count
    with django_assert_max_num_queries(PAGES[name][2]):
        request(world, brand, name, small[0].pk)
    big = grow(world, 25, brand["tags"], brand["staff"], 3)
    with django_assert_max_num_queries(PAGES[name][2]):
        request(world, brand, name, big[-1].pk)


@pytest.mark.parametrize(
    "name", ["customer_list", "customer_search", "api_customers", "api_customers_tag", "api_orders"]
)
def test_a_list_page_never_counts_the_whole_brand(world, brand, name):
    """Each COUNT is bounded (scrm/pagination.py: at most COUNT_LIMIT rows past the page)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = grow(world, 3, brand["tags"], brand["staff"], 0)
    with CaptureQueriesContext(connection) as ctx:
        request(world, brand, name, small[0].pk)
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(*)" in q["sql"]]
    assert counts and all("LIMIT 10001" in sql for sql in counts), counts


def test_the_overview_reads_the_acquisition_cells_not_every_customer(world, brand):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    grow(world, 3, brand["tags"], brand["staff"], 0)
    with CaptureQueriesContext(connection) as ctx:
        request(world, brand, "reports_overview", 0)
    customer_reads = [q["sql"] for q in ctx.captured_queries if "FROM contacts_customer c" in q["sql"]]
    # The only customers read live are today's, beside the cells of every earlier day.
    assert len(customer_reads) == 1 and "analytics_acquisitionmonth" in customer_reads[0]
    assert "c.created_at >= " in customer_reads[0]
