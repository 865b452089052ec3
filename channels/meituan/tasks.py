"""Celery tasks of Meituan: the redemption history poll, one task per active account (beat in
``scrm/schedule.py``); the poll is idempotent (one redemption per voucher)."""

from __future__ import annotations

from celery import shared_task

from channels.meituan.services import meituan_accounts, meituan_redemptions_sync
from channels.models import ChannelAccount
from scrm.celery import enqueue


@shared_task(name="channels.sync.meituan_redemptions", ignore_result=True)
def meituan_redemptions_task() -> None:
    for account_id in meituan_accounts():
        enqueue("channels.sync.meituan_redemptions_account", account_id)


@shared_task(name="channels.sync.meituan_redemptions_account", ignore_result=True)
def meituan_redemptions_account_task(account_id: int) -> None:
    if not ChannelAccount.objects.filter(pk=account_id, is_active=True).exists():
        return
    meituan_redemptions_sync(account_id=account_id)
