"""Douyin / Ocean Engine adapter: captured payloads in → typed events out; signature; client paging."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from channels.douyin import crypto, plugin
from channels.douyin.adapter import clue_to_lead, late_fields_present, life_clue_to_lead, webhook_to_event
from channels.douyin.client import OceanEngineClient, OceanEngineError, OceanEngineTransient
from channels.leads.events import IgnoredEvent, LeadEvent, OrderEvent
from channels.sandbox.douyin import OceanEngineFake, serve

FIXTURES = Path(__file__).parent / "fixtures"
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 11, 23, 12, 0, tzinfo=SH)


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_signature_is_sha1_of_secret_plus_raw_body() -> None:
    raw = (FIXTURES / "im_enter_direct_msg.json").read_bytes()
    good = crypto.sign("s3cret", raw)
    assert crypto.signature_valid(client_secret="s3cret", raw_body=raw, signature=good)
    assert not crypto.signature_valid(client_secret="s3cret", raw_body=raw + b" ", signature=good)
    assert not crypto.signature_valid(client_secret="other", raw_body=raw, signature=good)
    assert not crypto.signature_valid(client_secret="s3cret", raw_body=raw, signature="")


def test_verify_webhook_answers_the_challenge() -> None:
    assert plugin.challenge_response(load("verify_webhook.json")) == {"challenge": 12345}
    assert plugin.challenge_response(load("im_enter_direct_msg.json")) is None


def test_event_identity_prefers_msg_id_then_log_id() -> None:
    body = load("im_enter_direct_msg.json")
    assert plugin.event_identity(headers={"Msg-Id": "m-1"}, body=body) == "m-1"
    assert plugin.event_identity(headers={}, body=body) == "log:2025112310000001"


def test_malformed_body_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="JSON"):
        plugin.parse_body(b"{not json")
    with pytest.raises(ValueError, match="event"):
        plugin.parse_body(b"{}")


def test_clue_becomes_a_lead_with_its_ad() -> None:
    clue = load("clue_get_page.json")["data"]["list"][0]
    lead = clue_to_lead(clue, now=NOW)
    assert lead.source == "ocean_engine"
    assert lead.external_id == "7000000000000000101"
    assert lead.phone == "13800138000"
    assert lead.name == "张女士"
    assert lead.gender == 2
    assert lead.ad["ad_id"] == 7100000000001
    assert lead.ad["promotion_name"] == "双11 拉新"
    assert lead.occurred_at == datetime(2025, 11, 23, 10, 0, tzinfo=SH)
    assert "telephone" not in lead.fields  # personal data is not duplicated into the raw fields
    assert lead.fields["remark_dict"] == {"意向门店": "静安店"}
    assert not late_fields_present(lead.fields)


def test_direct_message_entry_carries_ad_attribution() -> None:
    event = webhook_to_event(load("im_enter_direct_msg.json"), msg_id="m-1", now=NOW)
    assert isinstance(event, LeadEvent)
    assert event.source == "douyin_im"
    assert event.open_id == "_000QadFMhmU1jNCI3JdPnyVDL6XavC70dFy"
    assert event.name == "爱喝奶茶的小王"
    assert event.ad["ad_id"] == 7100000000001
    assert event.phone == ""


def test_direct_message_with_a_typed_phone_is_a_lead_with_phone() -> None:
    event = webhook_to_event(load("im_receive_msg_phone.json"), msg_id="m-2", now=NOW)
    assert isinstance(event, LeadEvent)
    assert event.phone == "13800138000"
    assert event.external_id == "im:_000QadFMhmU1jNCI3JdPnyVDL6XavC70dFy"


def test_local_life_order_content_is_a_json_string() -> None:
    event = webhook_to_event(load("life_trade_order_notify.json"), msg_id="m-3", now=NOW)
    assert isinstance(event, OrderEvent)
    assert event.external_ref == "1078888888888888888"
    assert event.amount == Decimal("99.00")
    assert event.open_id == "_000QadFMhmU1jNCI3JdPnyVDL6XavC70dFy"


def test_other_events_are_ignored_with_a_reason() -> None:
    event = webhook_to_event({"event": "im_recall_msg", "content": {}}, msg_id="x", now=NOW)
    assert isinstance(event, IgnoredEvent)
    assert "im_recall_msg" in event.reason


def test_client_pages_through_the_sandbox_and_late_fields_fill_in() -> None:
    clock = {"now": NOW}
    fake = OceanEngineFake(clock=lambda: clock["now"])
    for i in range(5):
        fake.add_clue(telephone=f"1380013800{i}", created_at=NOW - timedelta(minutes=i))
    fake.add_clue(advertiser_id=999, created_at=NOW)  # another advertiser: not ours
    served = serve(fake)
    try:
        client = OceanEngineClient(access_token=fake.access_token, base_url=served.base_url)
        rows = list(client.clues(advertiser_ids=[1760000000001], start=NOW - timedelta(hours=1), end=NOW, page_size=2))
        assert len(rows) == 5
        assert len([r for r in fake.requests_seen if "clue/get" in r["path"]]) == 3
        assert all(r["app_name"] == "" for r in rows)
        clock["now"] = NOW + timedelta(minutes=11)
        rows = list(client.clues(advertiser_ids=[1760000000001], start=NOW - timedelta(hours=1), end=NOW))
        assert all(late_fields_present(r) for r in rows)
        with pytest.raises(OceanEngineError) as bad:
            list(
                OceanEngineClient(access_token="wrong", base_url=served.base_url).clues(
                    advertiser_ids=[1], start=NOW, end=NOW
                )
            )
        assert bad.value.code == 40102
        fake.throttled = 1
        with pytest.raises(OceanEngineTransient):
            list(client.clues(advertiser_ids=[1760000000001], start=NOW, end=NOW))
    finally:
        served.stop()


# -- one captured payload per webhook event we handle ------------------------------------------------
# Every fixture is read by a test below; WEBHOOK_EXPECTED covers the webhook bodies (files with an
# "event"), PULLED the Ocean Engine pages. A new fixture without a row fails the first test.
HANDLED_WEBHOOK_EVENTS = {"verify_webhook", "im_enter_direct_msg", "im_receive_msg", "life_trade_order_notify"}
WEBHOOK_EXPECTED: dict[str, type] = {
    "verify_webhook.json": IgnoredEvent,  # answered by the plugin before the inbox; never processed
    "im_enter_direct_msg.json": LeadEvent,
    "im_receive_msg_phone.json": LeadEvent,
    "im_receive_msg_no_phone.json": IgnoredEvent,
    "life_trade_order_notify.json": OrderEvent,
    "life_trade_order_notify_refund.json": IgnoredEvent,  # any action but pay_success
}
PULLED = {"clue_get_page.json", "clue_life_get_page.json"}


def test_every_fixture_is_read_and_every_handled_event_has_one() -> None:
    names = {p.name for p in FIXTURES.glob("*.json")}
    assert names == set(WEBHOOK_EXPECTED) | PULLED
    assert {load(name)["event"] for name in WEBHOOK_EXPECTED} == HANDLED_WEBHOOK_EVENTS


@pytest.mark.parametrize("name", sorted(WEBHOOK_EXPECTED))
def test_webhook_fixture_becomes_its_typed_event(name: str) -> None:
    body = load(name)
    assert plugin.parse_body(json.dumps(body).encode()) == body
    assert isinstance(webhook_to_event(body, msg_id="m-9", now=NOW), WEBHOOK_EXPECTED[name])


def test_direct_message_without_a_phone_is_ignored() -> None:
    event = webhook_to_event(load("im_receive_msg_no_phone.json"), msg_id="m-4", now=NOW)
    assert isinstance(event, IgnoredEvent)
    assert event.reason == "私信内容不含手机号"


def test_local_life_order_other_than_paid_is_ignored() -> None:
    event = webhook_to_event(load("life_trade_order_notify_refund.json"), msg_id="m-5", now=NOW)
    assert isinstance(event, IgnoredEvent)
    assert "refund_success" in event.reason


def test_local_life_clue_becomes_a_lead_and_a_masked_phone_is_no_phone() -> None:
    plain, refunded = (life_clue_to_lead(c, now=NOW) for c in load("clue_life_get_page.json")["data"]["list"])
    assert (plain.source, plain.external_id, plain.phone) == (
        "ocean_engine_local",
        "7500000000000000001",
        "13900139000",
    )
    assert plain.platform_account == "7000000000001"
    assert plain.ad["order_id"] == "800000001"
    assert plain.ad["action_type"] == "GROUPON_ORDER"
    assert plain.occurred_at == datetime(2025, 11, 23, 11, 0, tzinfo=SH)
    assert (plain.gender, plain.city) == (1, "上海")
    assert "telephone" not in plain.fields and "county_name" not in plain.fields
    assert refunded.phone == ""  # 139****0001 after a 团购 refund
    assert refunded.name == "王女士"
