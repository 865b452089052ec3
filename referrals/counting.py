"""Who counts, and the reward: the fraud guards of 任务宝.

A WeCom add through a participant's 活码 (its ``state`` names them) counts iff

1. the campaign is running and the add falls inside its window;
2. the friend is new to the brand: the customer was not in the base before the add (created at most
   :data:`NEW_GRACE` before WeCom's add time, a margin for clock skew) and was no other member's friend
   before (any follow, active or ended, added earlier);
3. the friend is not the participant; and
4. the friend has never counted for anyone (``referralfriend_once_per_friend``: across campaigns).

A counted friend is *pending* for 24 hours and then *valid*, unless they deleted the member within
those 24 hours (*churned*). Only valid friends count toward the goal, so the 24-hour rule is applied
before the reward and a reward, once issued, is kept (a brand does not claw back a coupon the customer
has seen; a friend who leaves after 24 hours does not undo it). The tick (every 5 minutes) confirms
pending friends in one UPDATE, claims rewards with ``INSERT … ON CONFLICT DO NOTHING`` and issues each
claimed coupon once, then the serving member gets a to-do with the coupon link and an app message.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.app_messages import AppMessageError, app_message_send
from channels.models import ContactWay
from channels.registry import ContactAdded, ContactRemoved
from contacts.models import Customer, Follow, Staff
from offers.models import CouponSource
from offers.services import CouponError, coupon_issue, coupon_link
from referrals.models import (
    FriendStatus,
    ReferralCampaign,
    ReferralFriend,
    ReferralParticipant,
    ReferralReward,
    ReferralStatus,
    RewardStatus,
)
from referrals.services import referral_campaign_end, referral_codes_retire
from todos.models import TodoKind
from todos.services import TodoSpec, todos_create

log = logging.getLogger(__name__)

CONFIRM_AFTER = dt.timedelta(hours=24)
NEW_GRACE = dt.timedelta(minutes=2)
REWARD_TODO_DUE = dt.timedelta(days=1)
MAX_ATTEMPTS = 5


def _participant_for(event: ContactAdded) -> ReferralParticipant | None:
    if not event.state.startswith("rf"):
        return None
    way = ContactWay.objects.filter(account_id=event.account_id, state=event.state).first()
    if way is None:
        return None
    return (
        ReferralParticipant.objects.filter(contact_way=way, organization_id=event.organization_id)
        .select_related("campaign")
        .first()
    )


def friend_refusal(*, participant: ReferralParticipant, customer: Customer, follow: Follow) -> str:
    """Why this add does not count ("" when it does)."""
    campaign = participant.campaign
    if campaign.status != ReferralStatus.RUNNING or not campaign.starts_at <= follow.added_at < campaign.ends_at:
        return "campaign not running"
    if customer.pk == participant.customer_id:
        return "the participant themself"
    if customer.created_at < follow.added_at - NEW_GRACE:
        return "existing customer"
    if Follow.objects.filter(customer=customer, added_at__lt=follow.added_at).exclude(pk=follow.pk).exists():
        return "already a friend of a member"
    return ""


def on_contact_added(event: ContactAdded) -> None:
    """channels listener (after commit of the add): record the friend if they count."""
    participant = _participant_for(event)
    if participant is None or event.staff_id is None:
        return
    follow = Follow.objects.filter(customer_id=event.customer_id, staff_id=event.staff_id).first()
    customer = Customer.objects.filter(pk=event.customer_id).first()
    if follow is None or customer is None:
        return
    refusal = friend_refusal(participant=participant, customer=customer, follow=follow)
    if refusal:
        log.info("referral: add of customer %s via %s not counted: %s", customer.pk, event.state, refusal)
        return
    staff = Staff.objects.filter(pk=event.staff_id).only("store_id").first()
    with transaction.atomic():
        # once per friend across campaigns (referralfriend_once_per_friend): a repeat is a no-op
        ReferralFriend.objects.bulk_create(
            [
                ReferralFriend(
                    organization_id=participant.organization_id,
                    campaign_id=participant.campaign_id,
                    participant=participant,
                    friend=customer,
                    staff_id=event.staff_id,
                    store_id=participant.campaign.store_id or (staff.store_id if staff else None),
                    added_at=follow.added_at,
                )
            ],
            ignore_conflicts=True,
        )


def on_contact_removed(event: ContactRemoved) -> None:
    """channels listener (after commit of the deletion): a pending friend who left within 24 h is churned."""
    ReferralFriend.objects.filter(
        friend_id=event.customer_id, staff_id=event.staff_id, status=FriendStatus.PENDING, removed_at__isnull=True
    ).update(removed_at=event.at)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE referrals_referralfriend SET status = 'churned' "
            "WHERE friend_id = %s AND staff_id = %s AND status = 'pending' "
            "AND removed_at < added_at + interval '24 hours'",
            [event.customer_id, event.staff_id],
        )


# -- the tick ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TickResult:
    confirmed: int = 0
    churned: int = 0
    claimed: int = 0
    issued: int = 0
    ended: int = 0


def _confirm(now: dt.datetime) -> tuple[int, int]:
    """Pending friends whose 24 hours have passed: churned if the follow ended within them (whether or
    not the deletion callback reached the listener), else valid. Two set-based UPDATEs."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE referrals_referralfriend rf SET status = 'churned', confirmed_at = %s,
                   removed_at = COALESCE(rf.removed_at, f.deleted_at)
              FROM contacts_follow f
             WHERE rf.status = 'pending' AND rf.added_at <= %s
               AND f.customer_id = rf.friend_id AND f.staff_id = rf.staff_id
               AND (rf.removed_at < rf.added_at + interval '24 hours'
                    OR (f.deleted_at IS NOT NULL AND f.deleted_at < rf.added_at + interval '24 hours'))
            """,
            [now, now - CONFIRM_AFTER],
        )
        churned = cursor.rowcount
        cursor.execute(
            "UPDATE referrals_referralfriend SET status = 'valid', confirmed_at = %s "
            "WHERE status = 'pending' AND added_at <= %s",
            [now, now - CONFIRM_AFTER],
        )
        return cursor.rowcount, churned


def _claim(now: dt.datetime) -> int:
    """A reward row for every tier a participant reached, once (referralreward_once_per_tier)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH progress AS (
                SELECT p.id AS participant_id, p.organization_id, c.goal, c.reward_id, c.goal2, c.reward2_id,
                       count(*) AS valid
                  FROM referrals_referralparticipant p
                  JOIN referrals_referralcampaign c ON c.id = p.campaign_id
                  JOIN referrals_referralfriend rf ON rf.participant_id = p.id AND rf.status = 'valid'
                 WHERE p.erased_at IS NULL AND c.status <> 'draft'
              GROUP BY p.id, p.organization_id, c.goal, c.reward_id, c.goal2, c.reward2_id
            ), tiers AS (
                SELECT participant_id, organization_id, 1 AS tier, reward_id AS template_id
                  FROM progress WHERE valid >= goal
                UNION ALL
                SELECT participant_id, organization_id, 2, reward2_id
                  FROM progress WHERE goal2 IS NOT NULL AND valid >= goal2
            )
            INSERT INTO referrals_referralreward
                   (organization_id, participant_id, tier, template_id, token, status, error, attempts, created_at)
            SELECT organization_id, participant_id, tier, template_id, replace(gen_random_uuid()::text, '-', ''),
                   'pending', '', 0, %s
              FROM tiers ORDER BY participant_id, tier
            ON CONFLICT (participant_id, tier) DO NOTHING
            """,
            [now],
        )
        return int(cursor.rowcount)


def _issue_one(reward_id: int, now: dt.datetime) -> bool:
    """Issue one claimed reward's coupon, exactly once (the row is locked; its token is the coupon's)."""
    with transaction.atomic():
        reward = (
            ReferralReward.objects.select_for_update(skip_locked=True)
            .filter(pk=reward_id, coupon__isnull=True, status__in=[RewardStatus.PENDING, RewardStatus.FAILED])
            .select_related("participant__customer", "participant__campaign", "template")
            .first()
        )
        if reward is None:
            return False
        participant = reward.participant
        campaign = participant.campaign
        try:
            with transaction.atomic():
                coupon = coupon_issue(
                    template=reward.template,
                    customer=participant.customer,
                    source=CouponSource.REFERRAL,
                    token=reward.token,
                )
        except CouponError as exc:
            ReferralReward.objects.filter(pk=reward.pk).update(
                status=RewardStatus.FAILED, error=str(exc)[:300], attempts=reward.attempts + 1
            )
            log.warning("referral reward %s not issued: %s", reward.pk, exc)
            return False
        ReferralReward.objects.filter(pk=reward.pk).update(
            coupon=coupon, status=RewardStatus.ISSUED, issued_at=now, error="", attempts=reward.attempts + 1
        )
        staff_id = participant.serving_staff_id
        if staff_id is None:
            return True
        link = coupon_link(coupon.token)
        text = _("恭喜！你在「%(campaign)s」邀请的新好友已满 %(n)s 位，送你一张%(coupon)s：%(link)s") % {
            "campaign": campaign.name,
            "n": campaign.goal if reward.tier == 1 else campaign.goal2,
            "coupon": reward.template.name,
            "link": link,
        }
        todos_create(
            organization_id=campaign.organization_id,
            specs=[
                TodoSpec(
                    assignee_id=staff_id,
                    kind=TodoKind.REFERRAL_REWARD,
                    title=_("任务宝奖励待发送：%(name)s") % {"name": campaign.name},
                    body=text,
                    due_at=now + REWARD_TODO_DUE,
                    source_key=f"referral-reward:{reward.pk}",
                    customer_id=participant.customer_id,
                    payload={"referral_reward_id": reward.pk, "coupon_link": link},
                )
            ],
        )
        try:
            app_message_send(
                organization_id=campaign.organization_id,
                staff_ids=[staff_id],
                title=_("任务宝奖励"),
                text=_("客户「%(customer)s」完成了任务宝「%(campaign)s」，奖励券已发放，请在侧边栏「待办」中发给客户。")
                % {"customer": participant.customer.name or _("未命名客户"), "campaign": campaign.name},
                source_key=f"referral-reward:{reward.pk}",
                customer_id=participant.customer_id,
            )
        except AppMessageError:
            log.warning("referral reward %s: no app message for staff %s", reward.pk, staff_id)
        return True


def referrals_tick(*, now: dt.datetime | None = None) -> TickResult:
    """Confirm friends, claim and issue rewards, end campaigns whose time is up. Safe to run twice."""
    now = now or timezone.now()
    with transaction.atomic():
        confirmed, churned = _confirm(now)
        claimed = _claim(now)
    pending = ReferralReward.objects.filter(
        coupon__isnull=True, status__in=[RewardStatus.PENDING, RewardStatus.FAILED], attempts__lt=MAX_ATTEMPTS
    ).order_by("id")
    issued = sum(_issue_one(pk, now) for pk in pending.values_list("pk", flat=True)[:500])
    ended = 0
    for campaign in ReferralCampaign.objects.filter(status=ReferralStatus.RUNNING, ends_at__lte=now):
        referral_campaign_end(campaign=campaign, now=now)
        ended += 1
    # codes an earlier end could not delete (WeCom unreachable then)
    for campaign_id in (
        ContactWay.objects.filter(
            referral_participant__campaign__status=ReferralStatus.ENDED, is_active=True, config_id__gt=""
        )
        .values_list("referral_participant__campaign_id", flat=True)
        .distinct()[:20]
    ):
        referral_codes_retire(campaign_id=campaign_id)
    return TickResult(confirmed=confirmed, churned=churned, claimed=claimed, issued=issued, ended=ended)
