"""Log redaction: phone numbers and secrets never reach a log line.

The filter rewrites the formatted message, its arguments and any ``extra`` fields, so a careless
``logger.info("%s", payload)`` cannot leak a phone number or a token either.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# Mainland mobile numbers (optionally +86 / 86 prefixed), as written in payloads and free text.
PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
SECRET_KEYS = re.compile(
    r"(secret|token|password|passwd|aes_?key|encoding_?aes_?key|access_?token|api_?key|signature|phone|mobile)",
    re.IGNORECASE,
)
# key=value or "key": "value" pairs whose key names a secret.
SECRET_PAIR_RE = re.compile(
    r"(?P<key>[\"']?[A-Za-z_]*(?:secret|token|password|aes_?key|access_?token|api_?key)[A-Za-z_]*[\"']?"
    r"\s*[:=]\s*)(?P<q>[\"']?)(?P<val>[^\"'&\s,}]+)",
    re.IGNORECASE,
)
MASK = "***"
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def redact_text(text: str) -> str:
    text = SECRET_PAIR_RE.sub(lambda m: f"{m.group('key')}{m.group('q')}{MASK}", text)
    return PHONE_RE.sub(MASK, text)


def _is_request(value: Any) -> bool:
    return all(hasattr(value, attr) for attr in ("method", "path", "META"))


def redact_value(key: str, value: Any) -> Any:
    if SECRET_KEYS.search(key):
        return MASK
    if _is_request(value):
        # Django's request loggers pass the request itself (``extra={"request": request}``); its repr
        # carries the query string (``?q=<phone>``), so it is logged as method and path only.
        return f"<{type(value).__name__}: {value.method} {redact_text(str(value.path))}>"
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(key, v) for v in value]
    return value


class RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, redact_value(key, value))
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True
