"""How 视频号 (Video Accounts) and 微信小店 (WeChat shop) plug into the webhook endpoint, the inbox and
the account console.

* ``wechat_shop``: 微信小店 pushes — GET URL check, POST safe-mode (AES) JSON with ``msg_signature``;
  answered ``success`` once stored. Credentials ``{secret, token, aes_key}``, ``external_id`` = AppID.
* ``video``: no webhook; live-room leads are pulled (``channels.video.tasks``). Credentials ``{secret}``.

Both connection tests fetch an ``access_token`` with the stored AppID and AppSecret.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.errors import TransientError
from channels.models import ChannelAccount, ChannelPlatform, InboxEvent
from channels.registry import AccountSpec, IncomingEvent, Plugin, Received, WebhookRejected, register
from channels.video.client import WeChatApiError, WeChatTransient
from channels.video.crypto import ShopPushError, event_identity
from channels.video.services import channels_client, shop_crypto, shop_event_process

MAX_BODY = 64 * 1024  # the shop pushes small JSON documents


def receive(request: HttpRequest, account: ChannelAccount) -> Received:
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
    if not isinstance(event.get("Event"), str) or not event["Event"]:
        raise WebhookRejected(400, "解密后的内容不是微信小店事件：缺少 Event 字段")
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


def process(event: InboxEvent) -> str:
    try:
        return shop_event_process(account=event.account, body=event.body)
    except WeChatTransient as exc:
        raise TransientError(str(exc)) from exc


def connection_test(account: ChannelAccount) -> tuple[bool, str]:
    try:
        channels_client(account).access_token(refresh=True)
    except WeChatApiError as exc:
        return False, f"微信返回错误 {exc.code}：{exc.message}。请核对 AppID 和 AppSecret"
    return True, "连接成功：已获取 access_token"


def _shop_clean(data: dict[str, Any]) -> None:
    value = str(data.get("aes_key") or "").strip()
    if value and len(value) != 43:
        raise forms.ValidationError({"aes_key": _("EncodingAESKey 应为 43 位字符：请从微信小店后台复制完整")})
    data["aes_key"] = value


def ready() -> None:
    register(
        Plugin(
            platform=ChannelPlatform.WECHAT_SHOP,
            receive=receive,
            process=process,
            max_body_bytes=MAX_BODY,
            connection_test=connection_test,
            account=AccountSpec(
                external_id_label=gettext_lazy("AppID"),
                secrets=(
                    ("secret", gettext_lazy("AppSecret")),
                    ("token", gettext_lazy("消息推送 Token")),
                    ("aes_key", gettext_lazy("EncodingAESKey（43 位）")),
                ),
                has_webhook=True,
                clean=_shop_clean,
            ),
        )
    )
    register(
        Plugin(
            platform=ChannelPlatform.VIDEO,
            connection_test=connection_test,
            account=AccountSpec(
                external_id_label=gettext_lazy("AppID"), secrets=(("secret", gettext_lazy("AppSecret")),)
            ),
        )
    )
