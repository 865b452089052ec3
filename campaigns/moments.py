"""Moments results beyond visibility: likes and comments (朋友圈互动) per campaign.

``get_moment_comments`` answers, per sending member, who liked and who commented and when — not the
comment's text (docs/platforms.md#wecom-moments). The result task (``campaigns.dispatcher.track_tick``)
collects them for a Moments campaign while it sends and for ``INTERACTIONS_DAYS`` after it finished,
at most every ``INTERACTIONS_EVERY``, and stores the counts and rows on ``Campaign.moment_interactions``
(one UPDATE per campaign).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q
from django.db.models.fields.json import KT
from django.utils import timezone

from campaigns.models import BatchStatus, Campaign, CampaignKind, CampaignStatus
from channels import errors, outbound

log = logging.getLogger(__name__)

INTERACTIONS_DAYS = 7
# One get_moment_comments per sender per campaign at most this often (the result task runs every 2 min).
INTERACTIONS_EVERY = timedelta(minutes=10)


def _names(organization_id: int, external_ids: set[str]) -> dict[str, tuple[int, str]]:
    """``{external_userid: (customer id, name)}`` through the customers' WeCom identities."""
    if not external_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT ON (i.external_id) i.external_id, c.id, c.name
              FROM contacts_identity i JOIN contacts_customer c ON c.id = i.customer_id
             WHERE i.organization_id = %s AND i.platform = 'wecom' AND i.external_id = ANY(%s)
          ORDER BY i.external_id, i.id
            """,
            [organization_id, sorted(external_ids)],
        )
        return {ext: (pk, name) for ext, pk, name in cursor.fetchall()}


def moment_interactions_sync(*, campaign: Campaign, account_id: int) -> dict[str, Any] | None:
    """Fetch and store the campaign's likes and comments; ``None`` when the post has no ``moment_id`` yet."""
    if not campaign.moment_id:
        return None
    senders = sorted(
        set(
            campaign.batches.filter(status__in=[BatchStatus.CREATED, BatchStatus.DONE])
            .exclude(sender__wecom_userid="")
            .values_list("sender__wecom_userid", flat=True)
        )
    )
    rows: dict[str, list[dict[str, Any]]] = {"like_list": [], "comment_list": []}
    for userid in senders:
        got = outbound.moment_comments(account_id=account_id, moment_id=campaign.moment_id, userid=userid)
        for key in rows:
            rows[key] += [{**r, "sender": userid} for r in got.get(key) or []]
    names = _names(
        campaign.organization_id,
        {str(r["external_userid"]) for v in rows.values() for r in v if r.get("external_userid")},
    )
    for key in rows:
        for r in rows[key]:
            found = names.get(str(r.get("external_userid") or ""))
            if found:
                r["customer_id"], r["name"] = found
        rows[key].sort(key=lambda r: int(r.get("create_time") or 0), reverse=True)
    stats = {
        "likes": len(rows["like_list"]),
        "comments": len(rows["comment_list"]),
        **rows,
        "synced_at": timezone.now().astimezone(UTC).isoformat(),
    }
    Campaign.objects.filter(pk=campaign.pk).update(moment_interactions=stats)
    campaign.moment_interactions = stats
    return stats


def interactions_due(*, now: datetime | None = None) -> list[int]:
    """Moments campaigns whose likes and comments are still collected: sending, or done in the last days."""
    now = now or timezone.now()
    since = now - timedelta(days=INTERACTIONS_DAYS)
    # synced_at is an ISO-8601 UTC text, so text order is time order.
    fresh = (now - INTERACTIONS_EVERY).astimezone(UTC).isoformat()
    return list(
        Campaign.objects.filter(kind=CampaignKind.MOMENT)
        .exclude(moment_id="")
        .filter(Q(status=CampaignStatus.SENDING) | Q(status=CampaignStatus.DONE, finished_at__gte=since))
        .annotate(synced=KT("moment_interactions__synced_at"))
        .filter(Q(synced__isnull=True) | Q(synced__lt=fresh))
        .order_by("synced", "pk")
        .values_list("pk", flat=True)[:500]
    )


def interactions_tick(*, account_for: Any, now: datetime | None = None) -> int:
    """Collect interactions of every due campaign; one failing campaign does not stop the others."""
    done = 0
    for campaign in Campaign.objects.filter(pk__in=interactions_due(now=now)):
        account_id = account_for(campaign)
        if account_id is None:
            continue
        try:
            moment_interactions_sync(campaign=campaign, account_id=account_id)
            done += 1
        except errors.PlatformError as exc:
            log.warning("campaign %s: get_moment_comments failed (%s)", campaign.pk, exc.code)
        except errors.TransientError:
            log.warning("campaign %s: get_moment_comments transient failure", campaign.pk)
    return done
