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


@shared_task(name="channels.sync.tag_push", bind=True, ignore_result=True, max_retries=5)
def tag_push_task(self: Any, customer_id: int, added: list[int], removed: list[int]) -> None:
    from channels.errors import RateLimited, TransientError
    from channels.wecom.handlers import tag_push

    try:
        tag_push(customer_id=customer_id, added=added, removed=removed)
    except (RateLimited, TransientError) as exc:
        countdown = min(300.0, getattr(exc, "retry_after", 0) or 2.0 ** (self.request.retries + 1))
        raise self.retry(countdown=countdown) from None

