"""The demo brand's journeys: three from the templates (new friend with its day-0 coupon, birthday by
the 生日 custom field, win-back at 60 days), switched on ten days ago, with customers who entered on
different days and were advanced by the engine's own ticks, so each journey page shows customers at
several steps, tasks done and open, and coupons issued."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.utils import timezone

from contacts import services as contacts
from contacts.access import actor_for_user
from contacts.models import Customer, CustomField, CustomFieldKind
from journeys import services
from journeys.engine import enrol_ids, journeys_tick
from journeys.models import Journey, JourneyStatus
from offers.models import CouponTemplate
from offers.services import coupon_template_save
from todos.models import Todo, TodoStatus
from todos.services import todo_complete


def _birthday_field(org: Any) -> CustomField:
    field = CustomField.objects.filter(organization=org, kind=CustomFieldKind.DATE, label="生日").first()
    return field or contacts.custom_field_create(organization=org, key="birthday", label="生日", kind="date")


def _coupon(org: Any) -> CouponTemplate:
    existing = CouponTemplate.objects.filter(organization=org, is_active=True).order_by("-pk").first()
    if existing is not None:
        return existing
    data = {
        "name": "新人立减20元",
        "kind": "amount",
        "amount_off": Decimal("20.00"),
        "threshold": Decimal("99.00"),
        "validity": "relative",
        "valid_days": 14,
        "stock": 5000,
        "per_customer_limit": 1,
        "stackable": False,
        "refund_restores": True,
    }
    return coupon_template_save(organization=org, data=data, stores=[])


def load(*, context: dict[str, Any], rng: random.Random) -> None:
    org = context["organization"]
    operator = context["logins"]["operator"]
    actor = actor_for_user(operator.user)
    if actor is None:
        return
    customers: list[Customer] = list(context.get("customers") or [])
    field = _birthday_field(org)
    _coupon(org)
    now = timezone.now()
    start = now - dt.timedelta(days=10)

    # Birthdays on some customers' profiles: a few today and in the coming days, so the journey fills.
    today = timezone.localdate()
    picked = rng.sample(customers, k=min(len(customers) // 3, 300))
    for i, customer in enumerate(picked):
        ahead = i % 30 if i < len(picked) // 4 else -rng.randint(1, 330)
        anniversary = today + dt.timedelta(days=ahead)
        birthday_date = dt.date(rng.randint(1975, 2002), anniversary.month, min(anniversary.day, 28))
        Customer.objects.filter(pk=customer.pk).update(
            attributes={**(customer.attributes or {}), field.key: birthday_date.isoformat()}
        )

    new_friend = services.journey_from_template(actor=actor, key="new_friend")
    birthday = services.journey_from_template(actor=actor, key="birthday")
    win_back = services.journey_from_template(actor=actor, key="win_back")
    for journey in (new_friend, birthday, win_back):
        services.journey_set_status(actor=actor, journey=journey, status=JourneyStatus.ACTIVE, now=start)

    # New friends entered over the last ten days; the ticks below walk them as far as their day allows.
    taken = {p.pk for p in picked}
    pool = [c.pk for c in customers if c.pk not in taken]
    rng.shuffle(pool)
    size = max(1, min(25, len(pool) // 12))
    cohorts = [pool[i * size : (i + 1) * size] for i in range(11)]
    for n, cohort in enumerate(cohorts):
        moment = start + dt.timedelta(days=n, hours=2)
        if cohort:
            enrol_ids(journey=Journey.objects.get(pk=new_friend.pk), customer_ids=cohort, now=moment)
        journeys_tick(now=moment)
    journeys_tick(now=now)
    # Members sent about two thirds of the new-friend tasks (through the service: the timeline says so).
    open_tasks = Todo.objects.filter(
        organization=org, status=TodoStatus.OPEN, payload__journey_id=new_friend.pk
    ).values_list("pk", flat=True)
    for pk in list(open_tasks):
        if rng.random() < 0.66:
            todo_complete(actor=actor, todo_id=pk)
