"""The customer profile's coupons section (registered with contacts in ``OffersConfig.ready()``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator

from contacts.access import Actor
from contacts.models import Customer
from offers.selectors import customer_coupons

PROFILE_COUPONS_PAGE = 10


def profile_coupons(actor: Actor, customer: Customer, params: Any) -> dict[str, Any]:
    """The customer's coupons, newest first, ten a page (``?coupons=N``)."""
    page = Paginator(customer_coupons(actor, customer), PROFILE_COUPONS_PAGE).get_page(params.get("coupons"))
    kept = [(k, v) for k, v in params.items() if k != "coupons" and v]
    return {"coupons_page": page, "coupons_query": urlencode(kept)}
