"""Personal data of 任务宝: a customer's participations and the adds they brought, and being someone's
new friend. Registered with contacts in ``ReferralsConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.db import connection

from channels.models import ContactWay
from referrals.models import ReferralFriend, ReferralParticipant


def customer_referrals_export(customer_id: int) -> list[dict[str, Any]]:
    participants = ReferralParticipant.objects.filter(customer_id=customer_id).select_related("campaign")
    rows: list[dict[str, Any]] = [
        {
            "role": "participant",
            "campaign": p.campaign.name,
            "enrolled_at": p.created_at.isoformat(),
            "source": p.source,
            "friends_valid": p.friends.filter(status="valid").count(),
            "rewards": [r.status for r in p.rewards.order_by("tier")],
        }
        for p in participants.order_by("id")
    ]
    rows.extend(
        {"role": "friend", "campaign": f.campaign.name, "added_at": f.added_at.isoformat(), "status": f.status}
        for f in ReferralFriend.objects.filter(friend_id=customer_id).select_related("campaign").order_by("id")
    )
    return rows


def customer_referrals_erase(customer_id: int) -> dict[str, int]:
    """The poster links die (new token), the participant's 活码 is retired from our pages (its WeCom
    side is deleted at the campaign's end), and the counts stay for the campaign's totals."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE referrals_referralparticipant SET token = replace(gen_random_uuid()::text, '-', ''), "
            "erased_at = now() WHERE customer_id = %s RETURNING contact_way_id",
            [customer_id],
        )
        rows = cursor.fetchall()
    ContactWay.objects.filter(pk__in=[r[0] for r in rows if r[0] is not None]).update(name="任务宝·已删除")
    return {"referral_participants": len(rows)}
