"""Shared builders for the offers tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from offers import services
from offers.models import CouponTemplate


def template(org: Any, **overrides: Any) -> CouponTemplate:
    """A ¥5-off, no-threshold coupon valid 7 days after issue (through the service, as the console does)."""
    data: dict[str, Any] = {
        "name": "新人立减5元",
        "kind": "amount",
        "amount_off": Decimal("5.00"),
        "threshold": Decimal("0"),
        "validity": "relative",
        "valid_days": 7,
        "stock": 100,
        "per_customer_limit": 1,
        "stackable": False,
        "refund_restores": True,
    }
    stores = overrides.pop("stores", [])
    data.update(overrides)
    return services.coupon_template_save(organization=org, data=data, stores=stores)


def fixed_window(days: int = 30) -> dict[str, Any]:
    now = timezone.now()
    return {"validity": "fixed", "valid_from": now - dt.timedelta(days=1), "valid_to": now + dt.timedelta(days=days)}
