"""Issuing a coupon template to a saved segment in the background (分群发券), with progress.

1. ``coupon_issue_job_start`` validates, counts the segment, writes the ``CouponIssueJob`` row, audits
   it and enqueues ``offers.issue_job.run`` once the transaction commits.
2. ``coupon_issue_job_run`` claims the job (a conditional UPDATE: pending, or running with a stopped
   heartbeat) and works through the segment in customer-id order, ``BATCH`` customers at a time. A
   batch is one transaction: the next ids after ``cursor`` that this job has not reached yet, one
   ``offers.services._issue`` (per-customer limits and stock held by the counter rows, the coupons one
   ``INSERT … SELECT``), and the job's counters and ``cursor`` moved in the same commit. A worker that
   dies mid-batch leaves nothing of that batch behind; the sweep (beat ``offers.issue_jobs.sweep``)
   hands the job to another worker, which starts after the last committed batch — and the
   ``issue_job`` column on each coupon keeps a customer this job already reached out of every later
   batch, so nobody is issued twice.
3. Stock shorter than the segment: a batch is never larger than what is left in stock, so the job
   issues exactly the remaining stock and ends ``stock_out`` with the count of customers left out.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import AuditAction, Segment, Staff
from contacts.segments import compile_sql
from contacts.services.audit import audit_record
from offers import services
from offers.models import CouponIssueJob, CouponSource, CouponTemplate, IssueJobStatus
from scrm.celery import enqueue_on_commit

log = logging.getLogger(__name__)

BATCH = 1000
STALE_RUNNING = dt.timedelta(minutes=5)
LOST_MESSAGE = dt.timedelta(minutes=2)
Clock = Callable[[], dt.datetime]


def _segment_sql(job_or_org: int, segment: Segment, store_ids: frozenset[int] | None) -> tuple[str, list[Any]]:
    """The segment's live customers (not erased), column ``id``."""
    sql, params = compile_sql(organization_id=job_or_org, expression=segment.expression, store_ids=store_ids)
    sql = f"SELECT s.id FROM ({sql}) s JOIN contacts_customer cu ON cu.id = s.id WHERE cu.erased_at IS NULL"
    return sql, list(params)


def _store_ids(job: CouponIssueJob) -> frozenset[int] | None:
    return None if job.store_ids is None else frozenset(job.store_ids)


@transaction.atomic
def coupon_issue_job_start(
    *, template: CouponTemplate, segment: Segment, store_ids: frozenset[int] | None, by: Staff | None
) -> CouponIssueJob:
    """Start issuing ``template`` to ``segment`` (within the issuer's stores) in the background."""
    if segment.organization_id != template.organization_id:
        raise services.CouponError(_("所选分群不存在或无权使用"), field="segment_id")
    if not template.is_active:
        raise services.CouponError(_("该优惠券已停用，请先在券模板中启用"), field="template")
    _valid_from, valid_until = services.validity_window(template, timezone.now())
    if valid_until <= timezone.now():
        raise services.CouponError(_("该券已过失效时间，无法再发放；请修改券模板的有效期"), field="template")
    running = CouponIssueJob.objects.filter(
        template=template, segment=segment, status__in=[IssueJobStatus.PENDING, IssueJobStatus.RUNNING]
    )
    if running.exists():
        raise services.CouponError(_("这张券发给该分群的任务还在进行中，请等它完成"), field="segment_id")
    sql, params = _segment_sql(template.organization_id, segment, store_ids)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(DISTINCT id) FROM ({sql}) t", params)
        total = int(cursor.fetchone()[0])
    job = CouponIssueJob.objects.create(
        organization_id=template.organization_id,
        template=template,
        segment=segment,
        store_ids=None if store_ids is None else sorted(store_ids),
        total=total,
        created_by=by,
    )
    audit_record(
        organization_id=template.organization_id,
        action=AuditAction.COUPON_SEGMENT_ISSUE,
        target_type="coupon_issue_job",
        target_id=job.pk,
        actor_staff_id=by.pk if by else None,
        details={"template_id": template.pk, "segment_id": segment.pk, "total": total},
    )
    enqueue_on_commit("offers.issue_job.run", job.pk)
    return job


def _claim(job_id: int, now: dt.datetime) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE offers_couponissuejob SET status = 'running', started_at = COALESCE(started_at, %s),
                   heartbeat_at = %s
             WHERE id = %s AND (status = 'pending' OR (status = 'running' AND heartbeat_at < %s))
            RETURNING id
            """,
            [now, now, job_id, now - STALE_RUNNING],
        )
        return cursor.fetchone() is not None


def _finish(job: CouponIssueJob, *, status: str, message: str, now: dt.datetime) -> None:
    CouponIssueJob.objects.filter(pk=job.pk).update(status=status, message=message[:300], finished_at=now)


def _next_batch(job: CouponIssueJob, segment: Segment, limit: int) -> list[int]:
    sql, params = _segment_sql(job.organization_id, segment, _store_ids(job))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT DISTINCT t.id FROM ({sql}) t
             WHERE t.id > %s
               AND NOT EXISTS (SELECT 1 FROM offers_issuedcoupon ic
                                WHERE ic.issue_job_id = %s AND ic.customer_id = t.id)
             ORDER BY t.id LIMIT %s
            """,
            [*params, job.cursor, job.pk, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _save_progress(job: CouponIssueJob, *, ids: list[int], issued: int, now: dt.datetime) -> None:
    """The batch's counters and cursor, in the batch's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE offers_couponissuejob
               SET processed = processed + %s, issued = issued + %s, cursor = %s, heartbeat_at = %s,
                   total = GREATEST(total, processed + %s)
             WHERE id = %s
            """,
            [len(ids), issued, max(ids), now, len(ids), job.pk],
        )


def _run_batch(job_id: int, *, batch_size: int, now: dt.datetime) -> bool:
    """One batch in one transaction; whether the job goes on."""
    with transaction.atomic():
        job = (
            CouponIssueJob.objects.select_for_update(of=("self",))
            .select_related("segment", "created_by")
            .get(pk=job_id)
        )
        if job.status != IssueJobStatus.RUNNING:
            return False
        template = CouponTemplate.objects.get(pk=job.template_id)
        if job.segment is None:
            _finish(job, status=IssueJobStatus.FAILED, message=_("分群已被删除，发放已停止"), now=now)
            return False
        left = template.stock - template.issued
        ids = _next_batch(job, job.segment, max(1, min(batch_size, left)))
        if not ids:
            _finish(
                job,
                status=IssueJobStatus.DONE,
                message=_("已发放 %(n)s 张") % {"n": job.issued},
                now=now,
            )
            return False
        if left <= 0:
            remaining = max(0, job.total - job.processed)
            _finish(
                job,
                status=IssueJobStatus.STOCK_OUT,
                message=_("库存已发完：已发放 %(n)s 张，约 %(left)s 位客户未发到；增加总库存后可再次发给该分群")
                % {"n": job.issued, "left": remaining},
                now=now,
            )
            return False
        try:
            with transaction.atomic():
                result = services._issue(
                    template=template,
                    targets_sql="SELECT unnest(%s::bigint[]) AS id",
                    targets_params=[ids],
                    source=CouponSource.SEGMENT,
                    issued_by=job.created_by,
                    segment=job.segment,
                    issue_job_id=job.pk,
                )
        except services.CouponStockError:
            return True  # a concurrent issue took stock meanwhile: read what is left and go again
        except services.CouponError as exc:
            _finish(job, status=IssueJobStatus.FAILED, message=str(exc), now=now)
            return False
        _save_progress(job, ids=ids, issued=result.issued, now=now)
    return True


def coupon_issue_job_run(*, job_id: int, batch_size: int = BATCH, clock: Clock = timezone.now) -> bool:
    """Run a job to its end; returns whether this call did the work (False: claimed elsewhere or done)."""
    if not _claim(job_id, clock()):
        log.info("coupon issue job %s is not pending or stalled; nothing to do", job_id)
        return False
    while _run_batch(job_id, batch_size=batch_size, now=clock()):
        pass
    return True


def issue_jobs_stalled(*, clock: Clock = timezone.now) -> list[int]:
    """Jobs to (re-)enqueue: pending for a while (lost message) or running without a heartbeat."""
    now = clock()
    pending = CouponIssueJob.objects.filter(status=IssueJobStatus.PENDING, created_at__lt=now - LOST_MESSAGE)
    running = CouponIssueJob.objects.filter(status=IssueJobStatus.RUNNING, heartbeat_at__lt=now - STALE_RUNNING)
    return sorted(set(pending.values_list("pk", flat=True)) | set(running.values_list("pk", flat=True)))
