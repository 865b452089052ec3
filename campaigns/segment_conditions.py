"""The "received a broadcast" segment condition, registered into contacts (docs/segments.md).

``{"broadcast": {"within_days": 7, "campaign_ids": [3]}}``: a delivery of one of these campaigns (any
campaign without ``campaign_ids``) reached the customer within the window. One ``EXISTS`` on
``campaigns_delivery`` served by its partial index (customer, delivered_at).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from campaigns.models import Campaign, CampaignKind
from contacts.access import Actor
from contacts.segments import SegmentError, register_segment_condition
from contacts.segments.behaviour import (
    ID_SCHEMA,
    WINDOW_KEYS,
    WINDOW_SCHEMA,
    check_ids,
    id_list_validate,
    names,
    window_describe,
    window_sql,
    window_validate,
)

LABEL = _l("收到群发")


def broadcast_validate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - (WINDOW_KEYS | {"campaign_ids"}):
        raise SegmentError(_('“收到群发”必须是 {"within_days": 7, "campaign_ids": [1]} 这样的对象'))
    out = window_validate(value, LABEL)
    if value.get("campaign_ids"):
        out["campaign_ids"] = id_list_validate(value["campaign_ids"], _("收到群发（活动）"))
    return out


def broadcast_compile(value: dict[str, Any], customer: str, now: dt.datetime) -> tuple[str, list[Any]]:
    conds, params = window_sql("d.delivered_at", value, now)
    if value.get("campaign_ids"):
        conds.append("d.campaign_id = ANY(%s)")
        params.append(list(value["campaign_ids"]))
    where = " AND ".join([f"d.customer_id = {customer}", "d.delivered_at IS NOT NULL", *conds])
    return f"EXISTS (SELECT 1 FROM campaigns_delivery d WHERE {where})", params


def broadcast_describe(value: dict[str, Any], organization_id: int | None) -> str:

    which = names(Campaign, value["campaign_ids"], organization_id) if value.get("campaign_ids") else _("群发")
    return _("%(window)s收到过%(which)s") % {"window": window_describe(value), "which": which}


def broadcast_references(value: dict[str, Any], organization_id: int) -> None:

    check_ids(Campaign, value.get("campaign_ids", []), organization_id, _("群发活动"))


def campaign_options(actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """The builder's campaign picker: the actor's campaigns that were sent (planned), newest first."""
    rows = (
        actor.scope(Campaign.objects.filter(planned_at__isnull=False))
        .exclude(kind=CampaignKind.WELCOME_TEMPLATE)
        .order_by("-planned_at", "-id")
        .values_list("pk", "name")[:500]
    )
    return {"campaigns": [{"id": pk, "name": name} for pk, name in rows]}


def register() -> None:
    register_segment_condition(
        "broadcast",
        compile_fn=broadcast_compile,
        validate_fn=broadcast_validate,
        schema={
            "type": "object",
            "additionalProperties": False,
            "description": "时间窗口内收到过群发（可限定活动）",
            "properties": {**WINDOW_SCHEMA, "campaign_ids": {"type": "array", "items": ID_SCHEMA}},
            "example": {"within_days": 7},
        },
        label=LABEL,
        describe_fn=broadcast_describe,
        check_references=broadcast_references,
        options_fn=campaign_options,
    )
