"""微信小店 order pushes through /hooks/wechat_shop/<key>/ (encrypted, signed) → orders, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from analytics.models import Order
from channels.inbox import inbox_process
from channels.models import ChannelPlatform, InboxEvent, InboxStatus, Lead, LeadSource
from channels.sandbox.douyin import serve
from channels.sandbox.video import ShopPushEmitter, WeChatShopFake
from channels.video.crypto import signature
from channels.video.services import shop_crypto, video_live_leads_sync
from contacts.models import Customer
from tests.channels.leads.helpers import make_account

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def shop(world) -> Iterator[tuple[WeChatShopFake, object]]:
    fake = WeChatShopFake()
    served = serve(fake)
    account = make_account(
        world.org,
        ChannelPlatform.WECHAT_SHOP,
        external_id=fake.appid,
        api_base=served.base_url,
        credentials={"secret": fake.secret, "token": "shopToken", "aes_key": AES_KEY},
        store=world.store_b,
    )
    yield fake, account
    served.stop()


def _push(client: Client, account, event: dict, *, forge: bool = False):
    crypto = shop_crypto(account)
    body, msg_signature = crypto.encrypt(json.dumps(event), timestamp="1763870460", nonce="n0")
    query = f"?timestamp=1763870460&nonce=n0&encrypt_type=aes&msg_signature={'0' * 40 if forge else msg_signature}"
    return client.post(
        f"/hooks/wechat_shop/{account.hook_key}/{query}", data=json.dumps(body), content_type="application/json"
    )


def test_url_verification(shop) -> None:
    _, account = shop
    good = signature("shopToken", "1", "n")
    response = Client().get(
        f"/hooks/wechat_shop/{account.hook_key}/",
        {"signature": good, "timestamp": "1", "nonce": "n", "echostr": "hello"},
    )
    assert response.content == b"hello"
    bad = Client().get(
        f"/hooks/wechat_shop/{account.hook_key}/",
        {"signature": "x", "timestamp": "1", "nonce": "n", "echostr": "hello"},
    )
    assert bad.status_code == 403


def test_a_paid_order_push_records_one_order(world, shop) -> None:
    fake, account = shop
    order = fake.add_order(openid="o_buyer_1", unionid="u_buyer_1", amount_fen=12900)
    event = {
        "ToUserName": "gh",
        "FromUserName": "o_buyer_1",
        "CreateTime": 1763870460,
        "MsgType": "event",
        "Event": "channels_ec_order_pay",
        "order_info": {"order_id": order["order_id"]},
    }
    client = Client()
    for _ in range(3):  # WeChat retries until it reads "success"
        response = _push(client, account, event)
        assert response.status_code == 200 and response.content == b"success"
    assert InboxEvent.objects.count() == 1
    assert inbox_process(event_id=InboxEvent.objects.get().pk) == InboxStatus.DONE
    recorded = Order.objects.get()
    assert (recorded.source, str(recorded.amount), recorded.external_ref) == (
        "wechat_shop",
        "129.00",
        order["order_id"],
    )
    assert recorded.store == world.store_b
    customer = Customer.objects.get()
    assert customer.unionid == "u_buyer_1" and customer.source_channel == "wechat_shop"


def test_a_forged_push_is_refused_and_stores_nothing(shop) -> None:
    _, account = shop
    event = {"Event": "channels_ec_order_pay", "order_info": {"order_id": "1"}, "CreateTime": 1}
    assert _push(Client(), account, event, forge=True).status_code == 403
    assert not InboxEvent.objects.exists()


def test_a_cancelled_order_is_refunded(world, shop) -> None:
    fake, account = shop
    order = fake.add_order(openid="o_buyer_2", amount_fen=5000)
    client = Client()
    _push(
        client,
        account,
        {"Event": "channels_ec_order_pay", "CreateTime": 1, "order_info": {"order_id": order["order_id"]}},
    )
    order["status"] = 250
    _push(
        client,
        account,
        {"Event": "channels_ec_order_cancel", "CreateTime": 2, "order_info": {"order_id": order["order_id"]}},
    )
    for event in InboxEvent.objects.order_by("id"):
        inbox_process(event_id=event.pk)
    recorded = Order.objects.get()
    assert str(recorded.refunded_amount) == "50.00"


@pytest.mark.slow
def test_the_push_emitter_over_real_http(live_server, transactional_db, world, shop) -> None:
    fake, account = shop
    order = fake.add_order()
    emitter = ShopPushEmitter(
        url=f"{live_server.url}/hooks/wechat_shop/{account.hook_key}/", crypto=shop_crypto(account)
    )
    assert emitter.push(emitter.order_event(order_id=order["order_id"])).delivered
    forged = emitter.push(emitter.order_event(order_id="x"), forge=True)
    assert not forged.delivered and forged.last_status == 403
    assert InboxEvent.objects.count() == 1


def test_live_room_leads_are_pulled_once(world, shop) -> None:
    fake, account = shop
    from channels.models import ChannelAccount

    video = make_account(
        world.org,
        ChannelPlatform.VIDEO,
        external_id=fake.appid,
        api_base=account.api_base,
        credentials={"secret": fake.secret},
        store=world.store_a,
        name="视频号",
    )
    for i in range(3):
        fake.add_live_lead(phone=f"1390013900{i}", name=f"观众{i}")
    fake.add_live_lead(phone="13900139000", name="观众0")  # the same viewer on the form twice
    now = datetime.now(tz=ZoneInfo("Asia/Shanghai"))
    assert video_live_leads_sync(account_id=video.pk, now=now)["seen"] == 4
    video_live_leads_sync(account_id=video.pk, now=now + timedelta(minutes=5))
    assert Lead.objects.filter(source=LeadSource.VIDEO_LIVE).count() == 3
    assert Customer.objects.filter(source_channel="video").count() == 3
    assert ChannelAccount.objects.get(pk=video.pk).last_synced_at is not None
