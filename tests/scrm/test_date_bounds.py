"""Every API date/datetime: 1970–2100, offsets within ±14:00, output RFC 3339 with a fixed +08:00."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from analytics.models import Order
from contacts.serializers import CustomerSerializer
from scrm.fields import BoundedDateTimeField
from tests.factories import CustomerFactory

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def buyer(world):
    return CustomerFactory(organization=world.org, home_store=world.store_a, phone="13800000001")


def _post(world, paid_at: str):
    body = {"external_ref": "D-1", "phone": "13800000001", "amount": "10.00", "paid_at": paid_at}
    return world.client_for(world.operator).post("/api/v1/orders/", body, content_type="application/json")


@pytest.mark.parametrize(
    ("paid_at", "reason"),
    [
        ("1900-06-01T10:00:00+08:00", "1970-01-01"),
        ("2101-01-01T10:00:00+08:00", "2100-12-31"),
        ("2026-05-01T10:00:00+15:00", "-14:00"),
        ("2026-05-01T10:00:00-23:59", "-14:00"),
    ],
)
def test_order_dates_out_of_bounds_answer_400_naming_the_field_and_change_nothing(world, buyer, paid_at, reason):
    r = _post(world, paid_at)
    assert r.status_code == 400, r.content
    assert reason in r.json()["paid_at"][0]
    assert not Order.objects.exists()


def test_order_dates_at_the_bounds_and_wide_valid_offsets_are_accepted(world, buyer):
    assert _post(world, "2026-05-01T10:00:00+14:00").status_code == 201
    r = world.client_for(world.operator).get("/api/v1/orders/")
    assert r.json()["results"][0]["paid_at"] == "2026-05-01T04:00:00+08:00"


def test_order_list_filters_refuse_out_of_range_offsets_and_dates_with_400(world):
    client = world.client_for(world.operator)
    for value in ("2026-01-01T00:00:00+23:00", "1800-01-01T00:00:00+08:00"):
        r = client.get("/api/v1/orders/", {"paid_after": value})
        assert r.status_code == 400, (value, r.content)
        assert "paid_after" in r.json()


def test_old_and_dst_era_datetimes_render_as_rfc3339_with_a_fixed_beijing_offset(world, buyer):
    # Stored before bounds existed: 1900 in Asia/Shanghai is LMT (+08:05:43); summer 1988 was DST (+09:00).
    for when in (dt.datetime(1900, 6, 1, 2, tzinfo=dt.UTC), dt.datetime(1988, 7, 1, 2, tzinfo=dt.UTC)):
        Order.objects.all().delete()
        Order.objects.create(
            organization=world.org, customer=buyer, amount=Decimal(1), paid_at=when, external_ref="OLD"
        )
        paid_at = world.client_for(world.operator).get("/api/v1/orders/").json()["results"][0]["paid_at"]
        assert RFC3339.match(paid_at) and paid_at.endswith("+08:00"), paid_at
        assert dt.datetime.fromisoformat(paid_at) == when


def test_model_serializers_use_the_bounded_field():
    assert isinstance(CustomerSerializer().fields["created_at"], BoundedDateTimeField)
