"""GET /api/v1/customers/{id}/orders/: a customer's orders, paginated, newest first, scoped like the
customer detail (another organization's or another store's customer is a 404)."""

from __future__ import annotations

from django.test import Client

from tests.analytics.factories import at, record
from tests.factories import CustomerFactory


def _url(customer_id: int) -> str:
    return f"/api/v1/customers/{customer_id}/orders/"


def _history(world):
    buyer_a = CustomerFactory(organization=world.org, home_store=world.store_a)
    buyer_b = CustomerFactory(organization=world.org, home_store=world.store_b)
    old = record(buyer_a, 100, at(2026, 3, 1), "A-OLD")
    new = record(buyer_a, 250, at(2026, 5, 1), "A-NEW")
    mid = record(buyer_a, 80, at(2026, 4, 1), "A-MID")
    record(buyer_b, 999, at(2026, 4, 2), "B-1")
    return buyer_a, buyer_b, [new, mid, old]


def test_operator_gets_the_customers_orders_newest_first_paginated(world):
    buyer_a, _, orders = _history(world)
    client = world.client_for(world.operator)
    resp = client.get(_url(buyer_a.pk))
    assert resp.status_code == 200
    body = resp.json()
    assert body["count"] == 3
    assert [o["id"] for o in body["results"]] == [o.pk for o in orders]
    assert {o["customer"] for o in body["results"]} == {buyer_a.pk}
    assert body["results"][0]["store_name"] == "A店" and body["results"][0]["amount"] == "250.00"
    page = client.get(_url(buyer_a.pk), {"limit": 2, "offset": 1}).json()
    assert page["count"] == 3 and [o["id"] for o in page["results"]] == [o.pk for o in orders[1:]]
    assert page["previous"] is not None and page["next"] is None


def test_bad_pagination_is_a_400_naming_the_parameter(world):
    buyer_a, _, _ = _history(world)
    resp = world.client_for(world.operator).get(_url(buyer_a.pk), {"limit": "-1"})
    assert resp.status_code == 400 and "limit" in resp.json()
    # Present but empty is no integer either (schemathesis: "offset=" was accepted as 0).
    empty = world.client_for(world.operator).get(_url(buyer_a.pk) + "?offset=")
    assert empty.status_code == 400 and "offset" in empty.json()


def test_customer_without_orders_is_an_empty_page(world):
    lone = CustomerFactory(organization=world.org, home_store=world.store_a)
    body = world.client_for(world.operator).get(_url(lone.pk)).json()
    assert body["count"] == 0 and body["results"] == []


def test_store_scoped_roles_see_only_their_stores_customers(world):
    buyer_a, buyer_b, orders = _history(world)
    for staff in (world.manager, world.store_staff):
        client = world.client_for(staff)
        mine = client.get(_url(buyer_a.pk))
        assert mine.status_code == 200
        assert [o["id"] for o in mine.json()["results"]] == [o.pk for o in orders]
        # Store B's customer is not confirmed to exist: a 404, as on the customer detail.
        other = client.get(_url(buyer_b.pk))
        assert other.status_code == 404
        assert client.get(f"/api/v1/customers/{buyer_b.pk}/").status_code == 404


def test_outsider_and_unknown_ids_get_404(world):
    buyer_a, _, _ = _history(world)
    outsider = world.client_for(world.outsider)
    resp = outsider.get(_url(buyer_a.pk))
    assert resp.status_code == 404
    assert "results" not in resp.json()
    assert world.client_for(world.operator).get(_url(buyer_a.pk + 10_000)).status_code == 404


def test_no_role_and_anonymous_are_refused(world):
    buyer_a, _, _ = _history(world)
    assert world.client_for(world.no_role).get(_url(buyer_a.pk)).status_code == 403
    assert Client().get(_url(buyer_a.pk)).status_code in (401, 403)


def test_schema_documents_the_endpoint_with_example_and_404(world):
    schema = world.client_for(world.operator).get("/api/v1/schema/", {"format": "json"}).json()
    op = schema["paths"]["/api/v1/customers/{id}/orders/"]["get"]
    assert "404" in op["responses"]
    content = op["responses"]["200"]["content"]["application/json"]
    example = next(iter(content["examples"].values()))["value"]
    assert example["results"][0]["external_ref"] == "POS-20261120-0031"
