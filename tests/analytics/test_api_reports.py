"""/api/v1/reports/<name>/: each report page as JSON — the page's roles, filters and scope (a store or
staff member outside one's scope is a 403, as on the page), the figures equal to raw orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from analytics import reports
from analytics.models import Order
from contacts.services.organization import api_token_create
from tests.analytics.factories import SH, at, record
from tests.factories import CustomerFactory

NAMES = ["overview", "ltv", "repurchase", "cohorts", "rfm", "funnel", "staff", "predict"]
OPERATOR_AND_MANAGER_ONLY = {"ltv", "repurchase", "cohorts", "rfm", "funnel", "predict"}
RANGE = {"start": "2026-03-01", "end": "2026-05-31"}


@pytest.fixture
def sales(world):
    a1 = CustomerFactory(organization=world.org, home_store=world.store_a)
    a2 = CustomerFactory(organization=world.org, home_store=world.store_a)
    b1 = CustomerFactory(organization=world.org, home_store=world.store_b)
    rival = CustomerFactory(organization=world.other_org, home_store=world.other_store)
    record(a1, "100.00", at(2026, 3, 2), "A1-1", store=world.store_a)
    record(a1, "250.50", at(2026, 4, 10), "A1-2", store=world.store_a)
    record(a2, "80.00", at(2026, 5, 31, 23), "A2-1", store=world.store_a)
    record(b1, "999.00", at(2026, 4, 1), "B1-1", store=world.store_b)
    record(b1, "10.00", at(2026, 6, 1, 1), "B1-LATE", store=world.store_b)  # outside the range (Beijing day)
    record(rival, "5000.00", at(2026, 4, 1), "R-1", store=world.other_store)
    return world


def _stat(body: dict, label: str):
    return next(s["value"] for s in body["stats"] if s["label"] == label)


@pytest.mark.parametrize("name", NAMES)
def test_operator_gets_each_report_as_the_page_builds_it(sales, name):
    world = sales
    resp = world.client_for(world.operator).get(f"/api/v1/reports/{name}/", RANGE)
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["name"] == name and body["title"]
    assert body["filter"] == {
        "start": "2026-03-01",
        "end": "2026-05-31",
        "store_ids": None,
        "channel": "",
        "staff_id": None,
    }
    assert all(set(t) == {"key", "title", "note", "columns", "rows"} for t in body["tables"])
    for table in body["tables"]:
        assert all(len(row) == len(table["columns"]) for row in table["rows"])
    # The page renders the same report from the same filter.
    page = world.client_for(world.operator).get(f"/reports/{name}/", RANGE)
    assert page.status_code == 200
    assert page.context["report"].title == body["title"]
    assert [str(s.label) for s in page.context["report"].stats] == [s["label"] for s in body["stats"]]


def test_overview_figures_equal_the_raw_orders_and_follow_the_store_filter(sales):
    world = sales
    op = world.client_for(world.operator)
    body = op.get("/api/v1/reports/overview/", RANGE).json()
    in_range = Order.objects.filter(
        organization=world.org,
        paid_at__gte=dt.datetime(2026, 3, 1, tzinfo=SH),
        paid_at__lt=dt.datetime(2026, 6, 1, tzinfo=SH),
    )
    assert _stat(body, "订单数") == in_range.count() == 4
    assert Decimal(_stat(body, "GMV（扣除退款）")) == sum(o.amount for o in in_range) == Decimal("1429.50")
    daily = next(t for t in body["tables"] if t["key"] == "daily")
    assert daily["rows"][0][0] == "2026-05-31"  # 23:00 Beijing on the 31st is the 31st
    store_a = op.get("/api/v1/reports/overview/", {**RANGE, "store": world.store_a.pk}).json()
    assert store_a["filter"]["store_ids"] == [world.store_a.pk]
    assert Decimal(_stat(store_a, "GMV（扣除退款）")) == Decimal("430.50")


def test_the_pages_roles_per_report(sales):
    world = sales
    clerk = world.client_for(world.store_staff)
    for name in NAMES:
        expected = 403 if name in OPERATOR_AND_MANAGER_ONLY else 200
        assert clerk.get(f"/api/v1/reports/{name}/").status_code == expected, name
        assert clerk.get(f"/reports/{name}/").status_code == expected, name
        assert world.client_for(world.manager).get(f"/api/v1/reports/{name}/").status_code == 200
        assert world.client_for(world.no_role).get(f"/api/v1/reports/{name}/").status_code == 403
    # Store staff see their own figures only, whatever they ask for.
    own = clerk.get("/api/v1/reports/staff/", {"staff": world.operator.pk}).json()
    assert own["filter"]["staff_id"] == world.store_staff.pk


def test_a_store_or_staff_outside_ones_scope_is_a_403_as_on_the_page(sales):
    world = sales
    manager = world.client_for(world.manager)
    assert manager.get("/api/v1/reports/overview/", {"store": world.store_b.pk}).status_code == 403
    assert manager.get("/reports/", {"store": world.store_b.pk}).status_code == 403
    mine = manager.get("/api/v1/reports/overview/", RANGE).json()
    assert mine["filter"]["store_ids"] == [world.store_a.pk]
    assert Decimal(_stat(mine, "GMV（扣除退款）")) == Decimal("430.50")
    op = world.client_for(world.operator)
    assert op.get("/api/v1/reports/overview/", {"store": world.other_store.pk}).status_code == 403
    assert op.get("/api/v1/reports/staff/", {"staff": world.outsider.pk}).status_code == 403
    # The outsider reads their own brand only.
    outsider = world.client_for(world.outsider).get("/api/v1/reports/overview/", RANGE)
    assert outsider.status_code == 200 and Decimal(_stat(outsider.json(), "GMV（扣除退款）")) == Decimal("5000.00")
    assert world.client_for(world.outsider).get("/api/v1/reports/ltv/", {"store": world.store_a.pk}).status_code == 403


def test_bad_filters_are_400s_naming_the_parameter(sales):
    op = sales.client_for(sales.operator)
    for params, field in (
        ({"start": "2026-13-01"}, "start"),
        ({"end": "3000-01-01"}, "end"),
        ({"channel": "fax"}, "channel"),
        ({"store": "abc"}, "store"),
        ({"staff": "-1"}, "staff"),
    ):
        resp = op.get("/api/v1/reports/ltv/", params)
        assert resp.status_code == 400 and field in resp.json(), params
    assert op.get("/api/v1/reports/nope/").status_code == 404


def test_defaults_are_the_pages(sales):
    body = sales.client_for(sales.operator).get("/api/v1/reports/staff/").json()
    start, end = dt.date.fromisoformat(body["filter"]["start"]), dt.date.fromisoformat(body["filter"]["end"])
    assert (end - start).days + 1 == 30  # the staff page's default window
    f = reports.ReportFilter(organization_id=sales.org.pk, start=start, end=end)
    assert body["title"] == reports.REPORTS["staff"](f).title


def test_an_api_token_reads_a_report(sales):
    _row, secret = api_token_create(staff=sales.operator, by=sales.operator, name="BI", days=30)
    resp = Client().get("/api/v1/reports/rfm/", RANGE, HTTP_AUTHORIZATION=f"Token {secret}")
    assert resp.status_code == 200 and resp.json()["name"] == "rfm"
