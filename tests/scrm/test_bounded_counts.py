"""List counts are bounded (scrm/pagination.py): a page counts at most COUNT_LIMIT rows past where it
is, says "N+" past that, and its next-page link stays right however deep it is."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Customer
from scrm import pagination
from scrm.pagination import BoundedPaginator
from tests.factories import CustomerFactory


@pytest.fixture
def twelve(world):
    for i in range(12):
        CustomerFactory(organization=world.org, name=f"计数{i}")
    return world


def test_the_paginator_counts_to_its_bound_and_says_so(twelve):
    qs = Customer.objects.filter(organization=twelve.org).order_by("-created_at", "-id")
    capped = BoundedPaginator(qs, 5, limit=10)
    assert (capped.count, capped.capped, capped.count_display, capped.pages_display) == (10, True, "10+", "2+")
    page = capped.get_page(2)
    assert page.has_next()  # the bound is full pages; there are rows past it
    assert page.next_page_number() == 3 and len(capped.get_page(3)) == 2 and capped.count == 12  # counted again
    deep = BoundedPaginator(qs, 5, near_page="3", limit=10)  # the bound reaches one page past page 3
    assert (deep.count, deep.capped, deep.count_display) == (12, False, "12")
    assert not deep.get_page(3).has_next() and len(deep.get_page(3)) == 2
    for junk in ("", "abc", "-1", "99999999999999", "１"):  # a bad ?page= is page 1, as get_page treats it
        assert BoundedPaginator(qs, 5, near_page=junk, limit=10).bound == 10


def test_the_count_reads_at_most_bound_plus_one_rows_and_no_sort(twelve):
    qs = Customer.objects.filter(organization=twelve.org).order_by("-created_at", "-id")
    with CaptureQueriesContext(connection) as ctx:
        assert BoundedPaginator(qs, 5, limit=10).count == 10
    (sql,) = [q["sql"] for q in ctx.captured_queries]
    assert "COUNT(*)" in sql and "LIMIT 11" in sql and "ORDER BY" not in sql


def test_the_customer_list_shows_a_capped_total_and_keeps_paging(twelve, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_LIMIT", 10)
    client = twelve.client_for(twelve.operator)
    page = client.get("/customers/").content.decode()  # 25 a page: the bound is max(0, 2 pages) = 50
    assert 'data-testid="customer-total">12<' in page and "count-capped" not in page
    monkeypatch.setattr("contacts.views.customers.PAGE_SIZE", 5)
    page = client.get("/customers/").content.decode()
    assert 'data-testid="customer-total">10+<' in page and 'data-testid="count-capped"' in page
    assert "第 1 / 2+ 页" in page and "page=2" in page
    last = client.get("/customers/?page=2").content.decode()  # the bound moves one page past page 2
    assert 'data-testid="customer-total">12<' in last and "page=3" in last


def test_the_api_count_is_bounded_and_next_links_survive_the_bound(twelve, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_LIMIT", 5)
    client = twelve.client_for(twelve.operator)
    first = client.get("/api/v1/customers/?limit=2").json()
    assert (first["count"], first["count_capped"], len(first["results"])) == (5, True, 2)
    assert "offset=2" in first["next"]
    edge = client.get("/api/v1/customers/?limit=2&offset=4").json()  # bound: offset + limit = 6 < 12
    assert (edge["count"], edge["count_capped"]) == (6, True) and "offset=6" in edge["next"]
    end = client.get("/api/v1/customers/?limit=2&offset=10").json()
    assert (end["count"], end["count_capped"], end["next"], len(end["results"])) == (12, False, None, 2)
