"""Issuing a template to a segment in the background (分群发券): batches, stock, crash and resume, the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from contacts.models import AuditEntry, Customer, Segment
from offers import issue_jobs, services
from offers.models import CouponIssueJob, CouponTemplate, IssuedCoupon, IssueJobStatus
from tests.factories import CustomerFactory
from tests.offers.helpers import template

pytestmark = pytest.mark.django_db


def _customers(world: Any, n: int, store: Any = None) -> list[Any]:
    return [CustomerFactory(organization=world.org, home_store=store or world.store_a) for _ in range(n)]


def _segment(world: Any) -> Segment:
    return Segment.objects.create(organization=world.org, name="全部客户", expression={})


def _start(world: Any, t: CouponTemplate, segment: Segment, store_ids: Any = None) -> CouponIssueJob:
    return issue_jobs.coupon_issue_job_start(template=t, segment=segment, store_ids=store_ids, by=world.operator)


def test_the_job_issues_exactly_the_eligible_set_in_batches_and_is_audited(world):
    people = _customers(world, 7)
    erased = people.pop()
    Customer.objects.filter(pk=erased.pk).update(erased_at=timezone.now())
    CustomerFactory(organization=world.other_org)
    other_store = _customers(world, 1, world.store_b)[0]
    t = template(world.org, stock=100)
    at_limit = people[0]
    services.coupon_issue(template=t, customer=at_limit)
    job = _start(world, t, _segment(world), frozenset({world.store_a.pk}))
    assert job.total == 6 and job.status == IssueJobStatus.PENDING
    assert issue_jobs.coupon_issue_job_run(job_id=job.pk, batch_size=2) is True
    job.refresh_from_db()
    assert (job.status, job.processed, job.issued, job.at_limit) == (IssueJobStatus.DONE, 6, 5, 1)
    reached = set(IssuedCoupon.objects.filter(issue_job=job).values_list("customer_id", flat=True))
    assert reached == {c.pk for c in people[1:]}
    assert not IssuedCoupon.objects.filter(customer__in=[erased, other_store]).exists()
    assert IssuedCoupon.objects.filter(customer=at_limit).count() == 1
    assert CouponTemplate.objects.get(pk=t.pk).issued == 6
    entry = AuditEntry.objects.get(action="coupon_segment_issue")
    assert entry.target_id == str(job.pk) and entry.actor_staff_id == world.operator.pk
    # A finished job run again (a duplicate message) does nothing.
    assert issue_jobs.coupon_issue_job_run(job_id=job.pk) is False
    assert IssuedCoupon.objects.filter(template=t).count() == 6


def test_stock_shorter_than_the_segment_issues_the_stock_and_stops(world):
    _customers(world, 7)
    t = template(world.org, stock=4)
    job = _start(world, t, _segment(world))
    issue_jobs.coupon_issue_job_run(job_id=job.pk, batch_size=3)
    job.refresh_from_db()
    assert job.status == IssueJobStatus.STOCK_OUT and job.issued == 4
    assert "库存已发完" in job.message
    assert IssuedCoupon.objects.filter(template=t).count() == 4
    t.refresh_from_db()
    assert t.issued == t.stock == 4


def test_a_rerun_after_a_crash_mid_batch_resumes_and_issues_nobody_twice(world, monkeypatch):
    people = _customers(world, 7)
    t = template(world.org, stock=100)
    job = _start(world, t, _segment(world))
    real_save = issue_jobs._save_progress
    calls = {"n": 0}

    def crash_on_second_batch(job: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")  # after the batch's INSERT, before its commit
        real_save(job, **kw)

    monkeypatch.setattr(issue_jobs, "_save_progress", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        issue_jobs.coupon_issue_job_run(job_id=job.pk, batch_size=3)
    job.refresh_from_db()
    assert job.status == IssueJobStatus.RUNNING and (job.processed, job.issued) == (3, 3)
    assert IssuedCoupon.objects.filter(template=t).count() == 3  # the killed batch left nothing
    assert CouponTemplate.objects.get(pk=t.pk).issued == 3
    # Another worker does not take over a job whose heartbeat is fresh; the sweep finds it once stale.
    assert issue_jobs.coupon_issue_job_run(job_id=job.pk) is False
    later = timezone.now() + dt.timedelta(minutes=10)
    assert issue_jobs.issue_jobs_stalled(clock=lambda: later) == [job.pk]
    monkeypatch.setattr(issue_jobs, "_save_progress", real_save)
    assert issue_jobs.coupon_issue_job_run(job_id=job.pk, batch_size=3, clock=lambda: later) is True
    job.refresh_from_db()
    assert (job.status, job.processed, job.issued) == (IssueJobStatus.DONE, 7, 7)
    per_customer = IssuedCoupon.objects.filter(template=t).values_list("customer_id", flat=True)
    assert sorted(per_customer) == sorted(c.pk for c in people)
    assert CouponTemplate.objects.get(pk=t.pk).issued == 7


def test_a_lost_cursor_still_skips_customers_the_job_reached(world):
    """Idempotent per customer: even with the cursor back at 0 the job's coupons keep them out."""
    _customers(world, 4)
    t = template(world.org, stock=100, per_customer_limit=3)
    job = _start(world, t, _segment(world))
    issue_jobs.coupon_issue_job_run(job_id=job.pk, batch_size=2)
    CouponIssueJob.objects.filter(pk=job.pk).update(status=IssueJobStatus.PENDING, cursor=0)
    issue_jobs.coupon_issue_job_run(job_id=job.pk, batch_size=2)
    assert IssuedCoupon.objects.filter(template=t).count() == 4


def test_the_page_starts_the_job_and_polls_its_progress(world):
    _customers(world, 3)
    segment = _segment(world)
    t = template(world.org)
    op = world.client_for(world.operator)
    response = op.post(f"/coupons/{t.pk}/issue/", {"target": "segment", "target_id": segment.pk})
    assert response.status_code == 302
    job = CouponIssueJob.objects.get(template=t)
    assert IssuedCoupon.objects.count() == 0  # the worker issues, not the request
    page = op.get(f"/coupons/{t.pk}/").content.decode()
    assert f'hx-get="/coupons/{t.pk}/jobs/{job.pk}/"' in page and "vendor/htmx.min.js" in page
    issue_jobs.coupon_issue_job_run(job_id=job.pk)
    fragment = op.get(f"/coupons/{t.pk}/jobs/{job.pk}/").content.decode()
    assert "hx-trigger" not in fragment and "已完成" in fragment and 'value="100"' in fragment
    assert world.client_for(world.store_staff).get(f"/coupons/{t.pk}/jobs/{job.pk}/").status_code == 403
    assert world.client_for(world.outsider).get(f"/coupons/{t.pk}/jobs/{job.pk}/").status_code == 404
    # A second start while the first runs is refused.
    CouponIssueJob.objects.filter(pk=job.pk).update(status=IssueJobStatus.RUNNING)
    with pytest.raises(services.CouponError):
        _start(world, t, segment)
