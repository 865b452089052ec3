"""Issue 14: out-of-range input to the contacts API is a 400 naming the field, before any work —
segment bounds (numbers finite and within the column, dates 1970–2100), API integers past the
column range, date/time values Postgres or the output format cannot hold."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from contacts import segments

pytestmark = pytest.mark.django_db


def url(name: str, *args: Any) -> str:
    return reverse(f"contacts:{name}", args=args)


# --- segment bounds --------------------------------------------------------------------------------


@pytest.fixture
def no_big_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the validator ever turns a huge Decimal into an int (the 10 s of CPU in issue 14)."""

    def guarded_int(value: Any = 0, *args: Any) -> int:
        if isinstance(value, Decimal) and value.is_finite() and value.adjusted() > 30:
            raise AssertionError(f"int() of a {value.adjusted()}-digit Decimal reached")
        return int(value, *args) if args else int(value)

    monkeypatch.setattr(segments, "int", guarded_int, raising=False)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ({"ltv": {"min": "1e600000"}}, "累计消费（最小）"),
        ({"ltv": {"max": "1e600000"}}, "累计消费（最大）"),
        ({"ltv": {"min": "1000000000000"}}, "累计消费（最小）"),  # numeric(14, 2) holds < 10^12
        ({"ltv": {"min": "1e-600000"}}, "累计消费（最小）"),  # more decimals than the column
        ({"ltv": {"min": "Infinity"}}, "累计消费（最小）"),
        ({"ltv": {"min": "NaN"}}, "累计消费（最小）"),
        ({"ltv": {"min": 1e308}}, "累计消费（最小）"),
        ({"order_count": {"min": "1e600000"}}, "订单数（最小）"),
        ({"order_count": {"max": 2**31}}, "订单数（最大）"),
        ({"order_count": {"max": "9" * 5000}}, "订单数（最大）"),
        ({"created": {"from": "1969-12-31"}}, "建档日期（起）"),
        ({"created": {"to": "2101-01-01"}}, "建档日期（止）"),
        ({"last_order": {"from": "0001-01-01"}}, "最近下单日期（起）"),
        ({"last_order": {"to": "9999-12-31"}}, "最近下单日期（止）"),
    ],
)
def test_segment_bounds_are_refused_before_any_conversion(
    no_big_conversion: None, expression: Any, fragment: str
) -> None:
    with pytest.raises(segments.SegmentError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        segments.validate(expression)


def test_segment_bounds_at_the_edges_are_accepted(no_big_conversion: None) -> None:
    assert segments.validate(
        {
            "ltv": {"min": "0", "max": "999999999999.99"},
            "order_count": {"max": 2**31 - 1},
            "created": {"from": "1970-01-01", "to": "2100-12-31"},
        }
    ) == {
        "ltv": {"min": 0, "max": 999999999999.99},
        "order_count": {"max": 2**31 - 1},
        "created": {"from": "1970-01-01", "to": "2100-12-31"},
    }


def test_segment_preview_with_a_huge_bound_is_a_fast_400(world: Any, no_big_conversion: None) -> None:
    client = world.client_for(world.store_staff)
    for body in (
        {"expression": {"ltv": {"min": "1e600000"}}},
        {"expression": {"order_count": {"max": 10**40}}},
        {"expression": {"created": {"from": "1900-01-01"}}},
    ):
        response = client.post(url("api-segment-preview"), body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert "detail" in response.json()
