"""Celery tasks of referrals: the beat tick."""

from __future__ import annotations

import logging

from celery import shared_task

from referrals.counting import referrals_tick

logger = logging.getLogger(__name__)


@shared_task(name="referrals.tick", ignore_result=True)
def tick() -> None:
    """Beat: confirm friends past 24 hours, issue the rewards they complete, end campaigns on time."""
    result = referrals_tick()
    if result.confirmed or result.claimed or result.ended:
        logger.info("referrals tick: %s", result)
