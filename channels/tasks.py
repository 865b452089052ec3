"""Celery tasks every platform shares (the inbox), and the retry rule for platform calls.

Tasks are thin (ids in, one service call) and routed by name prefix (settings). Each platform's own
tasks live in ``channels/<platform>/tasks.py``; services enqueue them by name (``scrm.celery.enqueue``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task

from channels.errors import RateLimited, TransientError
from channels.inbox import Retry, inbox_process, inbox_sweep

log = logging.getLogger(__name__)


@shared_task(name="channels.inbox.process", bind=True, ignore_result=True, max_retries=8)
def inbox_process_task(self: Any, event_id: int) -> None:
    try:
        inbox_process(event_id=event_id)
    except Retry as exc:
        raise self.retry(countdown=exc.countdown) from None


@shared_task(name="channels.inbox.sweep", ignore_result=True)
def inbox_sweep_task() -> None:
    inbox_sweep()


def with_platform_retry(task: Any, call: Callable[[], object]) -> None:
    """Run one platform call; on a rate limit or a transient error retry the task with a backoff."""
    try:
        call()
    except (RateLimited, TransientError) as exc:
        countdown = min(300.0, getattr(exc, "retry_after", 0) or 2.0 ** (task.request.retries + 1))
        raise task.retry(countdown=countdown) from None
