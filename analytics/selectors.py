"""Reads of analytics that other apps use (the reports live in ``analytics.reports``)."""

from __future__ import annotations

from typing import Any

from analytics.models import Order


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
