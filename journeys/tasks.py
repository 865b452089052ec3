"""Celery tasks of journeys: the beat tick."""

from __future__ import annotations

import logging

from celery import shared_task

from journeys import group_sop
from journeys.engine import journeys_tick

logger = logging.getLogger(__name__)


@shared_task(name="journeys.tick", ignore_result=True)
def tick() -> None:
    """Beat: enrol by the scheduled triggers, apply exits and goals, run every due step once."""
    result = journeys_tick()
    if result.runs or result.enrolled or result.exited:
        logger.info(
            "journeys tick: %s entered, %s left, %s steps run in %s rounds",
            result.enrolled,
            result.exited,
            result.runs,
            result.rounds,
        )


@shared_task(name="journeys.group_sop_tick", ignore_result=True)
def group_sop_tick() -> None:
    """Beat: deliver every group SOP step due today by now, once per (step, group, Beijing day)."""
    result = group_sop.group_sop_tick()
    if result.claimed:
        logger.info("group sop tick: %s group posts claimed: %s", result.claimed, result.outcomes)
