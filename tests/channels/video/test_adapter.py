"""视频号 leads and 微信小店 orders: captured payloads, the push crypto, the client against the fake."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from channels.sandbox.douyin import serve
from channels.sandbox.video import WeChatShopFake
from channels.video.adapter import live_lead_to_event, order_to_event
from channels.video.client import ChannelsClient
from channels.video.crypto import ORDER_EVENTS, ShopCrypto, ShopPushError, event_identity
from channels.video.services import shop_event_process

FIXTURES = Path(__file__).parent / "fixtures"
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 11, 23, 12, 0, tzinfo=SH)
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_live_form_answers_become_a_lead() -> None:
    row = load("leads_info_by_component.json")["user_data"][0]
    event = live_lead_to_event(row, component_id="lc1", finder="finder1", now=NOW)
    assert (event.source, event.name, event.phone) == ("video_live", "李先生", "13900139000")
    assert event.fields["answers"]["意向门店"] == "徐汇店"
    assert event.ad["anchor_nickname"] == "悦享生活直播间"
    # Same row again → same identity (the API has no lead id).
    assert live_lead_to_event(row, component_id="lc1", finder="finder1", now=NOW).external_id == event.external_id


def test_shop_order_becomes_an_order_event() -> None:
    event = order_to_event(load("shop_order_get.json")["order"], appid="wxapp")
    assert event.source == "wechat_shop"
    assert event.external_ref == "3705115058471208928"
    assert event.amount == Decimal("129.00")
    assert event.status == "paid"
    assert event.items[0]["name"] == "悦享生活 香氛礼盒"
    assert event.raw["unionid"] == "oUNION_buyer_0001"


def test_push_crypto_round_trip_and_forgery() -> None:
    crypto = ShopCrypto(token="tok", aes_key=AES_KEY, appid="wxapp")
    plaintext = (FIXTURES / "shop_push_order_pay.json").read_text()
    body, msg_signature = crypto.encrypt(plaintext, timestamp="1763870460", nonce="n1")
    raw = json.dumps(body).encode()
    event = crypto.decrypt(raw_body=raw, msg_signature=msg_signature, timestamp="1763870460", nonce="n1")
    assert event["Event"] == "channels_ec_order_pay"
    assert event_identity(event) == "channels_ec_order_pay:3705115058471208928:1763870460"
    with pytest.raises(ShopPushError):
        crypto.decrypt(raw_body=raw, msg_signature="0" * 40, timestamp="1763870460", nonce="n1")
    other_app = ShopCrypto(token="tok", aes_key=AES_KEY, appid="wxother")
    with pytest.raises(ShopPushError):
        other_app.decrypt(raw_body=raw, msg_signature=msg_signature, timestamp="1763870460", nonce="n1")


def test_client_pages_leads_and_refreshes_an_expired_token() -> None:
    fake = WeChatShopFake(page_size=2)
    for i in range(5):
        fake.add_live_lead(phone=f"1390013900{i}")
    served = serve(fake)
    try:
        client = ChannelsClient(appid=fake.appid, secret=fake.secret, base_url=served.base_url)
        assert client.leads_component_ids() == ["lc_sandbox_001"]
        fake.expire_tokens()  # the cached token now answers 42001 → refreshed once
        rows = list(client.leads_by_component(component_id="lc_sandbox_001", start_time=0, end_time=2**31))
        assert len(rows) == 5
        order = fake.add_order(amount_fen=500)
        assert client.order_get(order_id=order["order_id"])["order_id"] == order["order_id"]
    finally:
        served.stop()


# -- one captured push per 微信小店 order event we handle ---------------------------------------------
PUSHES = {f"shop_push_{event.removeprefix('channels_ec_')}.json": event for event in ORDER_EVENTS}
IGNORED_PUSHES = {"shop_push_aftersale_update.json": "channels_ec_aftersale_update"}
ORDERS = {  # order/get answers → our order status
    "shop_order_get.json": ("paid", Decimal("129.00"), 1763870430),
    "shop_order_get_unpaid.json": ("pending", Decimal("78.00"), 1763870405),  # no pay_time: the update time
    "shop_order_get_cancelled.json": ("refunded", Decimal("129.00"), 1763870330),
}
LEAD_ROWS = {"leads_info_by_component.json"}


def test_every_fixture_is_read_and_every_order_event_has_a_push() -> None:
    names = {p.name for p in FIXTURES.glob("*.json")}
    assert names == set(PUSHES) | set(IGNORED_PUSHES) | set(ORDERS) | LEAD_ROWS
    assert {load(name)["Event"] for name in PUSHES} == ORDER_EVENTS


@pytest.mark.parametrize("name", sorted(PUSHES | IGNORED_PUSHES))
def test_push_decrypts_to_its_event_with_a_distinct_identity(name: str) -> None:
    crypto = ShopCrypto(token="tok", aes_key=AES_KEY, appid="wxapp")
    plaintext = (FIXTURES / name).read_text()
    body, msg_signature = crypto.encrypt(plaintext, timestamp="1763870460", nonce="n2")
    event = crypto.decrypt(
        raw_body=json.dumps(body).encode(), msg_signature=msg_signature, timestamp="1763870460", nonce="n2"
    )
    expected = (PUSHES | IGNORED_PUSHES)[name]
    assert event["Event"] == expected
    assert event["MsgType"] == "event"
    order_id = (event.get("order_info") or {}).get("order_id", "")
    assert event_identity(event) == f"{expected}:{order_id}:{event['CreateTime']}"
    if name in PUSHES:
        assert order_id.isdigit()


def test_push_identities_are_distinct() -> None:
    identities = {event_identity(load(name)) for name in PUSHES | IGNORED_PUSHES}
    assert len(identities) == len(PUSHES | IGNORED_PUSHES)


def test_a_push_that_is_not_an_order_event_is_ignored_without_a_request() -> None:
    # Returns before the account is used: no client is built, nothing is fetched.
    note = shop_event_process(account=None, body=(FIXTURES / "shop_push_aftersale_update.json").read_text())
    assert note == "ignored: 事件 channels_ec_aftersale_update 无需处理"


@pytest.mark.parametrize("name", sorted(ORDERS))
def test_order_status_maps_to_ours(name: str) -> None:
    status, amount, paid = ORDERS[name]
    event = order_to_event(load(name)["order"], appid="wxapp")
    assert (event.status, event.amount, event.paid_at) == (status, amount, datetime.fromtimestamp(paid, tz=SH))
    assert event.platform_account == "wxapp"
    assert sum(item["quantity"] for item in event.items) >= 1
