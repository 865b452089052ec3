"""Celery tasks every lead source shares: retention of leads that never became customers; the lead pool tick."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from channels.leads.pool import lead_pool_tick
from channels.leads.services import leads_retention_purge

log = logging.getLogger(__name__)


@shared_task(name="channels.leads.retention", ignore_result=True)
def leads_retention_task() -> None:
    purged = leads_retention_purge(older_than_days=settings.LEAD_RETENTION_DAYS)
    log.info("lead retention purged %s unconverted leads", purged)


@shared_task(name="channels.leads.pool_tick", ignore_result=True)
def lead_pool_tick_task() -> None:
    """The lead pool's beat: fill, return overdue assignments, assign within working hours."""
    counts = lead_pool_tick()
    log.info("lead pool tick: %s", counts)
