"""Builders for campaign tests: reachable customers (WeCom identity + an active follow) in bulk."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from campaigns.models import Campaign, CampaignKind, QuotaPolicy
from contacts.models import Customer, Follow, Identity, Organization, Staff, Store


def reachable_customers(
    org: Organization,
    n: int,
    *,
    staff: list[Staff],
    store: Store | None = None,
    consent: bool = True,
    opted_out: bool = False,
    prefix: str = "c",
) -> list[Customer]:
    """``n`` customers, each with a WeCom identity and followed by ``staff[i % len(staff)]``."""
    now = timezone.now()
    customers = Customer.objects.bulk_create(
        [
            Customer(
                organization=org,
                name=f"{prefix}{i}",
                home_store=store,
                marketing_consent=consent,
                opted_out_at=now if opted_out else None,
            )
            for i in range(n)
        ]
    )
    Identity.objects.bulk_create(
        [
            Identity(organization=org, customer=c, platform="wecom", account="corp", external_id=f"wm{prefix}{c.pk}")
            for c in customers
        ]
    )
    if staff:
        Follow.objects.bulk_create(
            [Follow(organization=org, customer=c, staff=staff[i % len(staff)]) for i, c in enumerate(customers)]
        )
    return customers


def campaign(org: Organization, **kw: Any) -> Campaign:
    defaults: dict[str, Any] = {
        "name": "测试群发",
        "kind": CampaignKind.BROADCAST_SINGLE,
        "text": "双十一会员专享",
        "expression": {},
    }
    defaults.update(kw)
    return Campaign.objects.create(organization=org, **defaults)


def policy(org: Organization, **kw: Any) -> QuotaPolicy:
    return QuotaPolicy.objects.create(organization=org, **kw)


def at(hour: int, minute: int = 0, day: int = 23, month: int = 11) -> datetime:
    """An aware datetime in platform time (Asia/Shanghai)."""
    from campaigns.quota import PLATFORM_TZ

    return datetime(2026, month, day, hour, minute, tzinfo=PLATFORM_TZ)
