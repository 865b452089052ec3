"""The demo brand's orders: repeat buyers, refunds, seasonality (618, 双11, 春节), stores of different
sizes; WeCom service data for staff; then every rollup rebuilt so the report charts look alive."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.utils import timezone

from analytics.models import Order, OrderSource, OrderStatus, StaffBehaviorDaily
from analytics.rollups import organization_rebuild
from contacts.models import Follow

PRODUCTS = [
    ("修护精华 30ml", Decimal("399")),
    ("保湿面霜 50g", Decimal("289")),
    ("洁面乳", Decimal("99")),
    ("口红 #316", Decimal("239")),
    ("香氛礼盒", Decimal("680")),
    ("身体乳", Decimal("129")),
    ("美白面膜 5片", Decimal("159")),
    ("年度护肤套装", Decimal("1880")),
]
SOURCES = [
    (OrderSource.POS_IMPORT, 0.55),
    (OrderSource.WECOM_PAY, 0.15),
    (OrderSource.MEITUAN, 0.12),
    (OrderSource.WECHAT_SHOP, 0.13),
    (OrderSource.DOUYIN, 0.05),
]


def _season(day: dt.date) -> float:
    """Relative demand: 618, 双11 and the weeks before 春节 sell more."""
    md = (day.month, day.day)
    if (11, 1) <= md <= (11, 12):
        return 3.0
    if (6, 1) <= md <= (6, 18):
        return 2.2
    if day.month == 1 or md <= (2, 10):
        return 1.6
    if day.month in (7, 8):
        return 0.8
    return 1.0


def _order_day(rng: random.Random, start: dt.datetime, now: dt.datetime) -> dt.datetime:
    span = max(1, (now - start).days)
    for _ in range(20):
        candidate = start + dt.timedelta(days=rng.randint(0, span), minutes=rng.randint(9 * 60, 21 * 60))
        if candidate < now and rng.random() < _season(candidate.date()) / 3.0:
            return candidate
    return min(now - dt.timedelta(hours=1), start + dt.timedelta(days=rng.randint(0, span)))


def load(*, context: dict[str, Any], rng: random.Random) -> None:
    org = context["organization"]
    customers = context["customers"]
    now = timezone.now()
    follows: dict[int, list[Follow]] = {}
    for f in Follow.objects.filter(organization=org).order_by("added_at", "id"):
        follows.setdefault(f.customer_id, []).append(f)
    orders = []
    n = 0
    for c in customers:
        # Most customers buy once or never; a loyal minority buys again and again.
        k = rng.choices([0, 1, 2, 3, 4, 6, 9], [0.38, 0.3, 0.13, 0.08, 0.05, 0.04, 0.02])[0]
        cf = follows.get(c.pk, [])
        for _ in range(k):
            paid = _order_day(rng, c.created_at, now)
            basket = rng.sample(PRODUCTS, k=rng.choice([1, 1, 1, 2, 2, 3]))
            amount = sum((p for _n, p in basket), Decimal(0))
            active = [f for f in cf if f.added_at <= paid and (f.deleted_at is None or f.deleted_at > paid)]
            source = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
            roll = rng.random()
            refunded = amount if roll < 0.04 else (Decimal(basket[0][1]) if roll < 0.07 and len(basket) > 1 else 0)
            n += 1
            orders.append(
                Order(
                    organization=org,
                    customer=c,
                    store_id=c.home_store_id,
                    staff=active[-1].staff if active else (cf[-1].staff if cf else None),
                    channel=c.source_channel,
                    is_private=bool(active),
                    amount=amount,
                    refunded_amount=refunded,
                    status=OrderStatus.REFUNDED
                    if refunded == amount
                    else (OrderStatus.PARTIALLY_REFUNDED if refunded else OrderStatus.PAID),
                    paid_at=paid,
                    refunded_at=paid + dt.timedelta(days=2) if refunded else None,
                    source=source,
                    external_ref=f"DEMO-{n:06d}",
                    items=[{"name": name, "price": str(price), "qty": 1} for name, price in basket],
                )
            )
    Order.objects.bulk_create(orders, batch_size=2000)

    behaviour = []
    today = timezone.localdate()
    for s in context["staff"]:
        if not s.wecom_userid:
            continue
        skill = rng.uniform(0.6, 1.0)
        for d in range(60):
            chats = rng.randint(5, 40)
            behaviour.append(
                StaffBehaviorDaily(
                    organization=org,
                    staff=s,
                    day=today - dt.timedelta(days=d + 1),
                    chat_cnt=chats,
                    message_cnt=chats * rng.randint(3, 8),
                    reply_percentage=round(min(100.0, skill * 100 * rng.uniform(0.85, 1.05)), 1),
                    avg_reply_time=round(rng.uniform(1, 30) / skill, 1),
                    new_contact_cnt=rng.randint(0, 6),
                    negative_feedback_cnt=rng.choices([0, 1, 2], [0.85, 0.12, 0.03])[0],
                )
            )
    StaffBehaviorDaily.objects.bulk_create(behaviour, batch_size=2000)
    organization_rebuild(organization_id=org.pk)
