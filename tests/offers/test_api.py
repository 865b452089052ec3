"""The offers REST API: owner / same-organization user without the right / outsider on each door,
bad input → 400 naming the field with nothing changed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from analytics.models import Order
from contacts.models import Segment
from offers import services
from offers.models import CouponTemplate, IssuedCoupon, Redemption
from tests.factories import CustomerFactory
from tests.offers.helpers import template

pytestmark = pytest.mark.django_db

NEW = {"name": "满100减20", "kind": "amount", "amount_off": "20", "threshold": "100", "validity": "relative",
       "valid_days": 30, "stock": 500}  # fmt: skip


def test_an_operator_creates_a_template_and_others_may_not(world):
    op = world.client_for(world.operator)
    response = op.post("/api/v1/coupons/templates/", NEW, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["benefit"] == "满 ¥100 减 ¥20" and body["kind_label"] == "立减金额" and body["remaining"] == 500
    assert (
        world.client_for(world.manager)
        .post("/api/v1/coupons/templates/", NEW, content_type="application/json")
        .status_code
        == 403
    )
    assert world.client_for(world.manager).get("/api/v1/coupons/templates/").json()["count"] == 1
    assert world.client_for(world.store_staff).get("/api/v1/coupons/templates/").status_code == 403
    assert world.client_for(world.outsider).get("/api/v1/coupons/templates/").json()["count"] == 0
    assert world.client_for(world.outsider).get(f"/api/v1/coupons/templates/{body['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "percent", "amount_off": None}, "percent_off"),
        ({"validity": "fixed"}, "valid_to"),
        ({"stock": 0}, "stock"),
        ({"kind": "coupon"}, "kind"),
        ({"store_ids": [999999]}, "store_ids"),
    ],
)
def test_a_bad_template_is_a_400_naming_the_field(world, change, field):
    response = world.client_for(world.operator).post(
        "/api/v1/coupons/templates/", {**NEW, **change}, content_type="application/json"
    )
    assert response.status_code == 400 and field in response.json(), response.content
    assert not CouponTemplate.objects.exists()


def test_patch_cannot_lower_stock_below_issued(world):
    t = template(world.org, stock=5, per_customer_limit=3)
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    for _ in range(3):
        services.coupon_issue(template=t, customer=c)
    op = world.client_for(world.operator)
    response = op.patch(f"/api/v1/coupons/templates/{t.pk}/", {"stock": 2}, content_type="application/json")
    assert response.status_code == 400 and "stock" in response.json()
    response = op.patch(f"/api/v1/coupons/templates/{t.pk}/", {"stock": 9}, content_type="application/json")
    assert response.status_code == 200 and response.json()["remaining"] == 6


def test_issue_to_a_customer_group_or_segment_through_the_api(world):
    t = template(world.org)
    mine = CustomerFactory(organization=world.org, home_store=world.store_a)
    other_store = CustomerFactory(organization=world.org, home_store=world.store_b)
    clerk = world.client_for(world.store_staff)
    response = clerk.post(
        "/api/v1/coupons/issue/", {"template_id": t.pk, "customer_id": mine.pk}, content_type="application/json"
    )
    assert response.status_code == 201 and response.json()["issued"] == 1
    assert response.json()["coupons"][0]["link"].startswith("http")
    # Another store's customer is not found for a store staff member; nothing is issued.
    response = clerk.post(
        "/api/v1/coupons/issue/", {"template_id": t.pk, "customer_id": other_store.pk}, content_type="application/json"
    )
    assert response.status_code == 400 and "customer_id" in response.json()
    response = clerk.post(
        "/api/v1/coupons/issue/", {"template_id": t.pk, "customer_id": mine.pk}, content_type="application/json"
    )
    assert response.status_code == 400 and "每人限领" in response.json()["customer_id"][0]
    segment = Segment.objects.create(organization=world.org, name="全部", expression={})
    response = clerk.post(
        "/api/v1/coupons/issue/", {"template_id": t.pk, "segment_id": segment.pk}, content_type="application/json"
    )
    assert response.status_code == 400 and "segment_id" in response.json()
    response = world.client_for(world.operator).post(
        "/api/v1/coupons/issue/", {"template_id": t.pk, "segment_id": segment.pk}, content_type="application/json"
    )
    assert response.status_code == 201 and (response.json()["issued"], response.json()["at_limit"]) == (1, 1)
    outsider = world.client_for(world.outsider)
    response = outsider.post(
        "/api/v1/coupons/issue/", {"template_id": t.pk, "customer_id": mine.pk}, content_type="application/json"
    )
    assert response.status_code == 400 and "template_id" in response.json()
    assert IssuedCoupon.objects.count() == 2


def redeem_body(code: str, **kw: Any) -> dict[str, Any]:
    return {"code": code, "external_ref": "MALL-0001", "amount": "128.00", "store_code": "A", **kw}


def test_pos_redemption_is_idempotent_by_external_ref_and_refuses_a_second_order(world):
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    coupon = services.coupon_issue(template=template(world.org), customer=c)
    pos = world.client_for(world.manager)
    first = pos.post("/api/v1/coupons/redeem/", redeem_body(coupon.code), content_type="application/json")
    assert first.status_code == 201, first.content
    assert first.json()["code"] == coupon.code and first.json()["staff"] == world.manager.pk
    again = pos.post("/api/v1/coupons/redeem/", redeem_body(coupon.code), content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = pos.post(
        "/api/v1/coupons/redeem/", redeem_body(coupon.code, external_ref="MALL-0002"), content_type="application/json"
    )
    assert other.status_code == 400 and "code" in other.json()
    order = Order.objects.get()
    assert (order.source, order.external_ref, order.amount) == ("pos_import", "MALL-0001", Decimal("128.00"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": ""}, "code"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"store_code": "B"}, "store_code"),
        ({"store_code": "NOPE"}, "store_code"),
        ({"store_code": None, "store_id": None}, "store_code"),
        ({"external_ref": ""}, "external_ref"),
        ({"code": "AAAAAAAA"}, "code"),
    ],
)
def test_bad_redemption_input_is_a_400_naming_the_field_and_changes_nothing(world, change, field):
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    coupon = services.coupon_issue(template=template(world.org), customer=c)
    body = {k: v for k, v in {**redeem_body(coupon.code), **change}.items() if v is not None}
    response = world.client_for(world.manager).post("/api/v1/coupons/redeem/", body, content_type="application/json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert not Redemption.objects.exists() and not Order.objects.exists()


def test_the_outsider_cannot_redeem_another_brands_code(world):
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    coupon = services.coupon_issue(template=template(world.org), customer=c)
    response = world.client_for(world.outsider).post(
        "/api/v1/coupons/redeem/", redeem_body(coupon.code, store_code="X"), content_type="application/json"
    )
    assert response.status_code == 400 and "code" in response.json()
    assert (
        world.client_for(world.no_role)
        .post("/api/v1/coupons/redeem/", redeem_body(coupon.code), content_type="application/json")
        .status_code
        == 403
    )
    assert not Redemption.objects.exists()


def test_coupons_list_and_report_are_scoped(world):
    t = template(world.org)
    a = CustomerFactory(organization=world.org, home_store=world.store_a)
    b = CustomerFactory(organization=world.org, home_store=world.store_b)
    services.coupon_issue(template=t, customer=a)
    services.coupon_issue(template=t, customer=b)
    assert world.client_for(world.operator).get("/api/v1/coupons/").json()["count"] == 2
    assert world.client_for(world.store_staff).get("/api/v1/coupons/").json()["count"] == 1
    assert world.client_for(world.outsider).get("/api/v1/coupons/").json()["count"] == 0
    [row] = world.client_for(world.operator).get("/api/v1/coupons/report/").json()["results"]
    assert (row["issued"], row["redeemed"], row["redemption_rate"]) == (2, 0, 0.0)
    [row] = world.client_for(world.store_staff).get("/api/v1/coupons/report/").json()["results"]
    assert row["issued"] == 1


OFFERS_PATHS = {
    "/api/v1/coupons/templates/": {"get", "post"},
    "/api/v1/coupons/templates/{id}/": {"get", "patch"},
    "/api/v1/coupons/": {"get"},
    "/api/v1/coupons/issue/": {"post"},
    "/api/v1/coupons/redeem/": {"post"},
    "/api/v1/coupons/report/": {"get"},
}


def test_every_coupon_operation_is_documented_with_a_summary_and_an_example(world):
    schema = world.client_for(world.operator).get("/api/v1/schema/", {"format": "json"}).json()
    for path, methods in OFFERS_PATHS.items():
        ops = schema["paths"][path]
        assert methods <= set(ops), path
        for method in methods:
            op = ops[method]
            assert op.get("summary"), (method, path)
            examples = [
                e
                for r in op["responses"].values()
                for c in (r.get("content") or {}).values()
                for e in (c.get("examples") or {}).values()
            ]
            assert examples, (method, path)
    redeem = schema["components"]["schemas"]["RedeemInRequest"]["properties"]
    assert {"code", "external_ref", "amount", "store_code"} <= set(redeem)
