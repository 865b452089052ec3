"""The demo brand's campaigns: two finished broadcasts (one with a holdout, so the lift shows), a
scheduled one, one waiting for a manager's approval, a Moments post and a welcome template."""

from __future__ import annotations

import random
from datetime import time, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import (
    Batch,
    BatchStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    DeliveryStatus,
    LedgerState,
    QuotaLedger,
    QuotaPolicy,
)
from campaigns.planner import campaign_plan
from campaigns.quota import PLATFORM_TZ
from campaigns.results import campaign_results_compute
from campaigns.services import campaign_refresh_stats


def _finish(campaign: Campaign, rng: random.Random, sent_at: Any) -> None:
    """Pretend staff confirmed and WeCom delivered ~92% (set-based, like the tracker would)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE campaigns_delivery
               SET status = CASE WHEN (id %% 13) = 0 THEN %s ELSE %s END,
                   reason = CASE WHEN (id %% 13) = 0 THEN 'quota_elsewhere' ELSE '' END,
                   delivered_at = CASE WHEN (id %% 13) = 0 THEN NULL ELSE %s::timestamptz + (id %% 120) * interval '1 minute' END
             WHERE campaign_id = %s AND status = %s
            """,
            [DeliveryStatus.FAILED, DeliveryStatus.DELIVERED, sent_at, campaign.pk, DeliveryStatus.PLANNED],
        )
    for batch in Batch.objects.filter(campaign=campaign):
        batch.status = BatchStatus.DONE
        batch.msgid = f"demo-msg-{campaign.pk}-{batch.pk}"
        batch.task_created_at = sent_at
        batch.confirmed_at = sent_at + timedelta(minutes=rng.randint(5, 90))
        batch.results_synced_at = sent_at + timedelta(hours=3)
        batch.save()
    QuotaLedger.objects.filter(campaign=campaign).update(state=LedgerState.USED)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.DONE, finished_at=sent_at + timedelta(hours=3))


def load(*, context: dict[str, Any], rng: random.Random) -> None:
    org = context["organization"]
    staff = context.get("staff") or []
    creator = staff[0] if staff else None
    QuotaPolicy.objects.get_or_create(
        organization=org,
        channel_account=None,
        defaults={"brand_cap": 2, "quiet_start": time(21), "quiet_end": time(9), "approval_threshold": 2000},
    )
    now = timezone.now().astimezone(PLATFORM_TZ)
    ten = now.replace(hour=10, minute=0, second=0, microsecond=0)

    def make(**kw: Any) -> Campaign:
        return Campaign.objects.create(organization=org, created_by=creator, **kw)

    past = [
        make(
            name="双11 老客回购·会员日",
            kind=CampaignKind.BROADCAST_SINGLE,
            text="亲爱的会员，双11 会员日到店满 500 减 80，还有新品小样相送～回复 TD 退订",
            attachments=[{"msgtype": "link", "link": {"title": "会员日活动详情", "url": "https://example.com/1111"}}],
            holdout_percent=10,
            priority=5,
            status=CampaignStatus.SCHEDULED,
            due_at=ten - timedelta(days=9),
        ),
        make(
            name="新品上市·香氛系列",
            kind=CampaignKind.BROADCAST_SINGLE,
            text="新品香氛系列今日上市，欢迎到店试香，凭此消息领取试用装一份。",
            expression={"stores": [s.pk for s in (context.get("stores") or [])[:4]]},
            status=CampaignStatus.SCHEDULED,
            due_at=ten - timedelta(days=4),
        ),
    ]
    for c in past:
        campaign_plan(campaign_id=c.pk, now=c.due_at)
        _finish(c, rng, c.due_at)
    make(
        name="周末到店礼",
        kind=CampaignKind.BROADCAST_SINGLE,
        text="周末到店即可领取精美小礼品一份，数量有限，先到先得。",
        status=CampaignStatus.SCHEDULED,
        due_at=ten + timedelta(days=1),
        priority=1,
    )
    make(
        name="年终大促（待审批）",
        kind=CampaignKind.BROADCAST_SINGLE,
        text="年终大促全场 8 折，黑金会员再享 95 折。",
        status=CampaignStatus.PENDING_APPROVAL,
        due_at=ten + timedelta(days=3),
        stats={"audience": len(context.get("customers") or [])},
    )
    make(
        name="冬季护肤小课堂",
        kind=CampaignKind.MOMENT,
        text="冬季干燥，三步护肤小技巧分享给大家～",
        status=CampaignStatus.DRAFT,
    )
    make(
        name="默认欢迎语",
        kind=CampaignKind.WELCOME_TEMPLATE,
        text="你好，我是你的专属顾问，有任何护肤问题都可以问我哦～",
        status=CampaignStatus.SCHEDULED,
    )
    for c in past:
        try:
            with transaction.atomic():
                campaign_results_compute(campaign_id=c.pk)
        except Exception:  # noqa: S110 - analytics' demo orders may be missing; results recompute hourly
            pass
        campaign_refresh_stats(campaign=Campaign.objects.get(pk=c.pk))
