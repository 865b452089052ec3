"""Phone numbers at rest: encrypted (Fernet) for display, keyed hash (HMAC-SHA256) for lookup.

The key is ``FIELD_ENCRYPTION_KEY``, not ``SECRET_KEY``, so rotating sessions never orphans data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

_NON_DIGITS = re.compile(r"\D+")
PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str) -> str:
    """Return the 11-digit mainland mobile number, or raise ``InvalidPhone`` saying why."""
    digits = _NON_DIGITS.sub("", raw or "")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not PHONE_PATTERN.match(digits):
        raise InvalidPhone("手机号格式不正确：应为 11 位中国大陆手机号")
    return digits


def _key_bytes(purpose: bytes) -> bytes:
    return hashlib.sha256(purpose + settings.FIELD_ENCRYPTION_KEY.encode()).digest()


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_key_bytes(b"fernet:")))


def phone_hash(phone: str) -> str:
    return hmac.new(_key_bytes(b"hmac:"), normalize_phone(phone).encode(), hashlib.sha256).hexdigest()


def key_hash(kind: str, value: str) -> str:
    """The one-way hash an erasure tombstone (contacts.ErasedKey) holds. A phone's is the SHA-256 of its
    ``phone_hash`` (so the database can compare it with ``contacts_customer.phone_hash`` without the
    key, and the tombstone is not the customer's old column); other keys are keyed hashes with their
    kind (``unionid``, ``identity:<platform>:<account>``) in front."""
    if kind == "phone":
        return hashlib.sha256(value.encode()).hexdigest()
    return hmac.new(_key_bytes(b"hmac:"), f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()


def encrypt_phone(phone: str) -> str:
    return _fernet().encrypt(normalize_phone(phone).encode()).decode()


def decrypt_phone(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "****"


PHONE_COLUMNS = ("phone_encrypted", "phone_hash", "phone_mask", "phone_last4")


def phone_columns(phone: str) -> dict[str, str]:
    """Every stored column of a phone number (``Customer``): ciphertext, lookup hash, masked form and
    last four digits; all empty for no number. The clear number itself is never a column."""
    if not phone:
        return {"phone_encrypted": "", "phone_hash": "", "phone_mask": "", "phone_last4": ""}
    digits = normalize_phone(phone)
    return {
        "phone_encrypted": encrypt_phone(digits),
        "phone_hash": phone_hash(digits),
        "phone_mask": mask_phone(digits),
        "phone_last4": digits[-4:],
    }


_MASKED = re.compile(r"^(1\d{2})[*＊xX·•]+(\d{4})$")


def masked_phone_key(text: str) -> str:
    """``138****1234`` (any run of ``*``/``x``) → the stored masked form, or "" when it is not one."""
    match = _MASKED.match(text.replace(" ", ""))
    return f"{match.group(1)}****{match.group(2)}" if match else ""


def encrypt_secret(value: str) -> str:
    """Encrypt a credential (channel secrets, AES keys) for storage."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
