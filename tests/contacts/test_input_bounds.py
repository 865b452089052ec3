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


# --- API integers past the column range ------------------------------------------------------------

BIG = str(2**31)  # int4 columns (order) and ids end at 2**31 - 1
HUGE = "9" * 40  # past bigint: Postgres would refuse it in a LIMIT / OFFSET / WHERE


@pytest.mark.parametrize(
    ("method", "name", "body"),
    [
        ("post", "api-tag-group-list", {"name": "g", "order": 2**31}),
        ("post", "api-tag-group-list", {"name": "g", "order": -(2**31) - 1}),
        ("post", "api-tag-list", {"group": 1, "name": "t", "order": 2**31}),
        ("post", "api-tag-list", {"group": 2**31, "name": "t"}),
        ("post", "api-segment-preview", {"expression": {}, "limit": int(HUGE)}),
    ],
)
def test_api_integers_past_the_column_are_400(world: Any, method: str, name: str, body: dict[str, Any]) -> None:
    response = getattr(world.client_for(world.operator), method)(url(name), body, content_type="application/json")
    assert response.status_code == 400, response.content


def test_tag_order_patch_past_the_column_is_400(world: Any) -> None:
    from tests.factories import TagFactory

    tag = TagFactory(group__organization=world.org)
    client = world.client_for(world.operator)
    for name, pk in (("api-tag-detail", tag.pk), ("api-tag-group-detail", tag.group_id)):
        response = client.patch(url(name, pk), {"order": 2**63}, content_type="application/json")
        assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    "query",
    [
        {"tag": HUGE},
        {"tag": BIG},
        {"store": HUGE},
        {"tag": "1e400"},
        {"tag": "nan"},
        {"limit": HUGE},
        {"offset": HUGE},
        {"limit": "100000"},
    ],
)
def test_list_query_integers_past_the_column_are_400(world: Any, query: dict[str, str]) -> None:
    client = world.client_for(world.operator)
    for name in ("api-customer-list", "api-customer-export"):
        if name == "api-customer-export" and set(query) & {"limit", "offset"}:
            continue
        response = client.get(url(name), query)
        assert response.status_code == 400, (name, query, response.status_code)
