from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import WorkerHandle


@pytest.mark.slow
def test_healthz_reports_every_dependency_ok_with_a_worker_running(celery_worker: WorkerHandle) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok", "celery": "ok"}}


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_failed_dependency(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.REDIS_CLIENT_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr("scrm.views._check_celery", lambda: "ok")
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["redis"].startswith("error")


@pytest.mark.django_db
def test_healthz_reports_celery_down_when_no_worker_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scrm.celery.app.control.ping", lambda timeout: [])
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["celery"].startswith("error")
