"""Webhook + inbox plugins of the lead sources, registered with :mod:`channels.registry`.

* ``douyin``: Douyin open-platform pushes — ``X-Douyin-Signature = sha1(client_secret + raw body)``
  (403, nothing stored, when wrong), the ``verify_webhook`` challenge answered inline, every other
  event stored under its ``Msg-Id`` (Douyin retries 3 times; a replay is a no-op) and processed later.
* ``wechat_shop``: 微信小店 pushes — GET URL check, POST safe-mode (AES) JSON with ``msg_signature``;
  answered ``success`` once stored.

Credentials (``ChannelAccount.credentials()``): douyin ``{client_secret}`` (``external_id`` = client_key);
wechat_shop ``{secret, token, aes_key}`` (``external_id`` = AppID).
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse

from channels.douyin import webhook as douyin_webhook
from channels.douyin.services import douyin_client_secret, douyin_event_process
from channels.errors import TransientError
from channels.models import ChannelAccount, InboxEvent
from channels.registry import IncomingEvent, Plugin, Received, WebhookRejected, register
from channels.video.client import WeChatTransient
from channels.video.services import shop_crypto, shop_event_process
from channels.video.shop import ShopPushError, event_identity

MAX_BODY = 64 * 1024  # both platforms push small JSON documents


def douyin_receive(request: HttpRequest, account: ChannelAccount) -> Received:
    if request.method != "POST":
        raise WebhookRejected(405, "只接受 POST")
    raw = request.body
    signature = request.headers.get(douyin_webhook.SIGNATURE_HEADER, "")
    if not douyin_webhook.signature_valid(
        client_secret=douyin_client_secret(account), raw_body=raw, signature=signature
    ):
        raise WebhookRejected(403, "签名校验失败：请核对渠道账号的 client_secret")
    try:
        body = douyin_webhook.parse_body(raw)
    except ValueError as exc:
        raise WebhookRejected(400, str(exc)) from exc
    challenge = douyin_webhook.challenge_response(body)
    if challenge is not None:
        return Received(response=JsonResponse(challenge))
    event_key = douyin_webhook.event_identity(headers=request.headers, body=body)
    return Received(
        response=JsonResponse({"err_no": 0, "err_tips": "success"}),
        events=[IncomingEvent(event_key=event_key, body=raw.decode("utf-8"), event_type=str(body["event"])[:80])],
    )


def douyin_process(event: InboxEvent) -> str:
    return douyin_event_process(account=event.account, body=event.body, event_key=event.event_key)


def shop_receive(request: HttpRequest, account: ChannelAccount) -> Received:
    crypto = shop_crypto(account)
    query = request.GET
    if request.method == "GET":
        if not crypto.check_url(
            signature_=query.get("signature", ""), timestamp=query.get("timestamp", ""), nonce=query.get("nonce", "")
        ):
            raise WebhookRejected(403, "签名校验失败：请核对微信小店的 Token")
        return Received(response=HttpResponse(query.get("echostr", ""), content_type="text/plain"))
    try:
        event = crypto.decrypt(
            raw_body=request.body,
            msg_signature=query.get("msg_signature", ""),
            timestamp=query.get("timestamp", ""),
            nonce=query.get("nonce", ""),
        )
    except ShopPushError as exc:
        if str(exc) == "signature":
            raise WebhookRejected(403, "签名校验失败：请核对微信小店的 Token") from exc
        raise WebhookRejected(400, str(exc)) from exc
    return Received(
        response=HttpResponse("success", content_type="text/plain"),
        events=[
            IncomingEvent(
                event_key=event_identity(event),
                body=json.dumps(event, ensure_ascii=False),
                event_type=str(event.get("Event", ""))[:80],
            )
        ],
    )


def shop_process(event: InboxEvent) -> str:
    try:
        return shop_event_process(account=event.account, body=event.body)
    except WeChatTransient as exc:
        raise TransientError(str(exc)) from exc


def register_all() -> None:
    register(Plugin(platform="douyin", receive=douyin_receive, process=douyin_process, max_body_bytes=MAX_BODY))
    register(Plugin(platform="wechat_shop", receive=shop_receive, process=shop_process, max_body_bytes=MAX_BODY))


def connection_test(account: ChannelAccount) -> tuple[bool, str] | None:
    """Online check of a lead-source account for ``channel_account_test`` (``None``: no test API)."""
    from datetime import timedelta

    from django.utils import timezone

    from channels.douyin.client import OceanEngineError
    from channels.douyin.services import advertiser_ids, local_account_ids, ocean_engine_client
    from channels.meituan.client import MeituanError
    from channels.meituan.services import meituan_client
    from channels.models import ChannelPlatform
    from channels.video.client import WeChatApiError
    from channels.video.services import channels_client

    now = timezone.localtime()
    try:
        if account.platform == ChannelPlatform.OCEAN_ENGINE:
            client = ocean_engine_client(account)
            client.clue_page(
                advertiser_ids=advertiser_ids(account), start=now - timedelta(minutes=1), end=now, page_size=1
            )
            local = local_account_ids(account)[:50]
            if local:
                client.life_clue_page(local_account_ids=local, start=now - timedelta(minutes=1), end=now, page_size=1)
                return True, "连接成功：巨量引擎线索接口和本地推线索接口可用"
            return True, "连接成功：巨量引擎线索接口可用"
        if account.platform == ChannelPlatform.MEITUAN:
            meituan_client(account).query_list_by_date(date=now.date().isoformat(), limit=1)
            return True, "连接成功：美团验券记录接口可用"
        if account.platform in (ChannelPlatform.VIDEO, ChannelPlatform.WECHAT_SHOP):
            channels_client(account).access_token(refresh=True)
            return True, "连接成功：已获取 access_token"
    except OceanEngineError as exc:
        return False, f"巨量引擎返回错误 {exc.code}：{exc.message}。请核对 Access-Token、广告主 ID 和本地推账户 ID"
    except MeituanError as exc:
        return False, exc.hint
    except WeChatApiError as exc:
        return False, f"微信返回错误 {exc.code}：{exc.message}。请核对 AppID 和 AppSecret"
    return None
