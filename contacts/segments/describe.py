"""One Chinese sentence for a rule tree: what the builder and the preview API show under the count.

``describe({"all": [{"tags": {"any": [1, 2]}}, {"not": {"tags": {"all": [3]}}}]}, organization_id=…)``
→ ``有标签“护肤”或“彩妆”，且 不满足（有标签“勿扰”）``. Names come from the organization (one query
per kind of id); an id that is gone shows as ``#id``.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from contacts.models import ChurnRisk, CustomerGroup, CustomField, Lifecycle, SourceChannel, Staff, Store, Tag
from contacts.segments import registry
from contacts.segments.leaf import DATE_RANGES, NUMBER_RANGES
from contacts.segments.tree import _is_node, leaves, validate


def _names(model: Any, ids: set[int], organization_id: int | None) -> dict[int, str]:
    if organization_id is None or not ids:
        return {}
    return dict(model.objects.filter(organization_id=organization_id, pk__in=ids).values_list("pk", "name"))


class _Names:
    """Names of every id the tree references, fetched once per kind."""

    def __init__(self, tree: dict[str, Any], organization_id: int | None) -> None:
        found: dict[str, set[int]] = {"tags": set(), "stores": set(), "follower_staff": set(), "groups": set()}
        custom: set[str] = set()
        for leaf in leaves(tree):
            found["tags"] |= {i for ids in leaf.get("tags", {}).values() for i in ids}
            for key in ("stores", "follower_staff", "groups"):
                found[key] |= set(leaf.get(key, []))
            custom |= set(leaf.get("custom", {}))
        self.maps = {
            "tags": _names(Tag, found["tags"], organization_id),
            "stores": _names(Store, found["stores"], organization_id),
            "follower_staff": _names(Staff, found["follower_staff"], organization_id),
            "groups": _names(CustomerGroup, found["groups"], organization_id),
        }
        self.custom: dict[str, str] = {}
        if organization_id is not None and custom:
            self.custom = dict(
                CustomField.objects.filter(organization_id=organization_id, key__in=custom).values_list("key", "label")
            )

    def join(self, kind: str, ids: list[int], sep: str = "、") -> str:
        return sep.join(f"“{self.maps[kind].get(i) or f'#{i}'}”" for i in ids)


def _span(low: Any, high: Any, unit: str = "") -> str:
    if low is not None and high is not None:
        return _("在 %(a)s%(u)s 到 %(b)s%(u)s 之间") % {"a": low, "b": high, "u": unit}
    if low is not None:
        return _("不低于 %(a)s%(u)s") % {"a": low, "u": unit}
    return _("不高于 %(b)s%(u)s") % {"b": high, "u": unit}


def _choices(enum: Any, values: list[str]) -> str:
    labels = dict(enum.choices)
    return "、".join(str(labels.get(v, v)) for v in values)


def _leaf(leaf: dict[str, Any], names: _Names, organization_id: int | None) -> list[str]:
    parts: list[str] = []
    tags = leaf.get("tags", {})
    if tags.get("all"):
        parts.append(_("有标签%(tags)s") % {"tags": names.join("tags", tags["all"], "和")})
    if tags.get("any"):
        parts.append(_("有标签%(tags)s") % {"tags": names.join("tags", tags["any"], "或")})
    if tags.get("none"):
        parts.append(_("没有标签%(tags)s") % {"tags": names.join("tags", tags["none"])})
    if leaf.get("stores"):
        parts.append(_("归属门店为%(v)s") % {"v": names.join("stores", leaf["stores"])})
    if leaf.get("source_channels"):
        parts.append(_("来源渠道为%(v)s") % {"v": _choices(SourceChannel, leaf["source_channels"])})
    if leaf.get("lifecycle"):
        parts.append(_("生命周期为%(v)s") % {"v": _choices(Lifecycle, leaf["lifecycle"])})
    if leaf.get("churn_risk"):
        parts.append(_("流失风险为%(v)s") % {"v": _choices(ChurnRisk, leaf["churn_risk"])})
    if leaf.get("follower_staff"):
        parts.append(_("由%(v)s跟进") % {"v": names.join("follower_staff", leaf["follower_staff"])})
    if leaf.get("groups"):
        parts.append(_("在客户群%(v)s中") % {"v": names.join("groups", leaf["groups"])})
    for key, (label, *_columns) in DATE_RANGES.items():
        span = leaf.get(key)
        if span:
            if span.get("from") and span.get("to"):
                text = _("%(a)s 至 %(b)s") % {"a": span["from"], "b": span["to"]}
            elif span.get("from"):
                text = _("不早于 %(a)s") % {"a": span["from"]}
            else:
                text = _("不晚于 %(b)s") % {"b": span["to"]}
            parts.append(f"{label}{text}")
    for key, (label, _column) in NUMBER_RANGES.items():
        span = leaf.get(key)
        if span:
            unit = _("元") if key in ("ltv", "predicted_value_12m") else ""
            parts.append(f"{label}{_span(span.get('min'), span.get('max'), unit)}")
    for key, cond in leaf.get("custom", {}).items():
        label = names.custom.get(key, key)
        for op, arg in cond.items():
            if op == "set":
                parts.append((_("“%(f)s”已填写") if arg else _("“%(f)s”未填写")) % {"f": label})
            elif op == "equals":
                parts.append(_("“%(f)s”等于“%(v)s”") % {"f": label, "v": arg})
            elif op == "contains":
                parts.append(_("“%(f)s”包含“%(v)s”") % {"f": label, "v": arg})
            elif op in ("min", "from"):
                parts.append(_("“%(f)s”不低于 %(v)s") % {"f": label, "v": arg})
            elif op in ("max", "to"):
                parts.append(_("“%(f)s”不高于 %(v)s") % {"f": label, "v": arg})
            else:
                parts.append(_("“%(f)s”为%(v)s之一") % {"f": label, "v": "、".join(f"“{v}”" for v in arg)})
    consent = leaf.get("consent")
    if consent == "granted":
        parts.append(_("同意营销且未退订"))
    elif consent == "not_granted":
        parts.append(_("未授权营销且未退订"))
    elif consent == "opted_out":
        parts.append(_("已退订"))
    for key, condition in registry.conditions().items():
        if key in leaf:
            parts.append(condition.describe(leaf[key], organization_id))
    return parts


def _node(node: dict[str, Any], names: _Names, organization_id: int | None, top: bool) -> str:
    if not _is_node(node):
        parts = _leaf(node, names, organization_id)
        if not parts:
            return _("全部客户")
        text = _("，且").join(parts)
        return text if top or len(parts) == 1 else f"（{text}）"
    ((key, children),) = node.items()
    if key == "not":
        return _("不满足（%(inner)s）") % {"inner": _node(children, names, organization_id, True)}
    inner = [_node(child, names, organization_id, False) for child in children]
    text = (_("，且") if key == "all" else _("，或")).join(inner)
    return text if top else f"（{text}）"


def describe(expression: Any, *, organization_id: int | None = None) -> str:
    """The tree as one Chinese sentence (validated first, so a bad tree raises SegmentError)."""
    tree = validate(expression)
    sentence = _node(tree, _Names(tree, organization_id), organization_id, True)
    return sentence + "。"
