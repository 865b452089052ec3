"""The JSON schema of a segment rule tree, built from the same constants :func:`contacts.segments.validate`
checks against, and the serializer field that carries it into the OpenAPI document.

The tree is published as components: ``SegmentNode`` is one of ``SegmentAll`` / ``SegmentAny`` /
``SegmentNot`` (each refers back to ``SegmentNode``) or ``SegmentLeaf`` — the flat condition object,
including the behaviour conditions higher layers registered (:mod:`contacts.segments.registry`).
The schema states the shape (known keys only, their types, id and number bounds, ISO dates within
1970–2100). What it cannot state is checked by ``validate`` and answered with a 400 naming the part:
depth ≤ 8 and ≤ 200 nodes, that every referenced id exists in the caller's organization, that a
range's lower end is not above its upper end, and that a tag is not both required and excluded.
docs/segments.md describes the format.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
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
    MAX_DEPTH,
    MAX_NODES,
    NUMBER_RANGES,
    TAG_KEYS,
    conditions,
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


NODE_REF = {"$ref": "#/components/schemas/SegmentNode"}
EXAMPLE_TREE: dict[str, Any] = {
    "all": [
        {"any": [{"tags": {"any": [11]}}, {"tags": {"any": [12]}}]},
        {"tags": {"any": [21, 22]}},
        {"not": {"tags": {"all": [31]}}},
        {"orders": {"within_days": 30}},
    ]
}
EXAMPLE_LEAF: dict[str, Any] = {"tags": {"all": [1]}, "consent": "granted"}


def leaf_schema() -> dict[str, Any]:
    """One flat condition object: every key AND'ed (the format every saved segment had before trees)."""
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
    for key, condition in conditions().items():
        properties[key] = condition.schema
    return {
        **_closed(properties),
        "description": '一组条件（全部满足），例如 {"tags": {"all": [1]}, "consent": "granted"}；{} 表示全部客户',
        "example": EXAMPLE_LEAF,
    }


def _group(key: str, label: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [key],
        "additionalProperties": False,
        "properties": {key: {"type": "array", "minItems": 1, "maxItems": MAX_NODES, "items": NODE_REF}},
        "description": f"{label}：子条件列表",
    }


def components() -> dict[str, dict[str, Any]]:
    """The tree's schema components, by name."""
    return {
        "SegmentNode": {
            "oneOf": [
                {"$ref": "#/components/schemas/SegmentAll"},
                {"$ref": "#/components/schemas/SegmentAny"},
                {"$ref": "#/components/schemas/SegmentNot"},
                {"$ref": "#/components/schemas/SegmentLeaf"},
            ],
            "description": (
                f"分群规则树：all（全部满足）/ any（满足任一）/ not（不满足）分组，最多嵌套 {MAX_DEPTH} 层、"
                f"{MAX_NODES} 个节点；叶子是一组条件。详见 docs/segments.md"
            ),
            "example": EXAMPLE_TREE,
        },
        "SegmentAll": _group("all", "全部满足"),
        "SegmentAny": _group("any", "满足任一"),
        "SegmentNot": {
            "type": "object",
            "required": ["not"],
            "additionalProperties": False,
            "properties": {"not": NODE_REF},
            "description": '不满足：一个子条件取反（“都不满足”即 {"not": {"any": [...]}}）',
        },
        "SegmentLeaf": leaf_schema(),
    }


def expression_schema() -> dict[str, Any]:
    """The field's own schema: a reference to the tree (null = everyone)."""
    return {
        "allOf": [NODE_REF],
        "nullable": True,
        "description": "分群规则树；null 或 {} 表示全部客户",
        "example": EXAMPLE_TREE,
    }


class ExpressionField(serializers.JSONField):
    """A segment rule tree: a JSON object or null (``contacts.segments.validate`` then refuses what does
    not fit, naming the part), documented with its full shape."""

    default_error_messages = {"not_object": _('分群条件必须是一个 JSON 对象，例如 {"tags": {"all": [1]}}')}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if value is not None and not isinstance(value, dict):
            # Not self.fail(): the message shows JSON, whose braces str.format would read as fields.
            raise serializers.ValidationError(str(self.error_messages["not_object"]), code="not_object")
        return value


class ExpressionFieldExtension(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]
    """Registers the tree components once and points the field at them (a tree is recursive, so it
    cannot be inlined)."""

    target_class = "contacts.segment_schema.ExpressionField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        for name, schema in components().items():
            component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)  # type: ignore[no-untyped-call]
            auto_schema.registry.register_on_missing(component)
        return expression_schema()
