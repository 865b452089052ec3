"""Meituan client + fake: signing, the voucher state machine, realistic errors, history paging."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from channels.meituan.adapter import consumed_from_history, consumed_from_result, voucher_from_prepare
from channels.meituan.client import MeituanClient, MeituanError, MeituanTransient, sign_params
from channels.sandbox.douyin import serve
from channels.sandbox.meituan import MeituanFake

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_sign_is_sha1_of_key_and_sorted_pairs() -> None:
    params = {"b": "2", "a": "1", "sign": "ignored"}
    import hashlib

    assert sign_params("K", params) == hashlib.sha1(b"Ka1b2").hexdigest()  # noqa: S324 — Meituan's scheme


def test_captured_payloads_parse() -> None:
    info = voucher_from_prepare(load("prepare.json")["data"])
    assert (info.deal_title, info.deal_price, info.available_count, info.mobile_masked) == (
        "双人下午茶套餐",
        Decimal("88.00"),
        2,
        "185****1212",
    )
    consumed = consumed_from_result(load("consume.json")["data"]["result"], count=2)
    assert consumed.order_id == "3000000001"
    assert consumed.amount == Decimal("176.00")  # paymentDetail amounts summed over both vouchers
    assert consumed.count == 2
    history = consumed_from_history(load("querylistbydate.json")["data"]["result"][0])
    assert history.receipt_code == "090807060504"
    assert history.amount == Decimal("58.00")
    assert history.consumed_at is not None and history.consumed_at.hour == 12


@pytest.fixture
def meituan():
    fake = MeituanFake()
    token = fake.authorize(shop="shop-a")
    fake.authorize(shop="shop-b", token="token-b")
    served = serve(fake)
    client = MeituanClient(
        developer_id=fake.developer_id, sign_key=fake.sign_key, app_auth_token=token, base_url=served.base_url
    )
    yield fake, client, served
    served.stop()


def test_prepare_then_consume_is_idempotent_per_request_id(meituan) -> None:
    fake, client, _ = meituan
    voucher = fake.add_voucher(shop="shop-a", count=2)
    assert client.prepare(receipt_code=voucher.code)["count"] == 2
    first = client.consume(
        receipt_code=voucher.code, count=2, request_id="r1", shop_account="clerk", shop_account_name="店员"
    )
    again = client.consume(
        receipt_code=voucher.code, count=2, request_id="r1", shop_account="clerk", shop_account_name="店员"
    )
    assert first == again
    assert fake.consume_count(voucher.code) == 1
    with pytest.raises(MeituanError) as used:
        client.consume(
            receipt_code=voucher.code, count=1, request_id="r2", shop_account="clerk", shop_account_name="店员"
        )
    assert used.value.code == "RECEIPT_USED"
    assert "请勿重复核销" in used.value.hint


def test_realistic_errors(meituan) -> None:
    fake, client, served = meituan
    expired = fake.add_voucher(shop="shop-a", expires=date(2020, 1, 1))
    other = fake.add_voucher(shop="shop-b")
    for code, expected in [
        (expired.code, "RECEIPT_EXPIRED"),
        (other.code, "RECEIPT_WRONG_STORE"),
        ("000000000000", "RECEIPT_NOT_FOUND"),
    ]:
        with pytest.raises(MeituanError) as err:
            client.prepare(receipt_code=code)
        assert err.value.code == expected
    bad_sign = MeituanClient(
        developer_id=fake.developer_id, sign_key="wrong", app_auth_token="x", base_url=served.base_url
    )
    with pytest.raises(MeituanError) as err:
        bad_sign.prepare(receipt_code=expired.code)
    assert err.value.code == "SIGN_INVALID"
    fake.fail_next = 1
    with pytest.raises(MeituanTransient):
        client.prepare(receipt_code=other.code)


def test_history_returns_out_of_band_redemptions(meituan) -> None:
    fake, client, _ = meituan
    vouchers = [fake.add_voucher(shop="shop-a") for _ in range(3)]
    for v in vouchers:
        fake.consume_out_of_band(v.code)
    fake.consume_out_of_band(fake.add_voucher(shop="shop-b").code)  # another shop's history is not ours
    today = vouchers[0].consumed_at.date().isoformat()
    rows = client.consumed_on(date=today, limit=2)
    assert sorted(r["receiptCode"] for r in rows) == sorted(v.code for v in vouchers)


@pytest.mark.django_db
def test_connection_test_of_lead_accounts(meituan) -> None:
    from channels.models import ChannelAccount
    from channels.registry import connection_test
    from contacts.models import Organization

    fake, client, served = meituan
    org = Organization.objects.create(name="t", slug="t-conn")
    good = ChannelAccount(organization=org, platform="meituan", name="m", api_base=served.base_url)
    good.set_credentials(
        {"developer_id": fake.developer_id, "sign_key": fake.sign_key, "app_auth_token": client.app_auth_token}
    )
    assert connection_test(good) == (True, "连接成功：美团验券记录接口可用")
    bad = ChannelAccount(organization=org, platform="meituan", name="m", api_base=served.base_url)
    bad.set_credentials({"developer_id": fake.developer_id, "sign_key": fake.sign_key, "app_auth_token": "nope"})
    ok, message = connection_test(bad)
    assert not ok and "重新授权" in message
    assert connection_test(ChannelAccount(organization=org, platform="douyin", name="d")) is None
