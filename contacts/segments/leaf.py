"""Segment leaves: one flat condition object (docs/segments.md), validated and compiled to SQL predicates.

A leaf is what every saved segment was before rule trees: all its keys AND'ed. :mod:`contacts.segments.tree`
combines leaves with all / any / not into ONE SQL statement.

Counts, the campaign planner and every ``id`` list read ``contacts_segmentfact``: one narrow row per
customer that Postgres triggers keep identical to the customer's segment columns (dates as platform
days in Asia/Shanghai). The tag part becomes a single intarray ``query_int``
(``tag_ids @@ '1&(2|3)&!4'``) next to ``organization_id = %s``, so both columns of the composite GIN
``segmentfact_org_tags_gin`` serve it; every other condition is a predicate on the same row or an
``EXISTS`` on the follow / group-member tables. Store scoping (``store_ids`` of the actor) is one more
predicate. Querysets (samples, bulk actions) apply the same conditions to ``contacts_customer``
itself, so they keep its ordering indexes; both forms are tested against a brute-force evaluation.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from contacts.models import (
    ChurnRisk,
    CustomerGroup,
    CustomField,
    CustomFieldKind,
    Lifecycle,
    SourceChannel,
    Staff,
    Store,
    Tag,
)
from contacts.segments import registry
from contacts.segments.registry import SegmentError

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONSENT_VALUES = ("any", "granted", "not_granted", "opted_out")
ID_LISTS = {"stores": _l("门店"), "follower_staff": _l("跟进员工"), "groups": _l("客户群")}
CHOICE_LISTS = {
    "source_channels": (_l("来源渠道"), SourceChannel),
    "lifecycle": (_l("生命周期"), Lifecycle),
    "churn_risk": (_l("流失风险"), ChurnRisk),
}
# key: (label, customer timestamp column, segment-fact day column)
DATE_RANGES = {
    "created": (_l("建档日期"), "created_at", "created_day"),
    "last_order": (_l("最近下单日期"), "last_order_at", "last_order_day"),
}
NUMBER_RANGES = {
    "ltv": (_l("累计消费"), "ltv"),
    "order_count": (_l("订单数"), "order_count"),
    # Predicted by analytics.predict; a customer without a trustworthy prediction matches no bound.
    "predicted_value_12m": (_l("预测12个月价值"), "predicted_value_12m"),
    "p_alive": (_l("活跃概率"), "p_alive"),
}
# Bounds of the columns compared against: ltv numeric(14, 2) (< 10^12, cents), order_count int4.
LTV_DIGITS, LTV_PLACES = 12, 2
COUNT_MAX = 2**31 - 1
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2100, 12, 31)
KNOWN_KEYS = {"tags", "consent", "custom", *ID_LISTS, *CHOICE_LISTS, *DATE_RANGES, *NUMBER_RANGES}
# Custom-field conditions (``{"custom": {"<key>": {"<op>": value}}}``): the operators each field type
# accepts. "set" (true: has a value, false: has none) works for every type.
CUSTOM_OPS: dict[str, set[str]] = {
    CustomFieldKind.TEXT: {"equals", "contains", "set"},
    CustomFieldKind.NUMBER: {"min", "max", "set"},
    CustomFieldKind.DATE: {"from", "to", "set"},
    CustomFieldKind.CHOICE: {"in", "set"},
    CustomFieldKind.MULTI_CHOICE: {"any", "set"},
}
ALL_CUSTOM_OPS = {op for ops in CUSTOM_OPS.values() for op in ops}
TAG_KEYS = {"all": _l("全部包含"), "any": _l("包含任一"), "none": _l("都不包含")}


def _bad_id(label: Any, item: Any) -> str:
    return _("“%(field)s”里的 %(value)r 不是有效的 ID，请填写正整数") % {"field": label, "value": item}


# --- validation ----------------------------------------------------------------------------------


def _id_list(value: Any, label: str) -> list[int]:
    if not isinstance(value, list):
        raise SegmentError(_("“%(field)s”必须是 ID 列表，例如 [1, 2]") % {"field": label})
    ids = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise SegmentError(_bad_id(label, item))
        try:
            number = int(item)
        except ValueError as exc:
            raise SegmentError(_bad_id(label, item)) from exc
        if number <= 0 or number > 2**31 - 1:
            raise SegmentError(_bad_id(label, item))
        ids.append(number)
    return sorted(set(ids))


def _day(value: Any, label: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise SegmentError(
            _("“%(field)s”的日期 %(value)r 格式不正确，请用 YYYY-MM-DD") % {"field": label, "value": value}
        ) from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise SegmentError(
            _("“%(field)s”的日期 %(value)s 超出范围，请填写 %(first)s 到 %(last)s 之间的日期")
            % {"field": label, "value": day.isoformat(), "first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}
        )
    return day.isoformat()


def _number(value: Any, label: str, *, integer: bool) -> int | float | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise SegmentError(_("“%(field)s”必须是数字") % {"field": label})
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise SegmentError(_("“%(field)s”必须是数字，收到 %(value)r") % {"field": label, "value": value}) from exc
    if not number.is_finite() or number < 0:
        raise SegmentError(_("“%(field)s”必须是不小于 0 的数字") % {"field": label})
    # Bound the magnitude on the exponent before any conversion: int(Decimal("1e600000")) is seconds of CPU.
    if integer:
        if number.adjusted() >= len(str(COUNT_MAX)) or number > COUNT_MAX:
            raise SegmentError(_("“%(field)s”不能大于 %(max)s") % {"field": label, "max": COUNT_MAX})
    else:
        if number.adjusted() >= LTV_DIGITS:
            raise SegmentError(_("“%(field)s”必须小于 %(max)s") % {"field": label, "max": f"{10**LTV_DIGITS:,}"})
        if number != number.quantize(Decimal(1).scaleb(-LTV_PLACES)):
            raise SegmentError(_("“%(field)s”最多保留 %(places)s 位小数") % {"field": label, "places": LTV_PLACES})
    if integer:
        if number != number.to_integral_value():
            raise SegmentError(_("“%(field)s”必须是整数") % {"field": label})
        return int(number)
    return int(number) if number == number.to_integral_value() else float(number)


def known_keys() -> set[str]:
    """The keys a leaf may use: the built-in ones and the behaviour conditions registered so far."""
    return KNOWN_KEYS | set(registry.conditions())


def validate_leaf(expression: Any) -> dict[str, Any]:
    """Check and normalize one leaf (sorted unique ids, ISO dates, empty parts dropped)."""
    if expression is None:
        return {}
    if not isinstance(expression, dict):
        raise SegmentError(_('分群条件必须是一个 JSON 对象，例如 {"tags": {"all": [1]}}'))
    known = known_keys()
    unknown = sorted(set(expression) - known)
    if unknown:
        raise SegmentError(
            _("不认识的条件：%(unknown)s；可用的条件有 %(known)s")
            % {"unknown": ", ".join(unknown), "known": ", ".join(sorted(known | {"all", "any", "not"}))}
        )
    out: dict[str, Any] = {}
    tags = expression.get("tags")
    if tags not in (None, {}):
        if not isinstance(tags, dict):
            raise SegmentError(_('“标签”条件必须是对象，例如 {"all": [1], "any": [], "none": []}'))
        bad = sorted(set(tags) - set(TAG_KEYS))
        if bad:
            raise SegmentError(_("“标签”条件只支持 all / any / none，不认识：%(bad)s") % {"bad": ", ".join(bad)})
        parts = {k: _id_list(tags.get(k) or [], _("标签（%(part)s）") % {"part": TAG_KEYS[k]}) for k in TAG_KEYS}
        both = set(parts["none"]) & (set(parts["all"]) | set(parts["any"]))
        if both:
            raise SegmentError(_("标签 %(ids)s 同时出现在“包含”和“都不包含”里，请去掉其中一处") % {"ids": sorted(both)})
        parts = {k: v for k, v in parts.items() if v}
        if parts:
            out["tags"] = parts
    for key, label in ID_LISTS.items():
        if expression.get(key):
            out[key] = _id_list(expression[key], str(label))
    for key, (label, choices) in CHOICE_LISTS.items():
        values = expression.get(key)
        if values:
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise SegmentError(
                    _('“%(field)s”必须是列表，例如 ["%(example)s"]') % {"field": label, "example": choices.values[0]}
                )
            bad = sorted(set(values) - set(choices.values))
            if bad:
                raise SegmentError(
                    _("“%(field)s”不支持 %(bad)s；可选：%(choices)s")
                    % {"field": label, "bad": ", ".join(bad), "choices": ", ".join(choices.values)}
                )
            out[key] = sorted(set(values))
    for key, (label, *_columns) in DATE_RANGES.items():
        span = expression.get(key)
        if span in (None, {}):
            continue
        if not isinstance(span, dict) or set(span) - {"from", "to"}:
            raise SegmentError(_('“%(field)s”必须是 {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}') % {"field": label})
        start = _day(span.get("from"), _("%(field)s（起）") % {"field": label})
        end = _day(span.get("to"), _("%(field)s（止）") % {"field": label})
        if start and end and start > end:
            raise SegmentError(_("“%(field)s”的开始日期晚于结束日期，请调换") % {"field": label})
        normalized = {k: v for k, v in (("from", start), ("to", end)) if v}
        if normalized:
            out[key] = normalized
    for key, (label, _field) in NUMBER_RANGES.items():
        span = expression.get(key)
        if span in (None, {}):
            continue
        if not isinstance(span, dict) or set(span) - {"min", "max"}:
            raise SegmentError(_('“%(field)s”必须是 {"min": 数字或 null, "max": 数字或 null}') % {"field": label})
        integer = key == "order_count"
        low = _number(span.get("min"), _("%(field)s（最小）") % {"field": label}, integer=integer)
        high = _number(span.get("max"), _("%(field)s（最大）") % {"field": label}, integer=integer)
        if low is not None and high is not None and low > high:
            raise SegmentError(_("“%(field)s”的最小值大于最大值，请调换") % {"field": label})
        if key == "p_alive" and any(v is not None and v > 1 for v in (low, high)):
            raise SegmentError(_("“%(field)s”是 0 到 1 之间的概率") % {"field": label})
        bounds = {k: v for k, v in (("min", low), ("max", high)) if v is not None}
        if bounds:
            out[key] = bounds
    custom = _custom(expression.get("custom"))
    if custom:
        out["custom"] = custom
    consent = expression.get("consent") or "any"
    if consent not in CONSENT_VALUES:
        raise SegmentError(
            _("“营销授权”只能是 %(values)s，收到 %(value)r") % {"values": " / ".join(CONSENT_VALUES), "value": consent}
        )
    if consent != "any":
        out["consent"] = consent
    for key, condition in registry.conditions().items():
        # {} is meaningful here ({"orders": {}}: ordered at least once); the condition decides.
        if expression.get(key) is not None:
            out[key] = condition.validate(expression[key])
    return out


def _custom_number(value: Any, label: str) -> int | float:
    """A bound for a number field (may be negative, unlike the order figures)."""
    try:
        number = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number.adjusted() >= LTV_DIGITS:
        raise SegmentError(_("%(field)s 需要一个数字，收到 %(value)r") % {"field": label, "value": value})
    return int(number) if number == number.to_integral_value() else float(number)


def _custom(value: Any) -> dict[str, dict[str, Any]]:
    """Structure of the custom-field part (the field types are checked against the definitions in
    :func:`_check_custom`, when the organization is known)."""
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise SegmentError(_('“自定义字段”条件必须是对象，例如 {"member_level": {"in": ["金卡"]}}'))
    out: dict[str, dict[str, Any]] = {}
    for key, cond in value.items():
        if not isinstance(cond, dict) or not cond:
            raise SegmentError(_('自定义字段 %(key)s 的条件必须是对象，例如 {"equals": "…"}') % {"key": key})
        bad = sorted(set(cond) - ALL_CUSTOM_OPS)
        if bad:
            raise SegmentError(
                _("自定义字段 %(key)s 不支持 %(bad)s；可用：%(ops)s")
                % {"key": key, "bad": ", ".join(bad), "ops": ", ".join(sorted(ALL_CUSTOM_OPS))}
            )
        label = _("自定义字段 %(key)s") % {"key": key}
        clean: dict[str, Any] = {}
        for op, arg in cond.items():
            if op == "set":
                if not isinstance(arg, bool):
                    raise SegmentError(_("%(field)s 的 set 必须是 true 或 false") % {"field": label})
                clean[op] = arg
            elif op in ("equals", "contains"):
                if not isinstance(arg, str) or not arg.strip() or len(arg) > 200:
                    raise SegmentError(_("%(field)s 需要 1 到 200 字的文字") % {"field": label})
                clean[op] = arg.strip()
            elif op in ("min", "max"):
                clean[op] = _custom_number(arg, label)
            elif op in ("from", "to"):
                day = _day(arg, label)
                if day:
                    clean[op] = day
            else:  # in / any: option lists
                if not isinstance(arg, list) or not arg or not all(isinstance(v, str) for v in arg):
                    raise SegmentError(_('%(field)s 需要选项列表，例如 ["金卡"]') % {"field": label})
                clean[op] = sorted(set(arg))
        if clean:
            out[str(key)] = clean
    return out


def _check_custom(custom: dict[str, dict[str, Any]], organization_id: int) -> None:
    fields = {f.key: f for f in CustomField.objects.filter(organization_id=organization_id, key__in=list(custom))}
    for key, cond in custom.items():
        field = fields.get(key)
        if field is None:
            raise SegmentError(_("自定义字段 %(key)s 不存在或已删除，请从条件中移除") % {"key": key})
        wrong = sorted(set(cond) - CUSTOM_OPS[field.kind])
        if wrong:
            raise SegmentError(
                _("“%(field)s”是%(kind)s字段，不能用 %(bad)s；可用：%(ops)s")
                % {
                    "field": field.label,
                    "kind": field.get_kind_display(),
                    "bad": ", ".join(wrong),
                    "ops": ", ".join(sorted(CUSTOM_OPS[field.kind])),
                }
            )
        for op in ("in", "any"):
            unknown = sorted(set(cond.get(op, [])) - set(field.options))
            if unknown:
                raise SegmentError(
                    _("“%(field)s”没有选项 %(bad)s；可选：%(options)s")
                    % {"field": field.label, "bad": "、".join(unknown), "options": "、".join(field.options)}
                )


def _custom_conds(column: str, custom: dict[str, dict[str, Any]]) -> tuple[list[str], list[Any]]:
    """Predicates on a JSONB ``attributes`` column; field keys are bound parameters, never SQL text.
    Stored values were checked against the definition, so text comparisons of ISO dates are exact and
    numbers are compared only where the stored JSON value is a number."""
    conds: list[str] = []
    params: list[Any] = []
    for key, cond in custom.items():
        if "set" in cond:
            conds.append(f"{'' if cond['set'] else 'NOT '}({column} ? %s)")
            params.append(key)
        if "equals" in cond:
            conds.append(f"{column} ->> %s = %s")
            params += [key, cond["equals"]]
        if "contains" in cond:
            escaped = cond["contains"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conds.append(f"{column} ->> %s ILIKE %s")
            params += [key, f"%{escaped}%"]
        for op, sign in (("min", ">="), ("max", "<=")):
            if op in cond:
                conds.append(
                    f"(CASE WHEN jsonb_typeof({column} -> %s) = 'number' THEN ({column} ->> %s)::numeric END) {sign} %s"
                )
                params += [key, key, Decimal(str(cond[op]))]
        for op, sign in (("from", ">="), ("to", "<=")):
            if op in cond:
                conds.append(f"(CASE WHEN jsonb_typeof({column} -> %s) = 'string' THEN {column} ->> %s END) {sign} %s")
                params += [key, key, cond[op]]
        if "in" in cond:
            conds.append(f"{column} ->> %s = ANY(%s)")
            params += [key, list(cond["in"])]
        if "any" in cond:
            conds.append(f"({column} -> %s) ?| %s")
            params += [key, list(cond["any"])]
    return conds, params


def check_leaf_references(expression: dict[str, Any], organization_id: int) -> None:
    """Every tag, store, staff member, group, custom field (and registered condition's ids) of a
    normalized leaf exists in the organization; else a :class:`SegmentError` naming them."""
    for key, condition in registry.conditions().items():
        if key in expression and condition.check_references is not None:
            condition.check_references(expression[key], organization_id)
    if expression.get("custom"):
        _check_custom(expression["custom"], organization_id)
    tag_ids = {i for ids in expression.get("tags", {}).values() for i in ids}
    for ids, model, label in (
        (tag_ids, Tag, _("标签")),
        (set(expression.get("stores", [])), Store, _("门店")),
        (set(expression.get("follower_staff", [])), Staff, _("跟进员工")),
        (set(expression.get("groups", [])), CustomerGroup, _("客户群")),
    ):
        if ids:
            known = set(model.objects.filter(organization_id=organization_id, pk__in=ids).values_list("pk", flat=True))
            missing = sorted(ids - known)
            if missing:
                raise SegmentError(
                    _("%(what)s %(ids)s 不存在或已删除，请从条件中移除") % {"what": label, "ids": missing}
                )


# --- compilation ---------------------------------------------------------------------------------


def tag_query(tags: dict[str, list[int]]) -> str:
    """The intarray ``query_int`` text of a normalized tag condition, e.g. ``1&2&(3|4)&!5``."""
    terms = [str(i) for i in tags.get("all", [])]
    if tags.get("any"):
        terms.append("(" + "|".join(str(i) for i in tags["any"]) + ")")
    terms += [f"!{i}" for i in tags.get("none", [])]
    return "&".join(terms)


def _day_start(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.min, tzinfo=SHANGHAI)


def leaf_where(
    alias: str, expression: dict[str, Any], *, facts: bool, now: dt.datetime, tags: bool = True
) -> tuple[list[str], list[Any]]:
    """Predicates for a normalized leaf, with params (AND'ed by the caller).

    ``alias`` is a ``contacts_segmentfact`` row when ``facts`` (days are dates there), else a
    ``contacts_customer`` row (days become Shanghai day boundaries on the timestamps). With
    ``tags=False`` the tag part is left out (the tree folds it into a shared ``query_int``).
    Behaviour conditions get ``now`` so a relative window means the same instant in every part.
    """
    conds: list[str] = []
    params: list[Any] = []
    if tags and expression.get("tags"):
        conds.append(f"{alias}.tag_ids @@ %s::query_int")
        params.append(tag_query(expression["tags"]))
    if expression.get("stores"):
        conds.append(f"{alias}.home_store_id = ANY(%s)")
        params.append(list(expression["stores"]))
    if expression.get("source_channels"):
        conds.append(f"{alias}.source_channel = ANY(%s)")
        params.append(list(expression["source_channels"]))
    if expression.get("lifecycle"):
        conds.append(f"{alias}.lifecycle = ANY(%s)")
        params.append(list(expression["lifecycle"]))
    if expression.get("churn_risk"):
        conds.append(f"{alias}.churn_risk = ANY(%s)")
        params.append(list(expression["churn_risk"]))
    if expression.get("follower_staff"):
        conds.append(
            "EXISTS (SELECT 1 FROM contacts_follow f"
            f" WHERE f.customer_id = {alias}.id AND f.staff_id = ANY(%s) AND f.deleted_at IS NULL)"
        )
        params.append(list(expression["follower_staff"]))
    if expression.get("groups"):
        conds.append(
            "EXISTS (SELECT 1 FROM contacts_customergroupmember m"
            f" WHERE m.customer_id = {alias}.id AND m.group_id = ANY(%s) AND m.left_at IS NULL)"
        )
        params.append(list(expression["groups"]))
    for key, (_label, column, day_column) in DATE_RANGES.items():
        span = expression.get(key) or {}
        if facts:
            if span.get("from"):
                conds.append(f"{alias}.{day_column} >= %s")
                params.append(dt.date.fromisoformat(span["from"]))
            if span.get("to"):
                conds.append(f"{alias}.{day_column} <= %s")
                params.append(dt.date.fromisoformat(span["to"]))
            continue
        if span.get("from"):
            conds.append(f"{alias}.{column} >= %s")
            params.append(_day_start(span["from"]))
        if span.get("to"):
            conds.append(f"{alias}.{column} < %s")
            params.append(_day_start(span["to"]) + dt.timedelta(days=1))
    for key, (_label, column) in NUMBER_RANGES.items():
        span = expression.get(key) or {}
        if span.get("min") is not None:
            conds.append(f"{alias}.{column} >= %s")
            params.append(Decimal(str(span["min"])))
        if span.get("max") is not None:
            conds.append(f"{alias}.{column} <= %s")
            params.append(Decimal(str(span["max"])))
    if expression.get("custom"):
        if facts:
            # The narrow fact row has no attributes: one correlated look-up by primary key.
            custom_conds, custom_params = _custom_conds("cf.attributes", expression["custom"])
            conds.append(
                f"EXISTS (SELECT 1 FROM contacts_customer cf WHERE cf.id = {alias}.id AND {' AND '.join(custom_conds)})"
            )
        else:
            custom_conds, custom_params = _custom_conds(f"{alias}.attributes", expression["custom"])
            conds += custom_conds
        params += custom_params
    consent = expression.get("consent", "any")
    opted_out = f"{alias}.opted_out" if facts else f"{alias}.opted_out_at IS NOT NULL"
    if consent == "granted":
        conds.append(f"{alias}.marketing_consent AND NOT ({opted_out})")
    elif consent == "not_granted":
        conds.append(f"NOT {alias}.marketing_consent AND NOT ({opted_out})")
    elif consent == "opted_out":
        conds.append(opted_out)
    for key, condition in registry.conditions().items():
        if key in expression:
            sql, extra = condition.compile(expression[key], f"{alias}.id", now)
            conds.append(sql)
            params += extra
    return conds, params
