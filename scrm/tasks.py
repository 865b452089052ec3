"""Platform-level periodic tasks (found by Celery's autodiscovery of ``<app>.tasks``)."""

from __future__ import annotations

import logging

from celery import shared_task

from scrm.auth import login_records_purge

log = logging.getLogger(__name__)


@shared_task(name="scrm.auth.login_records_retention", ignore_result=True)
def login_records_retention_task() -> None:
    counts = login_records_purge()
    log.info("login record retention purged %s", counts)
