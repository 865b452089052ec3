"""Douyin webhooks through /hooks/douyin/<key>/: forged → 403 and no row; replay → one effect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from channels.douyin.crypto import sign
from channels.inbox import inbox_process
from channels.models import ChannelPlatform, InboxEvent, InboxStatus, Lead, LeadSource
from channels.sandbox.douyin import DouyinWebhookEmitter
from contacts.models import Customer, Identity
from tests.channels.leads.helpers import make_account

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "douyin-client-secret"


@pytest.fixture
def account(world):
    return make_account(
        world.org,
        ChannelPlatform.DOUYIN,
        external_id="awsandboxclientkey",
        credentials={"client_secret": SECRET},
        store=world.store_a,
    )


def url(account) -> str:
    return f"/hooks/douyin/{account.hook_key}/"


def push(client: Client, account, raw: bytes, *, msg_id: str = "msg-1", secret: str = SECRET):
    return client.post(
        url(account),
        data=raw,
        content_type="application/json",
        headers={"X-Douyin-Signature": sign(secret, raw), "Msg-Id": msg_id},
    )


def test_verify_webhook_challenge_is_answered_and_nothing_stored(account) -> None:
    raw = (FIXTURES / "verify_webhook.json").read_bytes()
    response = push(Client(), account, raw)
    assert response.status_code == 200
    assert response.json() == {"challenge": 12345}
    assert not InboxEvent.objects.exists()


def test_a_forged_signature_is_refused_and_leaves_no_row(account) -> None:
    raw = (FIXTURES / "im_enter_direct_msg.json").read_bytes()
    response = push(Client(), account, raw, secret="not-the-secret")
    assert response.status_code == 403
    missing = Client().post(url(account), data=raw, content_type="application/json")
    assert missing.status_code == 403
    assert not InboxEvent.objects.exists()
    assert not Lead.objects.exists()


def test_a_malformed_body_is_400(account) -> None:
    response = push(Client(), account, b"{not json")
    assert response.status_code == 400
    assert "JSON" in response.content.decode()


def test_a_replayed_push_has_one_effect(world, account) -> None:
    enter = (FIXTURES / "im_enter_direct_msg.json").read_bytes()
    phone = (FIXTURES / "im_receive_msg_phone.json").read_bytes()
    client = Client()
    for _ in range(3):  # Douyin retries up to 3 times with the same Msg-Id
        assert push(client, account, enter, msg_id="m-enter").status_code == 200
    assert push(client, account, phone, msg_id="m-phone").status_code == 200
    assert InboxEvent.objects.count() == 2
    for event in InboxEvent.objects.order_by("id"):
        assert inbox_process(event_id=event.pk) == InboxStatus.DONE
        assert inbox_process(event_id=event.pk) == "skipped"  # a redelivered task changes nothing
    lead = Lead.objects.get(source=LeadSource.DOUYIN_IM)
    assert lead.ad["ad_id"] == 7100000000001  # the DM entry's ad attribution
    assert lead.customer is not None
    customer = Customer.objects.get()
    assert customer.phone == "13800138000"
    assert customer.source_channel == "douyin"
    assert customer.first_touch["ad_id"] == 7100000000001
    assert Identity.objects.filter(
        customer=customer, platform="douyin", external_id="_000QadFMhmU1jNCI3JdPnyVDL6XavC70dFy"
    ).exists()


def test_local_life_order_becomes_an_order(world, account) -> None:
    from analytics.models import Order

    raw = (FIXTURES / "life_trade_order_notify.json").read_bytes()
    push(Client(), account, raw, msg_id="m-order")
    push(Client(), account, raw, msg_id="m-order")
    event = InboxEvent.objects.get()
    inbox_process(event_id=event.pk)
    order = Order.objects.get()
    assert order.source == "douyin" and str(order.amount) == "99.00"
    assert order.external_ref == "1078888888888888888"


def test_an_unknown_event_is_ignored_not_failed(account) -> None:
    raw = json.dumps({"event": "im_recall_msg", "client_key": "k", "content": {}}).encode()
    push(Client(), account, raw, msg_id="m-recall")
    assert inbox_process(event_id=InboxEvent.objects.get().pk) == InboxStatus.IGNORED


@pytest.mark.slow
def test_the_sandbox_emitter_over_real_http(live_server, transactional_db, world, account) -> None:
    emitter = DouyinWebhookEmitter(url=live_server.url + url(account), client_secret=SECRET)
    assert emitter.verify(challenge=987).body == '{"challenge": 987}'
    body = emitter.enter_direct_msg(open_id="open-1")
    assert emitter.post(body, msg_id="e-1").status == 200
    assert emitter.post(body, msg_id="e-1").status == 200  # replay
    assert emitter.post(body, msg_id="e-2", forge=True).status == 403
    assert list(InboxEvent.objects.values_list("event_key", flat=True)) == ["e-1"]


@pytest.mark.slow
def test_a_dm_lead_goes_through_the_real_webhook_and_celery(live_server, celery_worker, world, account) -> None:
    emitter = DouyinWebhookEmitter(url=live_server.url + url(account), client_secret=SECRET)
    open_id = "open-e2e"
    assert emitter.post(emitter.enter_direct_msg(open_id=open_id, nick_name="直播间小刘"), msg_id="e2e-1").status == 200
    assert emitter.post(emitter.receive_msg(open_id=open_id, text="电话13800138777"), msg_id="e2e-2").status == 200
    # The two events may be processed in either order; the lead ends the same.
    celery_worker.wait_for(lambda: InboxEvent.objects.filter(status=InboxStatus.DONE).count() == 2, timeout=60)
    lead = Lead.objects.get(source=LeadSource.DOUYIN_IM)
    assert lead.ad["ad_id"] == 7100000000001
    assert lead.customer.phone == "13800138777"
