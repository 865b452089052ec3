"""Celery task every lead source shares: retention of leads that never became customers."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from channels.leads.services import leads_retention_purge

log = logging.getLogger(__name__)


@shared_task(name="channels.leads.retention", ignore_result=True)
def leads_retention_task() -> None:
    purged = leads_retention_purge(older_than_days=settings.LEAD_RETENTION_DAYS)
    log.info("lead retention purged %s unconverted leads", purged)
