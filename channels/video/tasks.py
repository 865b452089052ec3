"""Celery tasks of Video Accounts: the live-room lead pull, one task per active account (beat in
``scrm/schedule.py``); the pull is idempotent (unique rows, cursors). 微信小店 orders arrive by push."""

from __future__ import annotations

from celery import shared_task

from channels.models import ChannelAccount
from channels.video.services import video_accounts, video_live_leads_sync
from scrm.celery import enqueue


@shared_task(name="channels.sync.video_leads", ignore_result=True)
def video_leads_task() -> None:
    for account_id in video_accounts():
        enqueue("channels.sync.video_leads_account", account_id)


@shared_task(name="channels.sync.video_leads_account", ignore_result=True)
def video_leads_account_task(account_id: int) -> None:
    if not ChannelAccount.objects.filter(pk=account_id, is_active=True).exists():
        return
    video_live_leads_sync(account_id=account_id)
