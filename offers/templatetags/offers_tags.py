"""Template tags for the profile's coupon actions (the profile extension renders with the
profile's context only: the actor and the customer)."""

from __future__ import annotations

from django import template
from django.utils import timezone

from contacts.access import Actor
from contacts.models import Customer
from offers import selectors, services
from offers.models import CouponStatus, CouponTemplate, IssuedCoupon

register = template.Library()


@register.simple_tag
def issuable_templates(actor: Actor) -> list[CouponTemplate]:
    """Active templates with stock left, for the 发券 select."""
    # No prefetch of the stores: one query whatever the number of templates (the sidebar's count is pinned).
    return [t for t in actor.scope(CouponTemplate.objects.filter(is_active=True))[:50] if t.remaining > 0]


@register.simple_tag
def customer_open_coupons(actor: Actor, customer: Customer) -> list[IssuedCoupon]:
    """The customer's coupons still usable now (to redeem from the sidebar in one tap)."""
    return list(
        selectors.customer_coupons(actor, customer).filter(
            status=CouponStatus.ISSUED, valid_until__gt=timezone.now(), valid_from__lte=timezone.now()
        )[:10]
    )


@register.filter
def coupon_signed(coupon: IssuedCoupon) -> str:
    """The signed token of the customer's coupon page (``offers:customer_coupon``) and its QR."""
    return services.coupon_link_token(coupon.token)
