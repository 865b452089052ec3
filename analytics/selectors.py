"""Reads of analytics that other apps use (the reports live in ``analytics.reports``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import F, Sum

from analytics.models import DailyRollup, Order
from contacts.access import Actor


def customer_orders_export(customer_id: int) -> list[dict[str, Any]]:
    """A customer's orders for their personal-data export (contacts.services.customer_personal_data)."""
    rows = Order.objects.filter(customer_id=customer_id).select_related("store").order_by("paid_at", "id")
    return [
        {
            "order": o.external_ref,
            "source": o.get_source_display(),
            "store": o.store.name if o.store else "",
            "amount": str(o.amount),
            "refunded_amount": str(o.refunded_amount),
            "status": o.get_status_display(),
            "paid_at": o.paid_at.isoformat(),
            "items": o.items,
        }
        for o in rows
    ]


def order_daily_totals(
    *, actor: Actor, first: dt.date, last: dt.date
) -> tuple[dict[dt.date, int], dict[dt.date, Decimal]]:
    """Orders and GMV net of refunds per Beijing day in ``[first, last]`` (the home page), from the daily
    rollups, within the actor's scope; store staff count only the orders attributed to them. One query."""
    cells = actor.scope(DailyRollup.objects.filter(day__gte=first, day__lte=last))
    if actor.is_store_staff:
        cells = cells.filter(staff_id=actor.staff.pk)
    rows = list(
        cells.values("day").annotate(n=Sum("orders"), gmv=Sum(F("gmv") - F("refunds"))).values_list("day", "n", "gmv")
    )
    orders = {day: int(n) for day, n, _gmv in rows if n}
    gmv = {day: Decimal(g) for day, n, g in rows if n or g}
    return orders, gmv
