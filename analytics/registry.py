"""What higher layers tell analytics at start-up (in their ``AppConfig.ready()``): analytics stores a
campaign id on an order (attribution) but cannot import campaigns to show its name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CampaignNames = Callable[[int, set[int]], dict[int, str]]
_campaign_names: list[CampaignNames] = []


def register_campaign_names(fn: CampaignNames) -> None:
    """``fn(organization_id, ids) → {id: name}`` for the campaigns of that organization."""
    if fn not in _campaign_names:
        _campaign_names.append(fn)


def campaign_names(organization_id: int, ids: set[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    if ids:
        for fn in _campaign_names:
            names.update(fn(organization_id, ids))
    return names


# A refund listener: ``fn(order)`` runs inside the refund's transaction after the order row changed
# (e.g. offers gives a redeemed coupon back when the template says so). It must not call out.
RefundListener = Callable[[Any], None]
_refund_listeners: list[RefundListener] = []


def register_refund_listener(fn: RefundListener) -> None:
    if fn not in _refund_listeners:
        _refund_listeners.append(fn)


def refund_listeners() -> list[RefundListener]:
    return list(_refund_listeners)
