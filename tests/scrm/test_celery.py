from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.db import transaction

from scrm.celery import TooLateForBroker, app, echo
from tests.conftest import WorkerHandle, redis_client


@pytest.mark.slow
def test_a_task_round_trips_through_a_real_worker_on_the_real_broker(celery_worker: WorkerHandle) -> None:
    token = uuid.uuid4().hex
    echo.delay(token)
    assert celery_worker.wait_for(lambda: redis_client().get(f"scrm:echo:{token}")) == b"done"


def test_celery_is_configured_for_reliability() -> None:
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.task_serializer == "json"
    assert conf.task_ignore_result is True


def test_long_countdowns_are_refused_so_work_due_later_becomes_a_due_at_row() -> None:
    limit = settings.CELERY_MAX_COUNTDOWN_SECONDS
    with pytest.raises(TooLateForBroker, match="due_at"):
        echo.apply_async(args=["x"], countdown=limit + 1)


@pytest.mark.django_db(transaction=True)
def test_tasks_are_enqueued_only_after_the_transaction_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple] = []
    task = echo._get_current_object()
    monkeypatch.setattr(task, "apply_async", lambda args=None, kwargs=None, **o: sent.append(tuple(args)))
    with transaction.atomic():
        task.delay_on_commit("a")
        assert sent == []
    assert sent == [("a",)]
    with pytest.raises(RuntimeError), transaction.atomic():
        task.delay_on_commit("b")
        raise RuntimeError("rolled back")
    assert sent == [("a",)]
