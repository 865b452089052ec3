"""Factories and a generator of realistic order histories for analytics tests."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from analytics import services
from analytics.models import Order
from contacts.models import Customer, Follow, Organization, Staff, Store
from tests.factories import CustomerFactory

SH = ZoneInfo("Asia/Shanghai")
LAST = dt.datetime(2026, 11, 20, 20, tzinfo=SH)


def at(y: int, m: int, d: int, h: int = 12) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=SH)


def record(customer: Customer, amount: str | Decimal, paid_at: dt.datetime, ref: str, **kw: Any) -> Order:
    order, _ = services.order_record(
        organization=customer.organization,
        customer=customer,
        store=kw.pop("store", customer.home_store),
        amount=Decimal(str(amount)),
        paid_at=paid_at,
        source=kw.pop("source", "pos_import"),
        external_ref=ref,
        **kw,
    )
    return order


def generate(
    *, org: Organization, stores: list[Store], staff: list[Staff], customers: int = 40, seed: int = 7
) -> list[Customer]:
    """Customers over 8 months with follows (some churned), repeat buyers, refunds and late orders."""
    rng = random.Random(seed)
    channels = ["wecom", "douyin", "meituan", "video"]
    out = []
    for _i in range(customers):
        created = at(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 240), hours=rng.randint(0, 23))
        c = CustomerFactory(
            organization=org,
            home_store=rng.choice(stores),
            source_channel=rng.choice(channels),
            created_at=created,
        )
        if rng.random() < 0.7:
            s = rng.choice([x for x in staff if x.store_id == c.home_store_id] or staff)
            churn = rng.random() < 0.2
            Follow.objects.create(
                organization=org,
                customer=c,
                staff=s,
                added_at=created,
                deleted_at=created + dt.timedelta(days=rng.randint(1, 60)) if churn else None,
                deleted_by="customer" if churn else "",
            )
        out.append(c)
    refs = 0
    for c in out:
        for _ in range(rng.choice([0, 0, 1, 1, 1, 2, 3, 5])):
            refs += 1
            paid = min(c.created_at + dt.timedelta(days=rng.randint(0, 200), hours=rng.randint(0, 12)), LAST)
            amount = Decimal(rng.choice([59, 99, 199.5, 299, 680, 1280, 2999]))
            o = record(c, amount, paid, f"G{seed}-{refs}", source=rng.choice(["pos_import", "meituan", "api"]))
            roll = rng.random()
            if roll < 0.1:
                services.order_refund(order=o, amount=o.amount, at=paid + dt.timedelta(days=2))
            elif roll < 0.2:
                services.order_refund(order=o, amount=(o.amount / 3).quantize(Decimal("0.01")), at=paid)
    return out
