"""The writes a customer import makes: its ``ImportJob`` row (claim, progress, outcome) and a row's lifecycle.

``contacts.imports`` parses the file and decides; these functions are the only places it writes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from contacts.models import Customer, ImportJob, ImportStatus, Lifecycle, Organization, Staff

# A running job whose heartbeat is older than this lost its worker: another run may take it over.
STALE_RUNNING = timedelta(minutes=10)


def import_job_create(
    *, organization: Organization, by: Staff | None, filename: str, content: bytes, to_lead_pool: bool = False
) -> ImportJob:
    return ImportJob.objects.create(
        organization=organization, created_by=by, filename=filename[:200], content=content, to_lead_pool=to_lead_pool
    )


def import_job_claim(*, job_id: int) -> bool:
    """pending → running, or take over a running job whose worker stopped beating (conditional UPDATE)."""
    now = timezone.now()
    claimable = Q(status=ImportStatus.PENDING) | Q(status=ImportStatus.RUNNING, heartbeat_at__lt=now - STALE_RUNNING)
    claimed = ImportJob.objects.filter(claimable, pk=job_id).update(status=ImportStatus.RUNNING, heartbeat_at=now)
    if claimed:
        ImportJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    return bool(claimed)


def import_job_fail(*, job_id: int, message: str) -> None:
    """The file cannot be read at all: the job ends failed with the reason (and the file is dropped)."""
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportStatus.FAILED, message=message[:300], finished_at=timezone.now(), content=b""
    )


def import_job_begin(*, job_id: int, total: int, message: str) -> None:
    """The file was parsed for the first time: its row count and what was ignored."""
    ImportJob.objects.filter(pk=job_id).update(total_rows=total, message=message[:300])


def import_job_progress_save(
    *, job_id: int, total: int, processed: int, created: int, updated: int, errors: list[dict[str, Any]]
) -> None:
    """Counters and rejected rows so far; also the heartbeat that keeps the job ours."""
    ImportJob.objects.filter(pk=job_id).update(
        total_rows=total,
        processed_rows=processed,
        created_count=created,
        updated_count=updated,
        rejected_count=len(errors),
        errors=errors,
        heartbeat_at=timezone.now(),
    )


def import_job_release(*, job_id: int, finished: bool) -> None:
    """End of a run: done when every row was read, else pending again for the next chunk.

    A finished job keeps its counters and rejected rows (line and reason, no cell values that identify
    a person) but not the uploaded file: the file is a copy of people's phone numbers and names that
    nothing reads again, so it goes (PIPL: keep personal data no longer than needed; erasure).
    """
    if finished:
        ImportJob.objects.filter(pk=job_id).update(status=ImportStatus.DONE, finished_at=timezone.now(), content=b"")
    else:
        ImportJob.objects.filter(pk=job_id).update(status=ImportStatus.PENDING)


def customer_lifecycle_set(*, customer: Customer, lifecycle: Lifecycle | str) -> None:
    """The lifecycle stage an import row states (no timeline entry: the import is the record)."""
    if customer.lifecycle != lifecycle:
        Customer.objects.filter(pk=customer.pk).update(lifecycle=lifecycle)
