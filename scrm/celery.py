"""The Celery app. Reliability settings live in ``scrm.settings`` (``CELERY_*``)."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from celery import Celery
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scrm.schedule import BEAT_SCHEDULE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")


class TooLateForBroker(ValueError):
    """Raised for a countdown/ETA beyond ``CELERY_MAX_COUNTDOWN_SECONDS``.

    A message parked in Redis for hours is lost when Redis restarts and is redelivered after the
    visibility timeout; work due later is a ``due_at`` row in Postgres that a beat job picks up.
    """


class ScrmTask(DjangoTask):  # type: ignore[type-arg]
    """Base task: ``delay_on_commit`` from Celery's Django integration, plus a cap on ETAs."""

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:  # type: ignore[override]
        limit = settings.CELERY_MAX_COUNTDOWN_SECONDS
        countdown = options.get("countdown")
        eta: datetime | None = options.get("eta")
        too_late = (countdown is not None and countdown > limit) or (
            eta is not None and (eta - timezone.now()).total_seconds() > limit
        )
        if too_late:
            raise TooLateForBroker(
                f"{self.name}: schedule work due in more than {limit}s as a due_at row, not a broker ETA."
            )
        return super().apply_async(args, kwargs, **options)


app = Celery("scrm", task_cls=ScrmTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue(task_name: str, *args: Any, **options: Any) -> Any:
    """Send the registered task ``task_name``: ``delay(*args)``, or ``apply_async(args, **options)``
    when options (a countdown…) are given; the same routing and ETA cap as calling the task itself.

    The one way services enqueue work: a task module imports the services it calls, and no service
    imports a task module, so no task ↔ service import circle exists. An unknown name raises
    ``celery.exceptions.NotRegistered`` at once (and ``tests/scrm/test_tasks.py`` checks every name).
    """
    task = registered_task(task_name)
    return task.apply_async(args, **options) if options else task.delay(*args)


def registered_task(task_name: str) -> Any:
    """The task registered under ``task_name``. A worker imports every app's tasks module when it
    starts; a web process has not, so the first look-up for a task not loaded yet runs Celery's
    autodiscovery (each installed app's ``tasks`` module), once."""
    if task_name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[task_name]


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    """:func:`enqueue` once the current transaction commits (right away outside one): a worker never
    looks for a row that is not committed yet, and a rolled-back write enqueues nothing."""
    transaction.on_commit(lambda: enqueue(task_name, *args))


@app.task(name="scrm.echo", ignore_result=True)
def echo(token: str) -> None:
    """Round-trip probe: writes the token to Redis so a caller can see a worker ran it."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_CLIENT_URL)
    client.set(f"scrm:echo:{token}", "done", ex=300)


def _load_schedule() -> None:
    app.conf.beat_schedule = BEAT_SCHEDULE


_load_schedule()
