"""Reads of 任务宝, scoped to the actor: campaigns, the leaderboard, totals, a participant's progress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet

from contacts.access import Actor
from offers.services import coupon_link
from referrals.models import FriendStatus, ReferralCampaign, ReferralFriend, ReferralParticipant, RewardStatus


def campaigns_for_actor(actor: Actor, *, status: str = "") -> QuerySet[ReferralCampaign]:
    """Brand-wide campaigns (no store) for everyone of the brand; a store's campaign for its scope."""
    qs = ReferralCampaign.objects.filter(organization_id=actor.organization_id)
    if actor.store_ids is not None:
        qs = qs.filter(Q(store__isnull=True) | Q(store_id__in=actor.store_ids))
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("reward", "reward2", "store", "account").order_by("-created_at", "-id")


def campaign_for_actor(actor: Actor, pk: int) -> ReferralCampaign | None:
    return campaigns_for_actor(actor).filter(pk=pk).first()


def participants_for_actor(actor: Actor, campaign: ReferralCampaign) -> QuerySet[ReferralParticipant]:
    return actor.scope(ReferralParticipant.objects.filter(campaign=campaign))


def leaderboard(
    actor: Actor, campaign: ReferralCampaign, *, store_id: int | None = None
) -> QuerySet[ReferralParticipant]:
    """Participants by valid friends (then pending), with their reward state; the actor's stores only."""
    qs = participants_for_actor(actor, campaign)
    if store_id:
        qs = qs.filter(customer__home_store_id=store_id)
    return (
        qs.annotate(
            valid=Count("friends", filter=Q(friends__status=FriendStatus.VALID), distinct=True),
            pending=Count("friends", filter=Q(friends__status=FriendStatus.PENDING), distinct=True),
            churned=Count("friends", filter=Q(friends__status=FriendStatus.CHURNED), distinct=True),
            rewarded=Count("rewards", filter=Q(rewards__status=RewardStatus.ISSUED), distinct=True),
        )
        .select_related("customer", "customer__home_store", "serving_staff")
        .order_by("-valid", "-pending", "created_at", "id")
    )


def attribution(participant_ids: list[int]) -> dict[int, list[tuple[str, str, int]]]:
    """Per participant: (staff name, store name, valid or pending friends) of the members who received them."""
    rows = (
        ReferralFriend.objects.filter(participant_id__in=participant_ids)
        .exclude(status=FriendStatus.CHURNED)
        .values("participant_id", "staff__name", "store__name")
        .annotate(n=Count("id"))
        .order_by("participant_id", "-n")
    )
    out: dict[int, list[tuple[str, str, int]]] = {}
    for row in rows:
        out.setdefault(row["participant_id"], []).append((row["staff__name"] or "", row["store__name"] or "", row["n"]))
    return out


@dataclass(frozen=True)
class Totals:
    participants: int
    friends_valid: int
    friends_pending: int
    friends_churned: int
    rewards_issued: int
    first_orders: int


def totals(actor: Actor, campaign: ReferralCampaign) -> Totals:
    """Two aggregate queries over the actor's participants."""
    participants = participants_for_actor(actor, campaign)
    friends = actor.scope(ReferralFriend.objects.filter(campaign=campaign)).aggregate(
        valid=Count("id", filter=Q(status=FriendStatus.VALID)),
        pending=Count("id", filter=Q(status=FriendStatus.PENDING)),
        churned=Count("id", filter=Q(status=FriendStatus.CHURNED)),
        orders=Count("id", filter=~Q(status=FriendStatus.CHURNED) & Q(friend__first_order_at__isnull=False)),
    )
    agg = participants.aggregate(
        n=Count("id", distinct=True),
        rewards=Count("rewards", filter=Q(rewards__status=RewardStatus.ISSUED), distinct=True),
    )
    return Totals(
        participants=agg["n"],
        friends_valid=friends["valid"],
        friends_pending=friends["pending"],
        friends_churned=friends["churned"],
        rewards_issued=agg["rewards"],
        first_orders=friends["orders"],
    )


def progress(participant: ReferralParticipant) -> dict[str, Any]:
    """k / N and the reward state, for the poster page and the API."""
    campaign = participant.campaign
    counts = participant.friends.aggregate(
        valid=Count("id", filter=Q(status=FriendStatus.VALID)),
        pending=Count("id", filter=Q(status=FriendStatus.PENDING)),
    )
    rewards = {r.tier: r for r in participant.rewards.select_related("coupon")}
    tiers = []
    for tier, goal, template in campaign.tiers():
        reward = rewards.get(tier)
        tiers.append(
            {
                "tier": tier,
                "goal": goal,
                "reward": template.name,
                "benefit": template.benefit,
                "reached": counts["valid"] >= goal,
                "status": reward.status if reward else "",
                "status_label": reward.get_status_display() if reward else "",
                "coupon_url": coupon_link(reward.coupon.token) if reward and reward.coupon else "",
            }
        )
    return {"valid": counts["valid"], "pending": counts["pending"], "goal": campaign.goal, "tiers": tiers}
