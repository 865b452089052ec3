"""WeChat shop (微信小店) message push: signature check, AES decryption, event parsing.

The push uses the standard WeChat message-push scheme (docs/platforms.md#wechat-shop-push, #wecom-callback-crypto): GET
``signature/timestamp/nonce/echostr`` for URL verification; POST in safe mode with
``msg_signature = sha1(sorted([token, timestamp, nonce, Encrypt]))`` and a JSON body
``{"ToUserName", "Encrypt"}``; the plaintext is ``random16 + len + msg + appid`` (AES-256-CBC,
IV = key[:16]), the AppID as receive id. Reply ``success`` within 5 s.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from wechatpy.crypto import PrpCrypto

from channels import payload

ORDER_EVENTS = {
    "channels_ec_order_new",
    "channels_ec_order_cancel",
    "channels_ec_order_pay",
    "channels_ec_order_wait_shipping",
    "channels_ec_order_deliver",
    "channels_ec_order_confirm",
    "channels_ec_order_settle",
    "channels_ec_order_ext_info_update",
}


class ShopPushError(ValueError):
    """Bad signature or undecryptable body (the view answers 403 / 400)."""


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 — the platform's scheme


def _key(aes_key: str) -> bytes:
    return base64.b64decode(aes_key + "=")


@dataclass
class ShopCrypto:
    token: str
    aes_key: str  # EncodingAESKey, 43 chars
    appid: str

    def check_url(self, *, signature_: str, timestamp: str, nonce: str) -> bool:
        return hmac.compare_digest(signature(self.token, timestamp, nonce), signature_ or "")

    def encrypt(self, plaintext: str, *, timestamp: str, nonce: str) -> tuple[dict[str, str], str]:
        """(body, msg_signature) — used by the sandbox emitter, and to prove our decryption."""
        encrypted = PrpCrypto(_key(self.aes_key)).encrypt(plaintext, self.appid).decode()
        return {"ToUserName": "gh_sandbox", "Encrypt": encrypted}, signature(self.token, timestamp, nonce, encrypted)

    def decrypt(self, *, raw_body: bytes, msg_signature: str, timestamp: str, nonce: str) -> dict[str, Any]:
        # The envelope has to be read to find what is signed: bounded (depth, UTF-8) so it cannot blow up.
        try:
            envelope = payload.json_loads(raw_body)
        except payload.PayloadError as exc:
            raise ShopPushError(str(exc)) from exc
        encrypted = envelope.get("Encrypt") if isinstance(envelope, dict) else None
        if not isinstance(encrypted, str) or not encrypted:
            raise ShopPushError("请求体缺少 Encrypt 字段")
        if not hmac.compare_digest(signature(self.token, timestamp, nonce, encrypted), msg_signature or ""):
            raise ShopPushError("signature")
        try:
            plaintext = PrpCrypto(_key(self.aes_key)).decrypt(encrypted, self.appid)
        except Exception as exc:  # the cipher raises several types; all mean "not for us"
            raise ShopPushError("解密失败：请检查 EncodingAESKey 与 AppID") from exc
        try:
            event = payload.json_loads(plaintext, what="解密后的内容")
            if not isinstance(event, dict):
                raise payload.PayloadError("解密后的内容应为 JSON 对象")
            order_id = payload.obj(event.get("order_info"), "order_info").get("order_id", "")
            if not isinstance(order_id, str | int) or isinstance(order_id, bool):
                raise payload.PayloadError("order_info.order_id 应为字符串或数字")
        except payload.PayloadError as exc:
            raise ShopPushError(str(exc)) from exc
        return event


def event_identity(event: dict[str, Any]) -> str:
    """Dedupe key: WeChat retries the same event up to 10 times (~3.6 h)."""
    info = event.get("order_info")
    order_id = info.get("order_id", "") if isinstance(info, dict) else ""
    return f"{event.get('Event', '')}:{order_id}:{event.get('CreateTime', '')}"[:128]
