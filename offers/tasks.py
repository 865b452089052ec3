"""Celery tasks of offers: thin (ids in, one call), routed by name prefix."""

from __future__ import annotations

from celery import shared_task

from offers import issue_jobs


@shared_task(name="offers.issue_job.run", ignore_result=True)
def issue_job_run_task(job_id: int) -> None:
    """Issue a template to a segment, batch by batch; a duplicate message finds the job claimed."""
    issue_jobs.coupon_issue_job_run(job_id=job_id)


@shared_task(name="offers.issue_jobs.sweep", ignore_result=True)
def issue_jobs_sweep_task() -> None:
    """Beat: re-enqueue segment issue jobs whose message was lost or whose worker died mid-batch."""
    for job_id in issue_jobs.issue_jobs_stalled():
        issue_job_run_task.delay(job_id)
