"""The customer profile's orders section (registered with contacts in ``AnalyticsConfig.ready()``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.urls import reverse

from analytics.models import Order
from analytics.registry import campaign_names
from contacts.access import Actor
from contacts.models import Customer

PROFILE_ORDERS_PAGE = 10


def profile_orders(actor: Actor, customer: Customer, params: Any) -> dict[str, Any]:
    """The customer's orders the actor may see (store-scoped), newest first, ten a page (``?orders=N``)."""
    qs = actor.scope(Order.objects.filter(customer=customer).select_related("store", "staff")).order_by(
        "-paid_at", "-id"
    )
    page = Paginator(qs, PROFILE_ORDERS_PAGE).get_page(params.get("orders"))
    names = campaign_names(customer.organization_id, {o.campaign_id for o in page if o.campaign_id})
    base = reverse("analytics:order_list")
    rows = [
        {
            "order": o,
            "campaign": names.get(o.campaign_id) if o.campaign_id else None,
            "url": f"{base}?{urlencode({'customer': customer.pk, 'q': o.external_ref})}",
        }
        for o in page
    ]
    kept = [(k, v) for k, v in params.items() if k != "orders" and v]
    return {
        "orders_page": page,
        "order_rows": rows,
        "orders_query": urlencode(kept),
        "all_orders_url": f"{base}?{urlencode({'customer': customer.pk})}",
    }
