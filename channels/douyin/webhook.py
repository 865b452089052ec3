"""Douyin open-platform webhooks: signature check and the verify_webhook challenge.

Every push carries ``X-Douyin-Signature = sha1_hex(client_secret + raw_body)`` and a ``Msg-Id`` (the
dedupe key: Douyin retries up to 3 times and 生活服务 says "不保证消息必达、有序、不重复").
PLATFORMS.md §5.1C.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_HEADER = "X-Douyin-Signature"
MSG_ID_HEADER = "Msg-Id"


def sign(client_secret: str, raw_body: bytes) -> str:
    return hashlib.sha1(client_secret.encode() + raw_body).hexdigest()  # noqa: S324 — the platform's scheme


def signature_valid(*, client_secret: str, raw_body: bytes, signature: str) -> bool:
    if not client_secret or not signature:
        return False
    return hmac.compare_digest(sign(client_secret, raw_body), signature.strip().lower())


def parse_body(raw_body: bytes) -> dict[str, Any]:
    """Decode the JSON envelope; raises ``ValueError`` with a message saying what is wrong."""
    try:
        body = json.loads(raw_body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("请求体不是合法的 JSON") from exc
    if not isinstance(body, dict) or not body.get("event"):
        raise ValueError("缺少 event 字段")
    return body


def challenge_response(body: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to ``verify_webhook`` (``{"challenge": n}``), or ``None`` for any other event."""
    if body.get("event") != "verify_webhook":
        return None
    content = body.get("content") or {}
    if isinstance(content, str):
        content = json.loads(content or "{}")
    return {"challenge": content.get("challenge")}


def event_identity(*, headers: Any, body: dict[str, Any]) -> str:
    """Dedupe key: the ``Msg-Id`` header, else the body's ``log_id``, else a hash of the event."""
    msg_id = headers.get(MSG_ID_HEADER) or headers.get("HTTP_MSG_ID") or ""
    if msg_id:
        return str(msg_id)[:128]
    if body.get("log_id"):
        return f"log:{body['log_id']}"[:128]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"sha:{digest}"
