"""Celery tasks of the contacts app: thin (ids in, one service call), routed by name prefix."""

from __future__ import annotations

from celery import shared_task

from contacts import imports


@shared_task(name="contacts.imports.run", ignore_result=True)
def import_run_task(job_id: int) -> None:
    """Run an import job; a redelivered or duplicate message finds the job claimed and does nothing."""
    imports.import_run(job_id=job_id)
