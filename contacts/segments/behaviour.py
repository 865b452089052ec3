"""Time windows for behaviour conditions, and contacts' own: group joined / left (docs/segments.md).

A window is ``{"within_days": N}`` (the last N Beijing calendar days, today included) or
``{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`` (inclusive Beijing days, either end optional). Higher
layers (analytics orders, campaigns broadcasts) use the same helpers, so every window reads alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from contacts.models import CustomerGroup
from contacts.segments.leaf import _day, _id_list  # the leaf's date (1970–2100, ISO) and id rules
from contacts.segments.registry import SegmentError, register_segment_condition

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 3650
WINDOW_KEYS = {"within_days", "from", "to"}
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
WINDOW_SCHEMA: dict[str, Any] = {
    "within_days": {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_DAYS,
        "description": "最近 N 天（北京时间，含今天）",
    },
    "from": {"type": "string", "format": "date", "description": "起始日（北京时间，含）"},
    "to": {"type": "string", "format": "date", "description": "截止日（北京时间，含）"},
}


def positive_int(value: Any, label: Any, *, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SegmentError(_("“%(field)s”必须是 1 到 %(max)s 之间的整数") % {"field": label, "max": maximum})
    try:
        number = int(value)
    except ValueError as exc:
        raise SegmentError(_("“%(field)s”必须是 1 到 %(max)s 之间的整数") % {"field": label, "max": maximum}) from exc
    if not 1 <= number <= maximum:
        raise SegmentError(_("“%(field)s”必须是 1 到 %(max)s 之间的整数") % {"field": label, "max": maximum})
    return number


def window_validate(value: dict[str, Any], label: Any, *, required: bool = True) -> dict[str, Any]:
    """The normalized window part of a behaviour condition (other keys are the caller's)."""

    out: dict[str, Any] = {}
    if value.get("within_days") not in (None, ""):
        if value.get("from") or value.get("to"):
            raise SegmentError(_("“%(field)s”请只用“最近 N 天”或“起止日期”其中一种") % {"field": label})
        out["within_days"] = positive_int(
            value["within_days"], _("%(field)s（最近天数）") % {"field": label}, maximum=MAX_DAYS
        )
        return out
    start = _day(value.get("from"), _("%(field)s（起）") % {"field": label})
    end = _day(value.get("to"), _("%(field)s（止）") % {"field": label})
    if start and end and start > end:
        raise SegmentError(_("“%(field)s”的开始日期晚于结束日期，请调换") % {"field": label})
    out.update({k: v for k, v in (("from", start), ("to", end)) if v})
    if required and not out:
        raise SegmentError(
            _('“%(field)s”需要时间范围，例如 {"within_days": 30} 或 {"from": "2026-01-01"}') % {"field": label}
        )
    return out


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)


def window_bounds(window: dict[str, Any], now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) instants of a normalized window (None = open)."""
    if "within_days" in window:
        today = now.astimezone(SHANGHAI).date()
        return day_start(today - dt.timedelta(days=window["within_days"] - 1)), None
    start = day_start(dt.date.fromisoformat(window["from"])) if window.get("from") else None
    end = day_start(dt.date.fromisoformat(window["to"])) + dt.timedelta(days=1) if window.get("to") else None
    return start, end


def window_sql(column: str, window: dict[str, Any], now: dt.datetime) -> tuple[list[str], list[Any]]:
    start, end = window_bounds(window, now)
    conds, params = [], []
    if start is not None:
        conds.append(f"{column} >= %s")
        params.append(start)
    if end is not None:
        conds.append(f"{column} < %s")
        params.append(end)
    return conds, params


def window_describe(window: dict[str, Any]) -> str:
    if "within_days" in window:
        return _("最近 %(n)s 天") % {"n": window["within_days"]}
    if window.get("from") and window.get("to"):
        return _("%(a)s 至 %(b)s") % {"a": window["from"], "b": window["to"]}
    if window.get("from"):
        return _("%(a)s 以来") % {"a": window["from"]}
    if window.get("to"):
        return _("%(b)s 及以前") % {"b": window["to"]}
    return ""


def id_list_validate(value: Any, label: Any) -> list[int]:

    return _id_list(value, str(label))


def check_ids(model: Any, ids: list[int], organization_id: int, label: Any) -> None:
    """Every id names a row of ``model`` in the organization, else a 400 naming the missing ones."""
    if not ids:
        return
    known = set(model.objects.filter(organization_id=organization_id, pk__in=ids).values_list("pk", flat=True))
    missing = sorted(set(ids) - known)
    if missing:
        raise SegmentError(_("%(what)s %(ids)s 不存在或已删除，请从条件中移除") % {"what": label, "ids": missing})


def names(model: Any, ids: list[int], organization_id: int | None, field: str = "name") -> str:
    """“A”、“B” for a description (ids when the organization is unknown or a row is gone)."""
    found: dict[int, str] = {}
    if organization_id is not None and ids:
        found = dict(model.objects.filter(organization_id=organization_id, pk__in=ids).values_list("pk", field))
    return "、".join(f"“{found.get(i) or f'#{i}'}”" for i in ids)


# --- contacts' own: group joined / left ---------------------------------------------------------

GROUP_EVENTS = {"group_joined": (_l("入群"), "joined_at"), "group_left": (_l("退群"), "left_at")}


def _group_validate(key: str) -> Any:
    label = GROUP_EVENTS[key][0]

    def validate(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or set(value) - (WINDOW_KEYS | {"group_ids"}):
            raise SegmentError(
                _('“%(field)s”必须是 {"within_days": 7, "group_ids": [1]} 这样的对象') % {"field": label}
            )
        out = window_validate(value, label)
        if value.get("group_ids"):
            out["group_ids"] = id_list_validate(value["group_ids"], _("%(field)s（客户群）") % {"field": label})
        return out

    return validate


def _group_compile(key: str) -> Any:
    column = GROUP_EVENTS[key][1]

    def compile_(value: dict[str, Any], customer: str, now: dt.datetime) -> tuple[str, list[Any]]:
        conds, params = window_sql(f"m.{column}", value, now)
        if value.get("group_ids"):
            conds.append("m.group_id = ANY(%s)")
            params.append(list(value["group_ids"]))
        where = " AND ".join([f"m.customer_id = {customer}", f"m.{column} IS NOT NULL", *conds])
        return f"EXISTS (SELECT 1 FROM contacts_customergroupmember m WHERE {where})", params

    return compile_


def _group_describe(key: str) -> Any:
    def describe(value: dict[str, Any], organization_id: int | None) -> str:

        where = names(CustomerGroup, value["group_ids"], organization_id) if value.get("group_ids") else _("客户群")
        if key == "group_joined":
            return _("%(window)s加入过%(groups)s") % {"window": window_describe(value), "groups": where}
        return _("%(window)s退出过%(groups)s") % {"window": window_describe(value), "groups": where}

    return describe


def _group_references(value: dict[str, Any], organization_id: int) -> None:

    check_ids(CustomerGroup, value.get("group_ids", []), organization_id, _("客户群"))


# --- contacts' own: the first order's date -------------------------------------------------------

FIRST_ORDER_LABEL = _l("首单日期")


def _first_order_validate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - WINDOW_KEYS:
        raise SegmentError(
            _('“%(field)s”必须是 {"within_days": 30} 或 {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}')
            % {"field": FIRST_ORDER_LABEL}
        )
    return window_validate(value, FIRST_ORDER_LABEL)


def _first_order_compile(value: dict[str, Any], customer: str, now: dt.datetime) -> tuple[str, list[Any]]:
    # The narrow fact row has no first order: one correlated look-up of the customer by primary key
    # (the rollup keeps contacts_customer.first_order_at), the same on the fact and the customer table.
    conds, params = window_sql("fo.first_order_at", value, now)
    where = " AND ".join([f"fo.id = {customer}", "fo.first_order_at IS NOT NULL", *conds])
    return f"EXISTS (SELECT 1 FROM contacts_customer fo WHERE {where})", params


def _first_order_describe(value: dict[str, Any], organization_id: int | None) -> str:
    return _("%(window)s首次下单") % {"window": window_describe(value)}


def register_contacts_conditions() -> None:
    register_segment_condition(
        "first_order",
        compile_fn=_first_order_compile,
        validate_fn=_first_order_validate,
        schema={
            "type": "object",
            "additionalProperties": False,
            "properties": WINDOW_SCHEMA,
            "description": "首单（第一笔未全额退款的订单）时间在窗口内",
            "example": {"within_days": 30},
        },
        label=FIRST_ORDER_LABEL,
        describe_fn=_first_order_describe,
    )
    for key, (label, _column) in GROUP_EVENTS.items():
        register_segment_condition(
            key,
            compile_fn=_group_compile(key),
            validate_fn=_group_validate(key),
            schema={
                "type": "object",
                "additionalProperties": False,
                "properties": {**WINDOW_SCHEMA, "group_ids": {"type": "array", "items": ID_SCHEMA}},
                "description": "入群时间窗口" if key == "group_joined" else "退群时间窗口",
                "example": {"within_days": 7},
            },
            label=label,
            describe_fn=_group_describe(key),
            check_references=_group_references,
        )
