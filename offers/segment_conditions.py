"""Coupon conditions for segment leaves, registered into contacts (docs/segments.md).

* ``coupon_redeemed``: redeemed (核销) a coupon — not given back by a refund — within an optional
  window, optionally of given coupon templates and at given stores:
  ``{"coupon_redeemed": {"within_days": 30, "template_ids": [3], "store_ids": [1]}}``; ``{}`` = ever.
* ``coupon_valid``: holds an unused coupon that is valid now, optionally of given templates and
  expiring within N Beijing days (today included): ``{"coupon_valid": {"expires_within_days": 3}}``.

Both are one ``EXISTS`` from :mod:`offers.selectors` (``redeemed_exists_sql`` /
``valid_coupon_exists_sql``) with bound parameters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from contacts.access import Actor
from contacts.models import Store
from contacts.segments import SegmentError, register_segment_condition
from contacts.segments.behaviour import (
    ID_SCHEMA,
    MAX_DAYS,
    SHANGHAI,
    WINDOW_KEYS,
    WINDOW_SCHEMA,
    check_ids,
    day_start,
    id_list_validate,
    names,
    positive_int,
    window_bounds,
    window_describe,
    window_validate,
)
from offers.models import CouponTemplate
from offers.selectors import redeemed_exists_sql, templates_for, valid_coupon_exists_sql

REDEEMED_LABEL = _l("核销过优惠券")
VALID_LABEL = _l("持有可用优惠券")
REDEEMED_KEYS = WINDOW_KEYS | {"template_ids", "store_ids"}
VALID_KEYS = {"template_ids", "expires_within_days"}
ID_ARRAY: dict[str, Any] = {"type": "array", "items": ID_SCHEMA}


def redeemed_validate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - REDEEMED_KEYS:
        raise SegmentError(
            _('“%(field)s”只支持 %(keys)s，例如 {"within_days": 30, "template_ids": [1]}')
            % {"field": REDEEMED_LABEL, "keys": ", ".join(sorted(REDEEMED_KEYS))}
        )
    out = window_validate(value, REDEEMED_LABEL, required=False)
    if value.get("template_ids"):
        out["template_ids"] = id_list_validate(value["template_ids"], _("核销过优惠券（券）"))
    if value.get("store_ids"):
        out["store_ids"] = id_list_validate(value["store_ids"], _("核销过优惠券（门店）"))
    return out


def redeemed_compile(value: dict[str, Any], customer: str, now: dt.datetime) -> tuple[str, list[Any]]:
    since, until = window_bounds(value, now)
    return redeemed_exists_sql(
        customer=customer,
        template_ids=value.get("template_ids"),
        store_ids=value.get("store_ids"),
        since=since,
        until=until,
    )


def redeemed_describe(value: dict[str, Any], organization_id: int | None) -> str:
    which = names(CouponTemplate, value["template_ids"], organization_id) if value.get("template_ids") else _("优惠券")
    text = _("%(window)s核销过%(which)s") % {"window": window_describe(value) or _("曾经"), "which": which}
    if value.get("store_ids"):
        text += _("（在%(stores)s）") % {"stores": names(Store, value["store_ids"], organization_id)}
    return text


def redeemed_references(value: dict[str, Any], organization_id: int) -> None:
    check_ids(CouponTemplate, value.get("template_ids", []), organization_id, _("优惠券"))
    check_ids(Store, value.get("store_ids", []), organization_id, _("门店"))


def valid_validate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - VALID_KEYS:
        raise SegmentError(
            _('“%(field)s”只支持 %(keys)s，例如 {"expires_within_days": 3}')
            % {"field": VALID_LABEL, "keys": ", ".join(sorted(VALID_KEYS))}
        )
    out: dict[str, Any] = {}
    if value.get("template_ids"):
        out["template_ids"] = id_list_validate(value["template_ids"], _("持有可用优惠券（券）"))
    if value.get("expires_within_days") not in (None, ""):
        out["expires_within_days"] = positive_int(
            value["expires_within_days"], _("持有可用优惠券（几天内到期）"), maximum=MAX_DAYS
        )
    return out


def valid_compile(value: dict[str, Any], customer: str, now: dt.datetime) -> tuple[str, list[Any]]:
    expires_before = None
    if "expires_within_days" in value:
        # "Within 3 days" is today and the next two Beijing days: before the fourth day's midnight.
        today = now.astimezone(SHANGHAI).date()
        expires_before = day_start(today + dt.timedelta(days=value["expires_within_days"]))
    return valid_coupon_exists_sql(
        customer=customer, now=now, template_ids=value.get("template_ids"), expires_before=expires_before
    )


def valid_describe(value: dict[str, Any], organization_id: int | None) -> str:
    which = names(CouponTemplate, value["template_ids"], organization_id) if value.get("template_ids") else _("优惠券")
    text = _("持有未使用且在有效期内的%(which)s") % {"which": which}
    if "expires_within_days" in value:
        text += _("（%(n)s 天内到期）") % {"n": value["expires_within_days"]}
    return text


def valid_references(value: dict[str, Any], organization_id: int) -> None:
    check_ids(CouponTemplate, value.get("template_ids", []), organization_id, _("优惠券"))


def template_options(actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """The builder's coupon picker: the brand's templates, newest first."""
    rows = templates_for(actor).order_by("-created_at", "-id").values_list("pk", "name")[:500]
    return {"templates": [{"id": pk, "name": name} for pk, name in rows]}


def register() -> None:
    register_segment_condition(
        "coupon_redeemed",
        compile_fn=redeemed_compile,
        validate_fn=redeemed_validate,
        schema={
            "type": "object",
            "additionalProperties": False,
            "description": "核销过优惠券（退款返还的不算），可限时间、券、核销门店；{} 表示曾经核销过",
            "properties": {**WINDOW_SCHEMA, "template_ids": ID_ARRAY, "store_ids": ID_ARRAY},
            "example": {"within_days": 30, "template_ids": [3]},
        },
        label=REDEEMED_LABEL,
        describe_fn=redeemed_describe,
        check_references=redeemed_references,
        options_fn=template_options,
    )
    register_segment_condition(
        "coupon_valid",
        compile_fn=valid_compile,
        validate_fn=valid_validate,
        schema={
            "type": "object",
            "additionalProperties": False,
            "description": "持有未使用且当前在有效期内的券，可限券、N 天内（北京时间，含今天）到期",
            "properties": {
                "template_ids": ID_ARRAY,
                "expires_within_days": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS},
            },
            "example": {"expires_within_days": 3},
        },
        label=VALID_LABEL,
        describe_fn=valid_describe,
        check_references=valid_references,
        options_fn=template_options,
    )
