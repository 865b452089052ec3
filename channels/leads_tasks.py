"""Celery tasks of the lead sources: thin (ids in, one service call), routed by name prefix
(``channels.sync.*`` → the sync queue). Beat entries are in ``scrm/schedule.py``.

Each beat task fans out one task per active account, so one slow or broken account never delays
the others; every service is idempotent (unique rows / cursors), so a doubled tick changes nothing.
"""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="channels.sync.douyin_leads", ignore_result=True)
def douyin_leads_task() -> None:
    from channels.douyin.services import ocean_engine_accounts

    for account_id in ocean_engine_accounts():
        douyin_leads_account_task.delay(account_id)


@shared_task(name="channels.sync.douyin_leads_account", ignore_result=True)
def douyin_leads_account_task(account_id: int) -> None:
    from channels.douyin.services import ocean_engine_leads_sync
    from channels.models import ChannelAccount

    if not ChannelAccount.objects.filter(pk=account_id, is_active=True).exists():
        log.info("ocean engine account %s gone or disabled", account_id)
        return
    ocean_engine_leads_sync(account_id=account_id)


@shared_task(name="channels.sync.meituan_redemptions", ignore_result=True)
def meituan_redemptions_task() -> None:
    from channels.meituan.services import meituan_accounts

    for account_id in meituan_accounts():
        meituan_redemptions_account_task.delay(account_id)


@shared_task(name="channels.sync.meituan_redemptions_account", ignore_result=True)
def meituan_redemptions_account_task(account_id: int) -> None:
    from channels.meituan.services import meituan_redemptions_sync
    from channels.models import ChannelAccount

    if not ChannelAccount.objects.filter(pk=account_id, is_active=True).exists():
        return
    meituan_redemptions_sync(account_id=account_id)


@shared_task(name="channels.sync.video_leads", ignore_result=True)
def video_leads_task() -> None:
    from channels.video.services import video_accounts

    for account_id in video_accounts():
        video_leads_account_task.delay(account_id)


@shared_task(name="channels.sync.video_leads_account", ignore_result=True)
def video_leads_account_task(account_id: int) -> None:
    from channels.models import ChannelAccount
    from channels.video.services import video_live_leads_sync

    if not ChannelAccount.objects.filter(pk=account_id, is_active=True).exists():
        return
    video_live_leads_sync(account_id=account_id)


@shared_task(name="channels.sync.wecom_behavior", ignore_result=True)
def wecom_behavior_task(day: str | None = None) -> None:
    from channels.behavior import wecom_accounts

    for account_id in wecom_accounts():
        wecom_behavior_account_task.delay(account_id, day)


@shared_task(name="channels.sync.wecom_behavior_account", ignore_result=True)
def wecom_behavior_account_task(account_id: int, day: str | None = None) -> None:
    from channels.behavior import wecom_behavior_sync

    wecom_behavior_sync(account_id=account_id, day=date.fromisoformat(day) if day else None)


@shared_task(name="channels.leads.retention", ignore_result=True)
def leads_retention_task() -> None:
    from django.conf import settings

    from channels.leads_services import leads_retention_purge

    purged = leads_retention_purge(older_than_days=int(getattr(settings, "LEAD_RETENTION_DAYS", 180)))
    log.info("lead retention purged %s unconverted leads", purged)
