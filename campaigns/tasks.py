"""Celery tasks: ids in, one service call. ``campaigns.dispatch.*`` goes to the dispatch queue."""

from __future__ import annotations

import logging

from celery import shared_task

from campaigns import dispatcher, results, services

logger = logging.getLogger(__name__)


@shared_task(name="campaigns.dispatch.due_tick", ignore_result=True)
def due_tick() -> None:
    """Beat: start scheduled campaigns whose due_at has come; enqueue pending/stale batches."""
    services.campaigns_due_tick()
    dispatcher.dispatch_tick()


@shared_task(name="campaigns.dispatch.track_tick", ignore_result=True)
def track_tick() -> None:
    """Beat: follow member confirmations, remind, sync per-recipient results."""
    dispatcher.track_tick()


@shared_task(name="campaigns.dispatch.campaign", ignore_result=True)
def dispatch_campaign(campaign_id: int) -> None:
    dispatcher.dispatch_campaign_batches(campaign_id=campaign_id)


@shared_task(name="campaigns.dispatch.batch", ignore_result=True)
def dispatch_batch(batch_id: int) -> None:
    dispatcher.batch_dispatch(batch_id=batch_id)


@shared_task(name="campaigns.dispatch.cancel_batch", ignore_result=True)
def cancel_batch(batch_id: int) -> None:
    dispatcher.batch_cancel_remote(batch_id=batch_id)


@shared_task(name="campaigns.dispatch.track_batch", ignore_result=True)
def track_batch(batch_id: int) -> None:
    dispatcher.batch_track(batch_id=batch_id)


@shared_task(name="campaigns.results.compute", ignore_result=True)
def compute_results(campaign_id: int) -> None:
    results.campaign_results_compute(campaign_id=campaign_id)


@shared_task(name="campaigns.results.compute_all", ignore_result=True)
def compute_all_results() -> None:
    results.campaigns_results_compute_all()
