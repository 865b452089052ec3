"""Meituan adapter: each captured answer of prepare / consume / querylistbydate → typed redemption data.

Meituan has no redemption webhook (docs/platforms.md#meituan-has-no-redemption-webhook): these answers
are the only payloads we read. Every fixture is read here.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from channels.meituan.adapter import consumed_from_history, consumed_from_result, voucher_from_prepare
from channels.meituan.client import MeituanError

FIXTURES = Path(__file__).parent / "fixtures"
SH = ZoneInfo("Asia/Shanghai")
READ_HERE = {"prepare.json", "consume.json", "querylistbydate.json", "querylistbydate_no_payment_detail.json"}
ERRORS = {"error_used.json"}


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_every_fixture_is_read() -> None:
    assert {p.name for p in FIXTURES.glob("*.json")} == READ_HERE | ERRORS
    for name in READ_HERE:
        assert load(name)["code"] == "OP_SUCCESS"


def test_prepare_says_what_the_voucher_is() -> None:
    info = voucher_from_prepare(load("prepare.json")["data"])
    assert info.receipt_code == "010203040506"
    assert (info.deal_id, info.deal_title, info.deal_price) == ("600001", "双人下午茶套餐", Decimal("88.00"))
    assert (info.available_count, info.mobile_masked, info.expires_at) == (2, "185****1212", "2026-12-31")


def test_consume_rows_are_one_order_paid_by_their_payment_details() -> None:
    rows = load("consume.json")["data"]["result"]
    consumed = consumed_from_result(rows, count=1)
    assert consumed.count == 2  # one row per consumed voucher, even if fewer were asked for
    assert consumed.amount == Decimal("176.00")
    assert (consumed.receipt_code, consumed.order_id, consumed.deal_id) == ("010203040506", "3000000001", "600001")
    assert consumed.mobile_masked == "185****1212"
    assert consumed.consumed_at is None and consumed.raw == {"result": rows}


def test_history_row_with_payment_details() -> None:
    row = load("querylistbydate.json")["data"]["result"][0]
    history = consumed_from_history(row)
    assert (history.order_id, history.deal_title, history.count) == ("3000000009", "单人精致午餐", 1)
    assert history.amount == Decimal("58.00")
    assert history.consumed_at == datetime(2025, 11, 23, 12, 30, tzinfo=SH)
    assert history.shop_account == "kaidianbao"
    assert history.raw == row


def test_history_row_without_payment_details_is_priced_by_the_deal_times_count() -> None:
    history = consumed_from_history(load("querylistbydate_no_payment_detail.json")["data"]["result"][0])
    assert (history.count, history.amount) == (2, Decimal("256.00"))
    assert history.consumed_at == datetime(2025, 11, 23, 15, 5, tzinfo=SH)  # verifyTime when consumeTime is absent
    assert history.shop_account == "kaidianbao_xuhui"


def test_error_envelope_gives_staff_a_hint() -> None:
    body = load("error_used.json")
    assert body["data"] is None
    error = MeituanError(body["code"], body["msg"])
    assert error.code == "RECEIPT_USED"
    assert "已被核销" in error.hint
