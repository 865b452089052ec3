"""Order behaviour conditions for segment leaves, registered into contacts (docs/segments.md).

* ``orders``: ordered (at least one paid, not fully refunded order) within an optional window, with
  optional amount bounds (the order amount in yuan), product category (an item of ``items`` with
  ``"category"`` equal to it) and stores — ``{"orders": {"within_days": 30, "category": "母婴"}}``.
* ``no_repeat``: bought once and then nothing for N days — the first order is at least N days old
  and no other order followed within N days of it — ``{"no_repeat": {"days": 60}}``.

Each compiles to one ``EXISTS`` subquery on ``analytics_order`` with bound parameters, served by the
``order_customer_paid`` index (customer, paid_at).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from contacts.models import Store
from contacts.segments import SegmentError, register_segment_condition
from contacts.segments.behaviour import (
    ID_SCHEMA,
    MAX_DAYS,
    WINDOW_KEYS,
    WINDOW_SCHEMA,
    check_ids,
    id_list_validate,
    names,
    positive_int,
    window_describe,
    window_sql,
    window_validate,
)
from contacts.segments.leaf import LTV_DIGITS, _number

ORDERS_LABEL = _l("下单")
NO_REPEAT_LABEL = _l("首单后未复购")
ORDER_KEYS = WINDOW_KEYS | {"amount_min", "amount_max", "category", "store_ids"}
COUNTED = "o.status <> 'refunded'"  # a fully refunded order is not an order the customer kept
AMOUNT: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": float(10**LTV_DIGITS), "nullable": True}


def orders_validate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - ORDER_KEYS:
        raise SegmentError(
            _('“%(field)s”只支持 %(keys)s，例如 {"within_days": 30, "category": "母婴"}')
            % {"field": ORDERS_LABEL, "keys": ", ".join(sorted(ORDER_KEYS))}
        )
    out = window_validate(value, ORDERS_LABEL, required=False)
    low = _number(value.get("amount_min"), _("下单（最低金额）"), integer=False)
    high = _number(value.get("amount_max"), _("下单（最高金额）"), integer=False)
    if low is not None and high is not None and low > high:
        raise SegmentError(_("“下单”的最低金额大于最高金额，请调换"))
    out.update({k: v for k, v in (("amount_min", low), ("amount_max", high)) if v is not None})
    category = value.get("category")
    if category not in (None, ""):
        if not isinstance(category, str) or not category.strip() or len(category) > 50:
            raise SegmentError(_("“下单（商品类目）”需要 1 到 50 字的类目名称"))
        out["category"] = category.strip()
    if value.get("store_ids"):
        out["store_ids"] = id_list_validate(value["store_ids"], _("下单（门店）"))
    return out


def orders_compile(value: dict[str, Any], customer: str, now: dt.datetime) -> tuple[str, list[Any]]:
    conds, params = window_sql("o.paid_at", value, now)
    if "amount_min" in value:
        conds.append("o.amount >= %s")
        params.append(value["amount_min"])
    if "amount_max" in value:
        conds.append("o.amount <= %s")
        params.append(value["amount_max"])
    if value.get("category"):
        conds.append("o.items @> %s::jsonb")
        params.append(json.dumps([{"category": value["category"]}], ensure_ascii=False))
    if value.get("store_ids"):
        conds.append("o.store_id = ANY(%s)")
        params.append(list(value["store_ids"]))
    where = " AND ".join([f"o.customer_id = {customer}", COUNTED, *conds])
    return f"EXISTS (SELECT 1 FROM analytics_order o WHERE {where})", params


def orders_describe(value: dict[str, Any], organization_id: int | None) -> str:
    window = window_describe(value) or _("曾经")
    details = []
    if value.get("store_ids"):
        details.append(_("在%(stores)s") % {"stores": names(Store, value["store_ids"], organization_id)})
    if value.get("category"):
        details.append(_("买过“%(c)s”类商品") % {"c": value["category"]})
    low, high = value.get("amount_min"), value.get("amount_max")
    if low is not None and high is not None:
        details.append(_("单笔 %(a)s–%(b)s 元") % {"a": low, "b": high})
    elif low is not None:
        details.append(_("单笔不低于 %(a)s 元") % {"a": low})
    elif high is not None:
        details.append(_("单笔不高于 %(b)s 元") % {"b": high})
    text = _("%(window)s下过单") % {"window": window}
    return text + (f"（{'，'.join(details)}）" if details else "")


def orders_references(value: dict[str, Any], organization_id: int) -> None:
    check_ids(Store, value.get("store_ids", []), organization_id, _("门店"))


def no_repeat_validate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != {"days"}:
        raise SegmentError(_('“首单后未复购”必须是 {"days": 60} 这样的对象'))
    return {"days": positive_int(value["days"], _("首单后未复购（天数）"), maximum=MAX_DAYS)}


def no_repeat_compile(value: dict[str, Any], customer: str, now: dt.datetime) -> tuple[str, list[Any]]:
    span = dt.timedelta(days=value["days"])
    sql = (
        "EXISTS (SELECT 1 FROM (SELECT min(o.paid_at) AS first_paid FROM analytics_order o"
        f" WHERE o.customer_id = {customer} AND {COUNTED}) f"
        " WHERE f.first_paid <= %s AND NOT EXISTS (SELECT 1 FROM analytics_order o"
        f" WHERE o.customer_id = {customer} AND {COUNTED}"
        " AND o.paid_at > f.first_paid AND o.paid_at <= f.first_paid + %s))"
    )
    return sql, [now - span, span]


def no_repeat_describe(value: dict[str, Any], organization_id: int | None) -> str:
    return _("首单后 %(n)s 天内没有再下单") % {"n": value["days"]}


def register() -> None:
    register_segment_condition(
        "orders",
        compile_fn=orders_compile,
        validate_fn=orders_validate,
        schema={
            "type": "object",
            "additionalProperties": False,
            "description": "下过单（已支付且未全额退款的订单），可限时间、金额、类目、门店",
            "properties": {
                **WINDOW_SCHEMA,
                "amount_min": AMOUNT,
                "amount_max": AMOUNT,
                "category": {"type": "string", "minLength": 1, "maxLength": 50, "description": "商品明细里的 category"},
                "store_ids": {"type": "array", "items": ID_SCHEMA},
            },
            "example": {"within_days": 30, "category": "母婴"},
        },
        label=ORDERS_LABEL,
        describe_fn=orders_describe,
        check_references=orders_references,
    )
    register_segment_condition(
        "no_repeat",
        compile_fn=no_repeat_compile,
        validate_fn=no_repeat_validate,
        schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["days"],
            "description": "首单已满 N 天，且首单后 N 天内没有再下单",
            "properties": {"days": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS}},
            "example": {"days": 60},
        },
        label=NO_REPEAT_LABEL,
        describe_fn=no_repeat_describe,
    )
