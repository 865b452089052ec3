"""Douyin open-platform webhook signatures (no I/O, no Django: the sandbox signs with it too).

Every push carries ``X-Douyin-Signature = sha1_hex(client_secret + raw_body)`` and a ``Msg-Id`` (the
dedupe key: Douyin retries up to 3 times and 生活服务 says "不保证消息必达、有序、不重复").
docs/platforms.md#douyin-webhooks.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Douyin-Signature"


def sign(client_secret: str, raw_body: bytes) -> str:
    return hashlib.sha1(client_secret.encode() + raw_body).hexdigest()  # noqa: S324 — the platform's scheme


def signature_valid(*, client_secret: str, raw_body: bytes, signature: str) -> bool:
    if not client_secret or not signature:
        return False
    return hmac.compare_digest(sign(client_secret, raw_body), signature.strip().lower())
