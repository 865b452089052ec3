"""Issue 14: hostile bodies on every webhook endpoint — random, truncated, oversized, wrong encoding, deep
nesting, signed-but-malformed — never a 500 and never a row; malformed events already stored are marked
ignored or failed with a reason (the worker loop goes on)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from django.test import Client

from channels.douyin.crypto import sign
from channels.inbox import inbox_process
from channels.models import ChannelPlatform, InboxEvent, InboxStatus
from channels.video.services import shop_crypto
from channels.wecom.crypto import WXBizMsgCrypt, signature
from tests.channels.leads.helpers import make_account
from tests.channels.test_webhook import ADD_XML, hook_path

pytestmark = pytest.mark.django_db
DEEP = b"[" * 60_000
SHOP_AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DOUYIN_SECRET = "douyin-client-secret"


def hostile_bodies(valid: bytes, *, limit: int) -> list[bytes]:
    rng = random.Random(14)  # fixed seed: the same cases every run
    bodies = [
        b"",
        DEEP,
        b"{" * 5000 + b"}" * 5000,
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b"\xff\xfe\x00garbage",
        valid.decode("utf-8", "replace").encode("utf-16"),
        valid[: len(valid) // 2],
        valid[:-12],  # cuts into the closing of the signed part (WeCom: "]]></Encrypt></xml>")
        b"x" * (limit + 1),
        b"null",
        b"[]",
        b'"Encrypt"',
        b'{"Encrypt": {"x": 1}}',
        b'{"Encrypt": "\xff\xfe"}',
        b"<xml><Encrypt><![CDATA[\xff\xfe\xfd]]></Encrypt></xml>",
        b"<xml><Encrypt>\xe4\xb8\xad\xe6\x96\x87</Encrypt></xml>",
    ]
    bodies += [rng.randbytes(rng.randint(1, 2048)) for _ in range(12)]
    return bodies


def assert_refused(response: Any, case: bytes) -> None:
    assert response.status_code < 500, (response.status_code, case[:80])
    assert response.status_code != 200 or not InboxEvent.objects.exists(), case[:80]
    assert not InboxEvent.objects.exists(), case[:80]


# --- WeCom ---------------------------------------------------------------------------------------


@pytest.fixture
def wecom(db, wecom_sandbox, world):
    wecom_sandbox.add_member("zhangsan", "张三")
    return wecom_sandbox.connect(world.org)


def test_wecom_hostile_bodies_never_500_and_store_nothing(wecom, wecom_sandbox) -> None:
    crypt = WXBizMsgCrypt(wecom_sandbox.token, wecom_sandbox.aes_key, wecom_sandbox.corp_id)
    xml = ADD_XML.format(corp=wecom_sandbox.corp_id, ts=1, change="add_external_contact", user="zhangsan", ext="wm")
    valid, query = crypt.encrypt_message(xml, nonce="7")
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    for body in hostile_bodies(valid.encode(), limit=256 * 1024):
        response = Client().post(f"{hook_path(wecom)}?{qs}", data=body, content_type="text/xml")
        assert_refused(response, body)


def test_wecom_non_utf8_encrypt_is_refused_before_decoding(wecom, wecom_sandbox) -> None:
    body = b"<xml><Encrypt><![CDATA[\xff\xfe\xfd]]></Encrypt></xml>"
    response = Client().post(
        f"{hook_path(wecom)}?msg_signature={'a' * 40}&timestamp=1&nonce=2", data=body, content_type="text/xml"
    )
    assert response.status_code == 403
    assert not InboxEvent.objects.exists()


def test_wecom_signed_but_undecodable_payloads_are_400(wecom, wecom_sandbox) -> None:
    crypt = WXBizMsgCrypt(wecom_sandbox.token, wecom_sandbox.aes_key, wecom_sandbox.corp_id)
    for plaintext in (b"\xff\xfe not utf-8", b"<xml>" * 20_000, b"<xml><a>unterminated", "<xml>中文</xml>".encode()):
        encrypted = crypt.encrypt(plaintext)
        sig = signature(crypt.token, "1", "n", encrypted)
        body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        response = Client().post(
            f"{hook_path(wecom)}?msg_signature={sig}&timestamp=1&nonce=n", data=body, content_type="text/xml"
        )
        assert response.status_code < 500, (plaintext[:40], response.status_code)
        if response.status_code != 200:
            assert not InboxEvent.objects.exists()


# --- WeChat shop ---------------------------------------------------------------------------------


@pytest.fixture
def shop(world):
    return make_account(
        world.org,
        ChannelPlatform.WECHAT_SHOP,
        external_id="wxshopfuzz",
        credentials={"secret": "s", "token": "shopToken", "aes_key": SHOP_AES},
        store=world.store_b,
    )


def shop_post(account: Any, body: bytes, msg_signature: str) -> Any:
    query = f"?timestamp=1763870460&nonce=n0&encrypt_type=aes&msg_signature={msg_signature}"
    return Client().post(f"/hooks/wechat_shop/{account.hook_key}/{query}", data=body, content_type="application/json")


def shop_signed(account: Any, plaintext: str) -> Any:
    envelope, msg_signature = shop_crypto(account).encrypt(plaintext, timestamp="1763870460", nonce="n0")
    return shop_post(account, json.dumps(envelope).encode(), msg_signature)


def test_shop_hostile_bodies_never_500_and_store_nothing(shop) -> None:
    envelope, msg_signature = shop_crypto(shop).encrypt('{"Event": "x"}', timestamp="1763870460", nonce="n0")
    for body in hostile_bodies(json.dumps(envelope).encode(), limit=64 * 1024):
        assert_refused(shop_post(shop, body, msg_signature), body)


@pytest.mark.parametrize(
    "plaintext",
    [
        '{"Event": "channels_ec_order_new", "order_info": "not an object", "CreateTime": 1}',
        '{"Event": "channels_ec_order_new", "order_info": [1, 2], "CreateTime": 1}',
        '{"Event": "channels_ec_order_new", "order_info": {"order_id": {"x": 1}}, "CreateTime": 1}',
        "[" * 5000 + "]" * 5000,
        '{"a": ' * 100 + "1" + "}" * 100,
        "[1, 2]",
        "not json",
    ],
)
def test_shop_signed_but_malformed_events_are_400_and_store_nothing(shop, plaintext: str) -> None:
    response = shop_signed(shop, plaintext)
    assert response.status_code == 400, response.content
    assert not InboxEvent.objects.exists()


def test_shop_malformed_event_already_stored_is_ignored_with_a_reason(shop) -> None:
    stored = InboxEvent.objects.create(
        organization=shop.organization,
        account=shop,
        platform=ChannelPlatform.WECHAT_SHOP,
        event_key="legacy-1",
        event_type="channels_ec_order_new",
        body=json.dumps({"Event": "channels_ec_order_new", "order_info": "oops"}),
    )
    assert inbox_process(event_id=stored.pk) in (InboxStatus.IGNORED, InboxStatus.FAILED)
    stored.refresh_from_db()
    assert stored.status == InboxStatus.IGNORED and "order_info" in stored.error


# --- Douyin --------------------------------------------------------------------------------------


@pytest.fixture
def douyin(world):
    return make_account(
        world.org,
        ChannelPlatform.DOUYIN,
        external_id="awfuzz",
        credentials={"client_secret": DOUYIN_SECRET},
        store=world.store_a,
    )


def douyin_post(account: Any, raw: bytes, *, signed: bool) -> Any:
    headers = {"X-Douyin-Signature": sign(DOUYIN_SECRET, raw) if signed else "0" * 40, "Msg-Id": "m1"}
    return Client().post(
        f"/hooks/douyin/{account.hook_key}/", data=raw, content_type="application/json", headers=headers
    )


def test_douyin_hostile_bodies_never_500_and_store_nothing(douyin) -> None:
    valid = json.dumps({"event": "im_receive_msg", "content": {"text": "hi"}}).encode()
    for body in hostile_bodies(valid, limit=64 * 1024):
        for signed in (False, True):
            assert_refused(douyin_post(douyin, body, signed=signed), body)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event": "verify_webhook", "content": [1, 2]}',
        b'{"event": "verify_webhook", "content": "{not json"}',
        b'{"event": "verify_webhook", "content": "[1]"}',
        b'{"event": "verify_webhook", "content": "' + b"[" * 50_000 + b'"}',
        b'{"event": "im_receive_msg", "content": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"event": ["not", "a", "string"]}',
    ],
)
def test_douyin_signed_but_malformed_bodies_are_400_and_store_nothing(douyin, raw: bytes) -> None:
    response = douyin_post(douyin, raw, signed=True)
    assert response.status_code == 400, response.content
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"event": "im_enter_direct_msg", "content": {"ad_info": "x", "user_infos": [1]}},
        {"event": "im_receive_msg", "content": "[" * 5000 + "]" * 5000},
        {"event": "life_trade_order_notify", "content": {"action": "pay_success", "order": "x"}},
        {
            "event": "life_trade_order_notify",
            "content": {"action": "pay_success", "order": {"order_id": "o1", "pay_amount": "lots"}},
        },
    ],
)
def test_douyin_malformed_event_already_stored_is_ignored_with_a_reason(douyin, body: dict[str, Any]) -> None:
    stored = InboxEvent.objects.create(
        organization=douyin.organization,
        account=douyin,
        platform=ChannelPlatform.DOUYIN,
        event_key="legacy-1",
        event_type=body["event"],
        body=json.dumps(body),
    )
    inbox_process(event_id=stored.pk)
    stored.refresh_from_db()
    assert stored.status == InboxStatus.IGNORED, stored.error
    assert "格式" in stored.error
