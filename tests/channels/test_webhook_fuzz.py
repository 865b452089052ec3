"""Issue 14: hostile bodies on every webhook endpoint — random, truncated, oversized, wrong encoding (GBK,
UTF-16, invalid UTF-8), deep nesting, XML entity bombs, signed-but-malformed — and on the public lead form:
never a 500 and never a row (every table of the product counted before and after); malformed events
already stored are marked ignored or failed with a reason (the worker loop goes on). The hypothesis parts
run with a fixed seed and a bounded number of examples."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from channels.douyin.crypto import sign
from channels.inbox import inbox_process
from channels.models import ChannelPlatform, InboxEvent, InboxStatus
from channels.video.services import shop_crypto
from channels.wecom.crypto import WXBizMsgCrypt, signature
from tests.channels.leads.helpers import make_account
from tests.channels.test_webhook import ADD_XML, hook_path
from tests.conftest import redis_client
from tests.rowcounts import row_counts

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


# --- every endpoint, with hypothesis (fixed seed, bounded examples) --------------------------------

FUZZ = settings(
    max_examples=12,
    derandomize=True,  # the same cases on every run
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, not shrunk for minutes
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def rolled_back() -> Iterator[None]:
    """One hypothesis example: whatever it wrote is undone, so the next one starts from the same rows."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
FUZZED_PLATFORMS = {ChannelPlatform.WECOM, ChannelPlatform.WECHAT_SHOP, ChannelPlatform.DOUYIN}
# Bodies that are never a valid event: bytes, non-UTF-8 text, deep nesting, GBK- or UTF-16-encoded JSON.
HOSTILE = st.one_of(
    st.binary(max_size=4096),
    st.integers(min_value=1, max_value=20_000).map(lambda n: b"[" * n),
    st.integers(min_value=1, max_value=5000).map(lambda n: b'{"a":' * n + b"1"),
    st.text(alphabet="中文事件推送测试", min_size=1, max_size=50).map(lambda t: json.dumps({"event": t}, ensure_ascii=False).encode("gbk")),
    st.text(min_size=1, max_size=100).map(lambda t: json.dumps({"event": t}).encode("utf-16")),
)
QUERY_TEXT = st.text(max_size=60)


def test_every_webhook_platform_is_fuzzed() -> None:
    """A platform that gains a webhook receiver must be added to this file's fuzzing."""
    from channels.registry import registered

    receivers = {platform for platform, plugin in registered().items() if plugin.receive is not None}
    assert receivers <= FUZZED_PLATFORMS, receivers - FUZZED_PLATFORMS


def test_wecom_fuzzed_bodies_queries_and_signed_garbage(wecom, wecom_sandbox) -> None:
    crypt = WXBizMsgCrypt(wecom_sandbox.token, wecom_sandbox.aes_key, wecom_sandbox.corp_id)
    path = hook_path(wecom)

    @FUZZ
    @given(body=HOSTILE, signature_=QUERY_TEXT, timestamp=QUERY_TEXT, nonce=QUERY_TEXT, signed=st.booleans())
    def run(body: bytes, signature_: str, timestamp: str, nonce: str, signed: bool) -> None:
        params = {"msg_signature": signature_, "timestamp": timestamp, "nonce": nonce}
        data = body
        if signed:  # validly signed and encrypted, hostile inside
            encrypted = crypt.encrypt(body)
            params = {"msg_signature": signature(crypt.token, "1", "n", encrypted), "timestamp": "1", "nonce": "n"}
            data = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
        with rolled_back():
            response = Client().post(path, data=data, content_type="text/xml", QUERY_STRING=urlencode(params))
            assert_refused(response, body)
            verify = Client().get(path, {**params, "echostr": body.decode("latin-1")[:200]})
            assert verify.status_code in (400, 403), verify.status_code

    run()


BOMBS = {
    "billion laughs": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]><xml><Event>&i;</Event></xml>",
    "quadratic": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "' + "a" * 50_000 + '">]><xml><Event>'
    + "&a;" * 2000
    + "</Event></xml>",
    "external entity": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Event>&e;</Event></xml>',
    "external dtd": '<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:1/x.dtd"><xml><Event>x</Event></xml>',
    "parameter entity": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/p">%p;]><xml/>',
    "deep": "<xml>" + "<a>" * 15_000 + "</a>" * 15_000 + "</xml>",
    "no MsgType": "<xml><a>1</a></xml>",
    "declaration inside": "<xml><MsgType>event</MsgType><!DOCTYPE x></xml>",
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_wecom_signed_entity_bombs_are_400_and_store_nothing(wecom, wecom_sandbox, bomb: str) -> None:
    crypt = WXBizMsgCrypt(wecom_sandbox.token, wecom_sandbox.aes_key, wecom_sandbox.corp_id)
    encrypted = crypt.encrypt(BOMBS[bomb])
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    query = f"msg_signature={signature(crypt.token, '1', 'n', encrypted)}&timestamp=1&nonce=n"
    before = row_counts()
    response = Client().post(f"{hook_path(wecom)}?{query}", data=body, content_type="text/xml")
    assert response.status_code == 400, (bomb, response.status_code, response.content[:200])
    assert row_counts() == before


def test_shop_fuzzed_bodies_and_signed_garbage(shop) -> None:
    crypto_ = shop_crypto(shop)

    @FUZZ
    @given(body=HOSTILE, msg_signature=QUERY_TEXT, signed=st.booleans())
    def run(body: bytes, msg_signature: str, signed: bool) -> None:
        data = body
        if signed:
            envelope, msg_signature = crypto_.encrypt(body.decode("utf-8", "replace"), timestamp="1763870460", nonce="n0")
            data = json.dumps(envelope).encode()
        with rolled_back():
            assert_refused(shop_post(shop, data, msg_signature), body)

    run()


def test_douyin_fuzzed_bodies_signed_and_not(douyin) -> None:
    @FUZZ
    @given(body=HOSTILE, signed=st.booleans())
    def run(body: bytes, signed: bool) -> None:
        with rolled_back():
            assert_refused(douyin_post(douyin, body, signed=signed), body)

    run()


# --- the public lead form (/f/<slug>/) ------------------------------------------------------------


@pytest.fixture
def lead_form(world):
    from channels.models import LeadForm

    for key in redis_client().scan_iter("scrm:leadform:*"):
        redis_client().delete(key)
    return LeadForm.objects.create(organization=world.org, slug="fuzz", title="表单", store=world.store_a)


NOT_A_PHONE = st.text(max_size=40).filter(lambda t: not re.fullmatch(r"\s*\+?(86)?\s*1\d{10}\s*", t))
HOSTILE_NAMES = st.one_of(st.text(max_size=300), st.just("\x00"), st.just("名" * 5000), st.just("=cmd|' /C calc'!A0"))


def test_public_form_fuzzed_submissions_never_500_and_store_nothing(lead_form) -> None:
    counter = iter(range(1, 1_000_000))

    @FUZZ
    @given(name=HOSTILE_NAMES, phone=NOT_A_PHONE, consent=st.sampled_from(["on", "", "off", "\x00"]))
    def run(name: str, phone: str, consent: str) -> None:
        before = row_counts()
        ip = f"10.9.{next(counter) // 250}.{next(counter) % 250 + 1}"
        response = Client(REMOTE_ADDR=ip).post("/f/fuzz/", {"name": name, "phone": phone, "consent": consent})
        assert response.status_code in (400, 429), (response.status_code, name[:40], phone)
        assert row_counts() == before

    run()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"name=%FF%FE&phone=%E4%B8&consent=on"),
        ("application/x-www-form-urlencoded", "name=王芳&phone=13800138000".encode("gbk")),
        ("application/x-www-form-urlencoded", b"name=" + b"a" * 3_000_000),
        ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(5000))),
        ("multipart/form-data; boundary=xx", b"--xx\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n"),
        ("multipart/form-data", b"garbage"),
        ("application/json", b'{"name": "x", "phone": "13800138000", "consent": "on"}'),
        ("text/xml", b"<!DOCTYPE x [<!ENTITY a 'a'>]><x>&a;</x>"),
    ],
)
def test_public_form_malformed_requests_never_500_and_store_nothing(lead_form, content_type: str, body: bytes) -> None:
    before = row_counts()
    response = Client().generic("POST", "/f/fuzz/", data=body, content_type=content_type)
    assert response.status_code < 500 and response.status_code != 200, response.status_code
    assert row_counts() == before
