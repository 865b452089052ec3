"""The JSON schema of a segment expression, built from the same constants :func:`contacts.segments.validate`
checks against, and the serializer field that carries it into the OpenAPI document.

The schema states the shape (known keys only, their types, id and number bounds, ISO dates within
1970–2100). What it cannot state is checked by ``validate`` and answered with a 400 naming the part:
that every referenced tag, store, staff member, group and custom field exists in the caller's
organization, that a range's lower end is not above its upper end, and that a tag is not both
required and excluded.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.segments import (
    CHOICE_LISTS,
    CONSENT_VALUES,
    COUNT_MAX,
    CUSTOM_OPS,
    DATE_RANGES,
    ID_LISTS,
    LTV_DIGITS,
    LTV_PLACES,
    NUMBER_RANGES,
    TAG_KEYS,
)

ID_LIST: dict[str, Any] = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
DAY: dict[str, Any] = {"type": "string", "format": "date", "nullable": True}
LTV_MAX = float(10**LTV_DIGITS) - 10**-LTV_PLACES


def _closed(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _number_range(key: str) -> dict[str, Any]:
    if key == "order_count":
        bound: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": COUNT_MAX, "nullable": True}
    else:
        bound = {"type": "number", "minimum": 0, "maximum": LTV_MAX, "multipleOf": 10**-LTV_PLACES, "nullable": True}
    return _closed({"min": bound, "max": bound})


def _custom_condition() -> dict[str, Any]:
    operators: dict[str, Any] = {
        "set": {"type": "boolean"},
        "equals": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
        "contains": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
        "min": {"type": "number", "exclusiveMinimum": True, "minimum": -float(10**LTV_DIGITS)},
        "max": {"type": "number", "exclusiveMaximum": True, "maximum": float(10**LTV_DIGITS)},
        "from": DAY,
        "to": DAY,
        "in": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "any": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    }
    return {**_closed({op: operators[op] for ops in CUSTOM_OPS.values() for op in sorted(ops)}), "minProperties": 1}


def expression_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "tags": _closed(dict.fromkeys(TAG_KEYS, ID_LIST)),
        "consent": {"type": "string", "enum": list(CONSENT_VALUES), "nullable": True},
        "custom": {"type": "object", "additionalProperties": _custom_condition()},
    }
    properties.update(dict.fromkeys(ID_LISTS, ID_LIST))
    for key, (_label, choices) in CHOICE_LISTS.items():
        properties[key] = {"type": "array", "items": {"type": "string", "enum": list(choices.values)}}
    properties.update(dict.fromkeys(DATE_RANGES, _closed({"from": DAY, "to": DAY})))
    properties.update({key: _number_range(key) for key in NUMBER_RANGES})
    return {**_closed(properties), "description": "分群条件，例如 {\"tags\": {\"all\": [1]}, \"consent\": \"granted\"}"}


@extend_schema_field(expression_schema())
class ExpressionField(serializers.JSONField):
    """A segment expression: a JSON object (``contacts.segments.validate`` then refuses what does not fit,
    naming the part), documented with its full shape."""

    default_error_messages = {"not_object": _('分群条件必须是一个 JSON 对象，例如 {"tags": {"all": [1]}}')}

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if value is not None and not isinstance(value, dict):
            self.fail("not_object")
        return value
