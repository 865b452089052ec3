"""A large order import really runs on a Celery worker (queue "reports")."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from analytics.models import Order, OrderImport
from contacts.models import Customer
from tests.analytics.test_imports_api_access import CSV
from tests.factories import CustomerFactory


@pytest.mark.slow
def test_large_import_is_processed_by_a_real_worker(world, celery_worker, monkeypatch):
    from analytics import imports

    monkeypatch.setattr(imports, "SYNC_MAX_ROWS", 1)
    CustomerFactory(organization=world.org, home_store=world.store_a, phone="13800000001")
    client = world.client_for(world.operator)
    client.post("/reports/orders/import/", {"file": SimpleUploadedFile("big.csv", CSV.encode("utf-8-sig"))})
    job = OrderImport.objects.get()
    celery_worker.wait_for(lambda: OrderImport.objects.get(pk=job.pk).status == "done", timeout=60)
    job.refresh_from_db()
    assert (job.created_rows, job.error_rows) == (2, 6)
    assert {e["line"] for e in job.errors} == {4, 5, 6, 7, 8, 9}
    buyer = Customer.objects.get(organization=world.org, phone_hash__isnull=False, order_count__gt=0)
    assert buyer.order_count == 2 and Order.objects.count() == 2
