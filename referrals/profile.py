"""The customer profile's 任务宝 section (registered with contacts in ``ReferralsConfig.ready()``).

Two queries whatever the customer: their participations with the counts, and the running campaigns
the actor may enrol them in (the profile's query count is pinned in tests/scrm/test_busy_page_queries.py).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from contacts.access import Actor
from contacts.models import Customer
from referrals import selectors
from referrals.models import FriendStatus, ReferralParticipant, ReferralStatus, RewardStatus
from referrals.services import poster_link


def profile_referrals(actor: Actor, customer: Customer, params: Any) -> dict[str, Any] | None:
    """Running campaigns the actor may enrol the customer in, and the customer's participations."""
    now = timezone.now()
    joined = list(
        ReferralParticipant.objects.filter(customer=customer, erased_at__isnull=True)
        .select_related("campaign")
        .annotate(
            valid=Count("friends", filter=Q(friends__status=FriendStatus.VALID), distinct=True),
            pending=Count("friends", filter=Q(friends__status=FriendStatus.PENDING), distinct=True),
            rewarded=Count("rewards", filter=Q(rewards__status=RewardStatus.ISSUED), distinct=True),
        )
        .order_by("-created_at")[:10]
    )
    taken = {p.campaign_id for p in joined}
    open_campaigns = [
        c
        for c in selectors.campaigns_for_actor(actor, status=ReferralStatus.RUNNING).filter(
            starts_at__lte=now, ends_at__gt=now
        )[:20]
        if c.pk not in taken
    ]
    if not joined and not open_campaigns:
        return None
    return {"referral_joined": [(p, poster_link(p.token)) for p in joined], "referral_open": open_campaigns}
