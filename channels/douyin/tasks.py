"""Celery tasks of Douyin / Ocean Engine: the lead pull. The beat task fans out one task per active
account, so one slow or broken account never delays the others; the pull is idempotent (unique rows,
cursors), so a doubled tick changes nothing. Beat entries in ``scrm/schedule.py``."""

from __future__ import annotations

import logging

from celery import shared_task

from channels.douyin.services import ocean_engine_accounts, ocean_engine_leads_sync
from channels.models import ChannelAccount
from scrm.celery import enqueue

log = logging.getLogger(__name__)


@shared_task(name="channels.sync.douyin_leads", ignore_result=True)
def douyin_leads_task() -> None:
    for account_id in ocean_engine_accounts():
        enqueue("channels.sync.douyin_leads_account", account_id)


@shared_task(name="channels.sync.douyin_leads_account", ignore_result=True)
def douyin_leads_account_task(account_id: int) -> None:
    if not ChannelAccount.objects.filter(pk=account_id, is_active=True).exists():
        log.info("ocean engine account %s gone or disabled", account_id)
        return
    ocean_engine_leads_sync(account_id=account_id)
