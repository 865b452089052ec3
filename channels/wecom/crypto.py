"""WXBizMsgCrypt for WeCom callbacks, on ``cryptography`` (docs/platforms.md#wecom-callback-crypto).

* signature = sha1 of the sorted concatenation of ``[token, timestamp, nonce, encrypted]``;
* AES key = base64decode(EncodingAESKey + "="), 32 bytes; AES-256-CBC with IV = key[:16];
* plaintext = random(16) + len(msg) as 4 big-endian bytes + msg + receive id (the corp id), PKCS#7
  padded to a multiple of **32** bytes (not the AES block size of 16).

Interoperability with wechatpy 2.0 is checked in tests/channels/wecom/test_crypto.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PAD_BLOCK = 32
_ENCRYPT_RE = re.compile(rb"<Encrypt>\s*<!\[CDATA\[(.*?)\]\]>\s*</Encrypt>", re.S)
_ENCRYPT_PLAIN_RE = re.compile(rb"<Encrypt>([^<]*)</Encrypt>", re.S)


class CryptoError(ValueError):
    """The message cannot be decrypted or does not belong to this receiver."""


class SignatureError(CryptoError):
    """The signature does not match: not from the platform (or a different token)."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    parts = sorted([token, timestamp, nonce, encrypted])
    return hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 - the platform's algorithm


def extract_encrypt(body: bytes) -> bytes:
    """The ``<Encrypt>`` element of a callback envelope, as raw bytes (fast path without an XML parser).

    Not decoded here: the signature is checked over these bytes first, and only a signed value is decoded.
    """
    match = _ENCRYPT_RE.search(body) or _ENCRYPT_PLAIN_RE.search(body)
    if not match:
        raise CryptoError("请求体不是企业微信回调格式：缺少 <Encrypt> 元素")
    return match.group(1).strip()


class WXBizMsgCrypt:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise CryptoError("EncodingAESKey 应为 43 个字符")
        try:
            self.key = base64.b64decode(encoding_aes_key + "=")
        except binascii.Error as exc:
            raise CryptoError("EncodingAESKey 不是合法的 Base64") from exc
        if len(self.key) != 32:
            raise CryptoError("EncodingAESKey 解码后应为 32 字节")
        self.token = token
        self.receive_id = receive_id

    # -- low level -------------------------------------------------------------------------------
    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, plaintext: str | bytes, *, random_prefix: bytes | None = None) -> str:
        msg = plaintext.encode() if isinstance(plaintext, str) else plaintext
        prefix = random_prefix if random_prefix is not None else os.urandom(16)
        raw = prefix + struct.pack(">I", len(msg)) + msg + self.receive_id.encode()
        pad = PAD_BLOCK - len(raw) % PAD_BLOCK
        raw += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> bytes:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("加密内容不是合法的 Base64") from exc
        if not data or len(data) % 16:
            raise CryptoError("加密内容长度不正确")
        decryptor = self._cipher().decryptor()
        raw = decryptor.update(data) + decryptor.finalize()
        pad = raw[-1]
        if pad < 1 or pad > PAD_BLOCK:
            raise CryptoError("解密失败：填充不正确（EncodingAESKey 是否正确？）")
        raw = raw[:-pad]
        if len(raw) < 20:
            raise CryptoError("解密失败：内容过短")
        (length,) = struct.unpack(">I", raw[16:20])
        msg = raw[20 : 20 + length]
        receive_id = raw[20 + length :]
        if len(msg) != length:
            raise CryptoError("解密失败：长度字段不正确")
        if not hmac.compare_digest(receive_id, self.receive_id.encode()):
            raise CryptoError("解密失败：消息不属于此企业（CorpID 不匹配）")
        return msg

    def check(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str | bytes) -> None:
        if isinstance(encrypted, bytes):
            # UTF-8 preserves code-point order, so sorting the bytes sorts like the platform sorts the text.
            parts = sorted([self.token.encode(), timestamp.encode(), nonce.encode(), encrypted])
            expected = hashlib.sha1(b"".join(parts)).hexdigest()  # noqa: S324 - the platform's algorithm
        else:
            expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, (msg_signature or "").lower()):
            raise SignatureError("签名校验失败")

    # -- the two callback operations -------------------------------------------------------------
    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET handshake: check the signature over ``echostr`` and return its plaintext."""
        self.check(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr).decode()

    def decrypt_message(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> bytes:
        """POST: verify and decrypt the envelope; returns the event XML (bytes)."""
        encrypted = extract_encrypt(body)
        self.check(msg_signature, timestamp, nonce, encrypted)
        try:
            text = encrypted.decode("ascii")
        except UnicodeDecodeError as exc:
            raise CryptoError("加密内容不是合法的 Base64") from exc
        return self.decrypt(text)

    def encrypt_message(
        self, xml: str | bytes, nonce: str, timestamp: str | None = None, agent_id: str = ""
    ) -> tuple[str, dict[str, str]]:
        """Build a callback envelope as WeCom sends it: returns (body, query params)."""
        ts = timestamp or str(int(time.time()))
        encrypted = self.encrypt(xml)
        sig = signature(self.token, ts, nonce, encrypted)
        body = (
            f"<xml><ToUserName><![CDATA[{self.receive_id}]]></ToUserName>"
            f"<AgentID><![CDATA[{agent_id}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return body, {"msg_signature": sig, "timestamp": ts, "nonce": nonce}
