"""The customer profile's 任务宝 section (registered with contacts in ``ReferralsConfig.ready()``)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from contacts.access import Actor
from contacts.models import Customer
from referrals import selectors
from referrals.models import ReferralParticipant, ReferralStatus
from referrals.services import poster_link


def profile_referrals(actor: Actor, customer: Customer, params: Any) -> dict[str, Any] | None:
    """Running campaigns the actor may enrol the customer in, and the customer's participations."""
    now = timezone.now()
    joined = list(
        ReferralParticipant.objects.filter(customer=customer, erased_at__isnull=True)
        .select_related("campaign")
        .order_by("-created_at")[:10]
    )
    open_campaigns = [
        c
        for c in selectors.campaigns_for_actor(actor, status=ReferralStatus.RUNNING).filter(
            starts_at__lte=now, ends_at__gt=now
        )[:20]
        if c.pk not in {p.campaign_id for p in joined}
    ]
    if not joined and not open_campaigns:
        return None
    return {
        "referral_joined": [(p, selectors.progress(p), poster_link(p.token)) for p in joined],
        "referral_open": open_campaigns,
    }
