"""Bounded decoding of platform payloads (issue 14): every webhook body and stored event goes through here.

``json_loads`` refuses invalid UTF-8, invalid JSON and nesting deeper than ``MAX_DEPTH`` (checked on the
raw text before the parser runs, so 60,000 ``[`` cost one scan, not a ``RecursionError``). ``obj`` /
``obj_list`` check the shape of a part the code is about to read. All raise :class:`PayloadError`, a
``ValueError`` whose message says what is wrong: receivers answer 400 and store nothing, processors
mark the event ignored with that reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


class PayloadError(ValueError):
    """A payload that cannot be used as it is; the message (Chinese) says why."""


class TooDeep(PayloadError):
    """JSON text nested deeper than ``MAX_DEPTH``."""


def nesting_depth(raw: bytes) -> int:
    """Deepest ``[``/``{`` nesting of JSON text (brackets inside strings do not count)."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


def json_loads(raw: bytes | str, *, what: str = "请求体") -> Any:
    """Parse JSON with the bounds above; raises :class:`PayloadError`."""
    if isinstance(raw, str):
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PayloadError(f"{what}不是合法的 UTF-8 文本") from exc
    else:
        data = raw
    if nesting_depth(data) > MAX_DEPTH:
        raise TooDeep(f"{what}嵌套超过 {MAX_DEPTH} 层")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{what}不是合法的 UTF-8 文本") from exc
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"{what}不是合法的 JSON") from exc


def obj(value: Any, what: str) -> dict[str, Any]:
    """``value`` as an object (missing or empty → ``{}``); anything else is a :class:`PayloadError`."""
    if value in (None, "", [], {}):
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{what}应为 JSON 对象，收到 {type(value).__name__}")
    return value


def obj_list(value: Any, what: str) -> list[dict[str, Any]]:
    """``value`` as a list of objects (missing → ``[]``)."""
    if value in (None, "", []):
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PayloadError(f"{what}应为 JSON 对象的列表")
    return value
