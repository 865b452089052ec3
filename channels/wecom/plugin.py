"""How WeCom plugs into the shared webhook endpoint, the inbox and the account console.

* ``receive``: GET URL verification and POST events (docs/platforms.md#wecom-callbacks). Verification and
  decryption only; the decrypted XML is stored in the inbox and processed later by ``process``
  (:func:`channels.wecom.services.process_event`).
* ``connection_test``: ``gettoken`` + ``get_follow_user_list`` with the stored credentials.
"""

from __future__ import annotations

import hashlib
import time
from xml.etree import ElementTree

from django.http import HttpRequest, HttpResponse

from channels.errors import PlatformError, TransientError
from channels.models import ChannelAccount, ChannelPlatform
from channels.registry import IncomingEvent, Plugin, Received, WebhookRejected, register
from channels.wecom import services
from channels.wecom.adapter import parse_event
from channels.wecom.client import WeComClient
from channels.wecom.crypto import CryptoError, SignatureError, WXBizMsgCrypt
from contacts import services as contacts

# Fields that together identify one WeCom event (docs/platforms.md#wecom-callbacks: FromUserName + CreateTime, plus
# what distinguishes two events of the same second).
KEY_FIELDS = (
    "CreateTime",
    "Event",
    "ChangeType",
    "UserID",
    "ExternalUserID",
    "ChatId",
    "UpdateDetail",
    "Id",
    "TagType",
    "Source",
    "FailReason",
    "MemChangeCnt",
)

_CRYPTS: dict[int, tuple[float, object, WXBizMsgCrypt]] = {}


def crypt_for(account: ChannelAccount) -> WXBizMsgCrypt:
    """The account's WXBizMsgCrypt, cached per process (credentials are decrypted once per change)."""
    cached = _CRYPTS.get(account.pk)
    if cached and cached[1] == account.updated_at and cached[0] > time.monotonic():
        return cached[2]
    creds = account.credentials()
    token, aes_key = creds.get("token", ""), creds.get("aes_key", "")
    if not token or not aes_key:
        raise WebhookRejected(403, "该账号未配置回调 Token / EncodingAESKey")
    try:
        crypt = WXBizMsgCrypt(token, aes_key, account.external_id)
    except CryptoError as exc:
        raise WebhookRejected(403, f"该账号的 EncodingAESKey 无效：{exc}") from exc
    _CRYPTS[account.pk] = (time.monotonic() + 60, account.updated_at, crypt)
    return crypt


def event_key(fields: dict[str, str]) -> str:
    key = ":".join(fields.get(name, "") for name in KEY_FIELDS)
    if fields.get("LinkId"):  # 获客助手 events of two links can share a second (appended: older keys unchanged)
        key += f":{fields['LinkId']}"
    if len(key) > 200:
        key = hashlib.sha256(key.encode()).hexdigest()
    return key


def receive(request: HttpRequest, account: ChannelAccount) -> Received:
    params = request.GET
    msg_signature, timestamp, nonce = (
        params.get("msg_signature", ""),
        params.get("timestamp", ""),
        params.get("nonce", ""),
    )
    if not (msg_signature and timestamp and nonce):
        raise WebhookRejected(400, "缺少 msg_signature / timestamp / nonce 参数")
    crypt = crypt_for(account)
    if request.method == "GET":
        # Base64 "+" arrives as a space when a proxy or the sender did not URL-encode it.
        echostr = params.get("echostr", "").replace(" ", "+")
        if not echostr:
            raise WebhookRejected(400, "缺少 echostr 参数")
        try:
            plain = crypt.verify_url(msg_signature, timestamp, nonce, echostr)
        except SignatureError as exc:
            raise WebhookRejected(403, "签名校验失败：请核对回调 Token") from exc
        except CryptoError as exc:
            raise WebhookRejected(400, f"echostr 解密失败：{exc}") from exc
        # Plain text, no quotes, no BOM, no newline (WeCom checks it byte for byte).
        return Received(response=HttpResponse(plain, content_type="text/plain"))
    if request.method != "POST":
        raise WebhookRejected(405, "只接受 GET（验证）和 POST（事件）")
    body = request.body
    if not body:
        raise WebhookRejected(400, "请求体为空")
    try:
        xml = crypt.decrypt_message(body, msg_signature, timestamp, nonce)
    except SignatureError as exc:
        raise WebhookRejected(403, "签名校验失败：请核对回调 Token") from exc
    except CryptoError as exc:
        raise WebhookRejected(400, f"消息格式错误：{exc}") from exc
    # Signed and decrypted: only now is the content decoded and parsed, and any failure is a 400.
    try:
        text = xml.decode("utf-8")
        fields = parse_event(text)
    except UnicodeDecodeError as exc:
        raise WebhookRejected(400, "解密后的内容不是合法的 UTF-8 文本") from exc
    except (ElementTree.ParseError, ValueError, RecursionError) as exc:
        raise WebhookRejected(400, "解密后的内容不是合法 XML") from exc
    event_type = ":".join(
        x for x in (fields.get("Event", "") or fields.get("MsgType", ""), fields.get("ChangeType", "")) if x
    )
    return Received(
        response=HttpResponse("success", content_type="text/plain"),
        events=[IncomingEvent(event_key=event_key(fields), body=text, event_type=event_type)],
    )


def connection_test(account: ChannelAccount) -> tuple[bool, str]:
    client = WeComClient.for_account(account, max_wait=2.0)
    try:
        client.access_token()
        members = client.follow_user_list()
    except PlatformError as exc:
        return False, f"企业微信返回错误 {exc.code}：{exc.message}。请核对 CorpID 和应用 Secret"
    except TransientError as exc:
        return False, f"无法连接企业微信（{exc}），请检查 API 地址和网络后重试"
    return True, f"连接成功：{len(members)} 位成员开通了客户联系"


def ready() -> None:
    """Called from ``ChannelsConfig.ready()``: the callback plugin, the tag push listeners and the
    sidebar's JS-SDK bridge."""
    register(
        Plugin(
            platform=ChannelPlatform.WECOM,
            receive=receive,
            process=services.process_event,
            connection_test=connection_test,
            atomic=False,
        )
    )
    services.connect_tag_listener()
    contacts.register_sidebar_extension("channels/wecom/_sidebar_bridge.html")
    # Remark, description and remark phones of each WeCom follow, editable (pushed with externalcontact/remark).
    contacts.register_profile_extension("channels/wecom/_remarks.html")
