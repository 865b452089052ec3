"""Celery tasks of channels: thin (ids in, one service call). Routed by name prefix (settings)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="channels.inbox.process", bind=True, ignore_result=True, max_retries=8)
def inbox_process_task(self: Any, event_id: int) -> None:
    from channels.inbox import Retry, inbox_process

    try:
        inbox_process(event_id=event_id)
    except Retry as exc:
        raise self.retry(countdown=exc.countdown) from None


@shared_task(name="channels.inbox.sweep", ignore_result=True)
def inbox_sweep_task() -> None:
    from channels.inbox import inbox_sweep

    inbox_sweep()


def _with_platform_retry(task: Any, call: Any) -> None:
    """Run one platform call; on a rate limit or a transient error retry the task with a backoff."""
    from channels.errors import RateLimited, TransientError

    try:
        call()
    except (RateLimited, TransientError) as exc:
        countdown = min(300.0, getattr(exc, "retry_after", 0) or 2.0 ** (task.request.retries + 1))
        raise task.retry(countdown=countdown) from None


@shared_task(name="channels.sync.tag_push", bind=True, ignore_result=True, max_retries=5)
def tag_push_task(self: Any, customer_id: int, added: list[int], removed: list[int]) -> None:
    from channels.wecom.handlers import tag_push

    _with_platform_retry(self, lambda: tag_push(customer_id=customer_id, added=added, removed=removed))


@shared_task(name="channels.sync.tag_delete_push", bind=True, ignore_result=True, max_retries=5)
def tag_delete_push_task(self: Any, organization_id: int, wecom_tag_id: str) -> None:
    from channels.wecom.handlers import tag_delete_push

    _with_platform_retry(self, lambda: tag_delete_push(organization_id=organization_id, wecom_tag_id=wecom_tag_id))


@shared_task(name="channels.sync.wecom_full", ignore_result=True)
def wecom_full_sync_task(account_id: int) -> None:
    from channels.models import ChannelAccount
    from channels.wecom.sync import full_sync

    account = ChannelAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        log.info("wecom sync: account %s gone or disabled", account_id)
        return
    full_sync(account=account)


@shared_task(name="channels.sync.wecom_all", ignore_result=True)
def wecom_sync_all_task() -> None:
    """Beat: one full sync per active WeCom account (each its own task)."""
    from channels.models import ChannelAccount, ChannelPlatform

    for account_id in ChannelAccount.objects.filter(platform=ChannelPlatform.WECOM, is_active=True).values_list(
        "id", flat=True
    ):
        wecom_full_sync_task.delay(account_id)
