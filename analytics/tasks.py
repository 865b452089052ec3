"""Celery tasks of analytics: thin (ids in, one service call), queue "reports" by name prefix."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from analytics.imports import order_import_run
from analytics.predict import services as predict_services
from analytics.rollups import acquisition_months_refresh, daily_customer_metrics_refresh, report_cells_nightly
from analytics.services import analytics_rebuild
from contacts import services as contact_services
from contacts.models import Organization


@shared_task(name="analytics.imports.orders", ignore_result=True)
def import_orders(job_id: int, store_ids: list[int] | None = None) -> None:
    order_import_run(job_id=job_id, store_ids=store_ids)


@shared_task(name="analytics.rollups.refresh_recent", ignore_result=True)
def refresh_recent() -> None:
    """New customers and churned follows of today and yesterday, acquisition cells of this month and
    the last, for every organization (beat, every 10 minutes)."""
    today = timezone.localdate()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    for org_id in Organization.objects.values_list("pk", flat=True):
        daily_customer_metrics_refresh(organization_id=org_id, start=today - timedelta(days=1), end=today)
        # The reports read complete months from the acquisition cells: keep last month's exact.
        acquisition_months_refresh(organization_id=org_id, start=last_month, end=today)


@shared_task(name="analytics.rollups.rfm_nightly", ignore_result=True)
def rfm_nightly() -> None:
    """Recency moves with the calendar: rescore every customer once a day, then recount the RFM and
    acquisition cells and re-file buyers whose home store changed (beat)."""
    for org_id in Organization.objects.values_list("pk", flat=True):
        contact_services.customer_rfm_refresh(organization_id=org_id)
        report_cells_nightly(organization_id=org_id)


@shared_task(name="analytics.rollups.rebuild", ignore_result=True)
def rebuild(organization_id: int) -> None:
    analytics_rebuild(organization_id=organization_id)


@shared_task(name="analytics.predict.refit_all", ignore_result=True)
def predict_refit_all() -> None:
    """Refit the purchase and spend models and rescore every buyer, for every organization (beat, nightly)."""
    for org_id in Organization.objects.values_list("pk", flat=True):
        predict_services.organization_predict(organization_id=org_id)


@shared_task(name="analytics.predict.refit", ignore_result=True)
def predict_refit(organization_id: int) -> None:
    """One organization's refit, on demand (the 预测 page's button)."""
    predict_services.organization_predict(organization_id=organization_id)
