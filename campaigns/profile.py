"""Campaigns on the customer profile (registered with contacts), and campaign names for analytics."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator

from campaigns.models import Campaign, Delivery
from contacts.access import Actor
from contacts.models import Customer

PROFILE_CAMPAIGNS_PAGE = 10


def profile_campaigns(actor: Actor, customer: Customer, params: Any) -> dict[str, Any]:
    """Every campaign that planned this customer, with the delivery's status (and why it was left out),
    newest first; ``?campaigns=N`` pages. The customer was scoped by the caller; the campaign must be
    of the same organization."""
    qs = (
        Delivery.objects.filter(customer_id=customer.pk, organization_id=customer.organization_id)
        .select_related("campaign")
        .order_by("-campaign__created_at", "-id")
    )
    page = Paginator(qs, PROFILE_CAMPAIGNS_PAGE).get_page(params.get("campaigns"))
    kept = [(k, v) for k, v in params.items() if k != "campaigns" and v]
    return {"campaigns_page": page, "campaigns_query": urlencode(kept), "can_open_campaigns": not actor.is_store_staff}


def campaign_names(organization_id: int, ids: set[int]) -> dict[int, str]:
    return dict(Campaign.objects.filter(organization_id=organization_id, pk__in=ids).values_list("pk", "name"))
