"""OpenAPI post-processing (drf-spectacular ``POSTPROCESSING_HOOKS``): the answers every API operation can
give besides its success, written once for all operations instead of per view.

* **400** on every operation that takes parameters or a body: a JSON object naming each refused field
  with its reasons (``{"amount": ["请填写合法的数字。"]}``), or ``{"detail": "..."}`` for a refusal that
  concerns the whole request.
* **403** on every operation that needs a login or token: not logged in, the token expired or was
  revoked, or the role may not do this. (The session scheme comes first, so DRF answers 403, not 401.)
* **404** on every operation with a path parameter: the object does not exist or lies outside the
  caller's organization or stores (never a 403 that would confirm it exists).
* **405** everywhere (a method the path does not serve; the ``Allow`` header lists those it does) and
  **415** on operations with a body (a content type no parser reads).

Values are documented as the serializers check them: a date or datetime carries a ``pattern`` with the
years 1970–2100 and the offsets within ±14:00 that ``scrm.fields`` accepts (the format alone would
allow year 0001 or +23:59), and a decimal sent as a string carries a pattern that needs at least one
digit and has no minus sign when the field refuses negatives (DRF's own allows "" and "-"), and a text
field that refuses blanks says it needs a non-space character (DRF trims "  " to "" and refuses it).

The request bodies are documented as JSON (the multipart upload of an import stays multipart): the
form encodings DRF also parses cannot carry ``null`` or nested values, so documenting them would
describe requests whose meaning the schema cannot state.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

# Years as written 1970–2100 (scrm.fields checks the same); the date itself is the format's to check.
DATE_PATTERN = r"^(19[7-9]\d|20\d\d|2100)-\d\d-\d\d$"
DATETIME_PATTERN = (
    r"^(19[7-9]\d|20\d\d|2100)-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-](0\d|1[0-3]):[0-5]\d|[+-]14:00)$"
)
PATTERNS = {"date": DATE_PATTERN, "date-time": DATETIME_PATTERN}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The refusal: ``detail`` for the request as a whole, or each refused field with its reasons.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {},
}
ERROR_REF = {"$ref": "#/components/schemas/ApiError"}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ANSWERS = {
    "400": "请求不合法：参数或请求体有误（逐项说明字段和原因）",
    "403": "未登录、令牌已过期或已撤销，或当前角色无权执行此操作",
    "404": "对象不存在，或不在你的品牌 / 门店范围内",
    "405": "此路径不支持该请求方法（Allow 头列出支持的方法）",
    "415": "不支持的请求体类型",
}


def _answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _requires_auth(operation: dict[str, Any], default: list[dict[str, Any]] | None) -> bool:
    security: list[dict[str, Any]] = operation.get("security", default) or []
    return bool(security) and {} not in security


def _json_only(body: dict[str, Any]) -> None:
    content = body.get("content", {})
    if "application/json" in content:
        for media_type in FORM_TYPES:
            content.pop(media_type, None)


def error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["ApiError"] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            body = operation.get("requestBody")
            wanted = ["405"]
            if parameters or body:
                wanted.append("400")
            if body:
                _json_only(body)
                wanted.append("415")
            if _requires_auth(operation, result.get("security")):
                wanted.append("403")
            if any(parameter.get("in") == "path" for parameter in parameters):
                wanted.append("404")
            for code in wanted:
                responses.setdefault(code, _answer(ANSWERS[code]))
    return result


def _bounded_values(node: Any) -> None:
    """Give every date and datetime in the document the pattern of the bounds the API enforces."""
    if isinstance(node, dict):
        fmt = node.get("format")
        if node.get("type") == "string" and fmt in PATTERNS and "pattern" not in node:
            node["pattern"] = PATTERNS[fmt]
        for value in node.values():
            _bounded_values(value)
    elif isinstance(node, list):
        for value in node:
            _bounded_values(value)


def bounded_values(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    _bounded_values(result)
    return result


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The strings ``field`` accepts: at least one digit, at most its whole and decimal digits, and a
    minus sign only when it takes negative values."""
    whole = field.max_whole_digits
    places = field.decimal_places
    digits = r"\d+" if whole is None else (r"0" if whole == 0 else rf"\d{{1,{whole}}}")
    number = digits if not places else rf"(?:{digits}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})"
    negative = field.min_value is None or field.min_value < 0
    return rf"^{'-?' if negative else ''}{number}$"


class DecimalFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = "rest_framework.fields.DecimalField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if schema.get("type") == "string" and "pattern" in schema:
            schema["pattern"] = decimal_pattern(self.target)
        return schema



NON_BLANK = r"\S"


class CharFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    target_class = "rest_framework.fields.CharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        plain_text = schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema)
        plain_text = plain_text and not any(isinstance(v, RegexValidator) for v in field.validators)
        if direction == "request" and plain_text and not field.allow_blank and field.trim_whitespace:
            schema["pattern"] = NON_BLANK
        return schema
