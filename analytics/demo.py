"""The demo brand's orders: repeat buyers, refunds, seasonality (618, 双11, 春节), stores of different
sizes; WeCom service data for staff; then every rollup rebuilt so the report charts look alive, and the
purchase and spend models fitted so customers carry predicted figures."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.utils import timezone

from analytics.models import Order, OrderSource, OrderStatus, StaffBehaviorDaily
from analytics.predict.services import organization_predict
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


def _purchase_days(rng: random.Random, start: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """One customer's orders as the "buy till you die" story goes: 38% never buy; a buyer's first order
    comes within weeks of joining, then repeat orders arrive at their own rate (a few a year, varying
    widely between people) until, after some order, they quietly stop; 618, 双11 and 春节 sell more."""
    if rng.random() < 0.38:
        return []
    per_day = rng.gammavariate(0.9, 2.4) / 365  # purchases a day while still a customer
    stop = rng.betavariate(1.3, 3.5)  # the chance they stop after each repeat order
    day = start + dt.timedelta(days=rng.expovariate(1 / 20), minutes=rng.randint(9 * 60, 21 * 60))
    days: list[dt.datetime] = []
    while day < now and len(days) < 12:
        days.append(day)
        if len(days) > 1 and rng.random() < stop:
            break
        while True:  # the next order, fewer of them outside the seasons
            # A gamma draw can be tiny (a rate of one order in millennia): past ten years the customer has
            # stopped anyway, and a larger step would overflow the date.
            day += dt.timedelta(days=min(rng.expovariate(per_day), 3650.0) if per_day > 0 else 3650.0)
            if day >= now or rng.random() < _season(day.date()) / 3.0:
                break
        day = day.replace(hour=rng.randint(9, 21), minute=rng.randint(0, 59))
    return days


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
        cf = follows.get(c.pk, [])
        for paid in _purchase_days(rng, c.created_at, now):
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
    # The 预测 page and the profile's predicted figures, as the nightly refit would leave them.
    organization_predict(organization_id=org.pk)
