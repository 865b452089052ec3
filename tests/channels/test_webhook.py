"""/hooks/wecom/<key>/: verification, storage before acknowledgement, refusal of forged requests."""

from __future__ import annotations

import pytest
from django.test import Client

from channels.inbox import inbox_process
from channels.models import InboxEvent, InboxStatus
from channels.selectors import callback_url
from channels.wecom.crypto import WXBizMsgCrypt, signature
from contacts.models import Customer, Follow, TimelineEvent

ADD_XML = (
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
    "<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[{change}]]></ChangeType>"
    "<UserID><![CDATA[{user}]]></UserID><ExternalUserID><![CDATA[{ext}]]></ExternalUserID>"
    "<State><![CDATA[]]></State><WelcomeCode><![CDATA[]]></WelcomeCode></xml>"
)


@pytest.fixture
def account(db, wecom_sandbox, world):
    wecom_sandbox.add_member("zhangsan", "张三")
    return wecom_sandbox.connect(world.org)


def hook_path(account) -> str:
    return "/hooks/" + callback_url(account).split("/hooks/", 1)[1]


def post_event(client: Client, account, sandbox, xml: str, *, nonce: str = "123", tamper: bool = False):
    crypt = WXBizMsgCrypt(sandbox.token, sandbox.aes_key, sandbox.corp_id)
    body, query = crypt.encrypt_message(xml, nonce=nonce)
    if tamper:
        query["msg_signature"] = "f" * 40
    url = hook_path(account) + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(url, data=body, content_type="text/xml")


def test_url_verification_answers_the_plain_echostr(account, wecom_sandbox):
    crypt = WXBizMsgCrypt(wecom_sandbox.token, wecom_sandbox.aes_key, wecom_sandbox.corp_id)
    echostr = crypt.encrypt("4242424242")
    sig = signature(wecom_sandbox.token, "1700000000", "99", echostr)
    response = Client().get(
        hook_path(account), {"msg_signature": sig, "timestamp": "1700000000", "nonce": "99", "echostr": echostr}
    )
    assert response.status_code == 200
    assert response.content == b"4242424242"  # no quotes, BOM or newline
    forged = Client().get(
        hook_path(account), {"msg_signature": "0" * 40, "timestamp": "1700000000", "nonce": "99", "echostr": echostr}
    )
    assert forged.status_code == 403


def test_an_event_is_stored_before_it_is_acknowledged_and_a_retry_adds_nothing(
    account, wecom_sandbox, django_capture_on_commit_callbacks
):
    xml = ADD_XML.format(
        corp=wecom_sandbox.corp_id, ts=1700000000, change="add_external_contact", user="zhangsan", ext="wmX"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        first = post_event(Client(), account, wecom_sandbox, xml, nonce="1")
        retry = post_event(Client(), account, wecom_sandbox, xml, nonce="2")  # WeCom retries re-encrypt
    assert first.status_code == retry.status_code == 200
    assert first.content == b"success"
    event = InboxEvent.objects.get()
    assert event.status == InboxStatus.PENDING and event.event_type == "change_external_contact:add_external_contact"
    assert "wmX" in event.body and event.organization_id == account.organization_id
    assert len(callbacks) == 1  # only the new row is enqueued


def test_a_forged_event_is_refused_and_leaves_no_row(account, wecom_sandbox):
    xml = ADD_XML.format(
        corp=wecom_sandbox.corp_id, ts=1700000000, change="add_external_contact", user="zhangsan", ext="wmX"
    )
    response = post_event(Client(), account, wecom_sandbox, xml, tamper=True)
    assert response.status_code == 403
    assert "签名" in response.content.decode()
    assert not InboxEvent.objects.exists()


def test_an_event_encrypted_for_another_corp_is_refused(account, wecom_sandbox):
    other = WXBizMsgCrypt(wecom_sandbox.token, wecom_sandbox.aes_key, "wwsomeoneelse")
    body, query = other.encrypt_message("<xml><Event>x</Event></xml>", nonce="5")
    url = hook_path(account) + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    assert Client().post(url, data=body, content_type="text/xml").status_code == 400
    assert not InboxEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [(b"not xml at all", 400, "Encrypt"), (b"", 400, "为空"), (b"<xml>" + b"x" * 300_000 + b"</xml>", 413, "过大")],
)
def test_malformed_or_oversized_bodies_get_a_clear_error(account, body, status, message):
    url = hook_path(account) + "?msg_signature=a&timestamp=1&nonce=2"
    response = Client().post(url, data=body, content_type="text/xml")
    assert response.status_code == status
    assert message in response.content.decode()
    assert not InboxEvent.objects.exists()


def test_unknown_or_disabled_accounts_get_404(account, wecom_sandbox):
    from channels.services import channel_account_disable

    assert (
        Client()
        .post("/hooks/wecom/nope/?msg_signature=a&timestamp=1&nonce=2", data=b"x", content_type="text/xml")
        .status_code
        == 404
    )
    channel_account_disable(account=account)
    from channels.webhooks import forget_account

    forget_account(account)
    xml = ADD_XML.format(corp=wecom_sandbox.corp_id, ts=1, change="add_external_contact", user="zhangsan", ext="wmX")
    assert post_event(Client(), account, wecom_sandbox, xml).status_code == 404


def test_a_replayed_event_has_one_effect(account, wecom_sandbox, django_capture_on_commit_callbacks):
    ext = wecom_sandbox.seed_customer("zhangsan", name="王五")
    xml = ADD_XML.format(
        corp=wecom_sandbox.corp_id, ts=1700000000, change="add_external_contact", user="zhangsan", ext=ext
    )
    for nonce in ("1", "2", "3"):
        post_event(Client(), account, wecom_sandbox, xml, nonce=nonce)
    event = InboxEvent.objects.get()
    assert inbox_process(event_id=event.pk) == InboxStatus.DONE
    assert inbox_process(event_id=event.pk) == "skipped"  # a redelivered task changes nothing
    customer = Customer.objects.get()
    assert customer.name == "王五" and customer.source_channel == "wecom"
    assert Follow.objects.filter(customer=customer, deleted_at__isnull=True).count() == 1
    assert TimelineEvent.objects.filter(customer=customer, kind="added").count() == 1


def test_a_failed_event_keeps_its_error_and_can_be_replayed(account, wecom_sandbox):
    from channels.inbox import inbox_replay

    ext = wecom_sandbox.seed_customer("zhangsan", name="赵六")
    xml = ADD_XML.format(
        corp=wecom_sandbox.corp_id, ts=1700000000, change="edit_external_contact", user="zhangsan", ext=ext
    )
    post_event(Client(), account, wecom_sandbox, xml)
    event = InboxEvent.objects.get()
    wecom_sandbox.inject_error("externalcontact/get", 60011)
    assert inbox_process(event_id=event.pk) == InboxStatus.FAILED
    event.refresh_from_db()
    assert event.attempts == 1 and "60011" in event.error
    assert inbox_replay(event=event)
    assert inbox_process(event_id=event.pk) == InboxStatus.DONE
    event.refresh_from_db()
    assert event.attempts == 2 and Customer.objects.filter(name="赵六").exists()


def test_the_endpoint_answers_the_official_vectors(world):
    """Doc 90968's sample (token QDG6eK, corp wx5823bf96d3bd56c7) through /hooks/wecom/<key>/."""
    from channels.services import channel_account_connect
    from tests.channels.wecom.test_crypto import AES_KEY, CORP_ID, POST, POST_BODY, TOKEN, VERIFY

    account = channel_account_connect(
        organization=world.org, platform="wecom", name="官方样例", external_id=CORP_ID,
        credentials={"secret": "x", "token": TOKEN, "aes_key": AES_KEY},
    )  # fmt: skip
    response = Client().get(hook_path(account), VERIFY)
    assert response.status_code == 200 and response.content == b"1616140317555161061"
    # The same echostr sent without URL-encoding its "+" signs still verifies.
    raw = "&".join(f"{k}={v}" for k, v in VERIFY.items())
    assert Client().get(hook_path(account) + "?" + raw).content == b"1616140317555161061"
    url = hook_path(account) + "?" + "&".join(f"{k}={v}" for k, v in POST.items())
    assert Client().post(url, data=POST_BODY, content_type="text/xml").content == b"success"
    event = InboxEvent.objects.get()
    assert "<Content><![CDATA[hello]]></Content>" in event.body
    assert inbox_process(event_id=event.pk) == InboxStatus.IGNORED  # a text message, not a 客户联系 event
