"""django-axes' records hold usernames, IP addresses and user agents: they are kept only as long as they
serve (docs/operations.md) — counters until their cool-off passes, login logs LOGIN_LOG_RETENTION_DAYS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.test import Client
from django.utils import timezone

from scrm.auth import login_records_purge
from scrm.schedule import BEAT_SCHEDULE

pytestmark = pytest.mark.django_db


def test_old_login_records_are_deleted_and_recent_ones_kept(world: Any, settings: Any) -> None:
    settings.LOGIN_LOG_RETENTION_DAYS = 30
    Client().post("/login/", {"username": "op", "password": "wrong"})  # a counter with username and IP
    Client().post("/login/", {"username": "mgr", "password": "pass12345"})  # an access log row
    now = timezone.now()
    old = now - timedelta(days=31)
    stale = now - settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
    AccessAttempt.objects.create(username="gone", ip_address="10.0.0.9", attempt_time=stale, failures_since_start=3)
    AccessLog.objects.create(username="long-ago", ip_address="10.0.0.8", attempt_time=old)
    AccessFailureLog.objects.create(username="long-ago", ip_address="10.0.0.8", attempt_time=old, locked_out=False)
    AccessAttempt.objects.filter(username="gone").update(attempt_time=stale)
    AccessLog.objects.filter(username="long-ago").update(attempt_time=old)
    AccessFailureLog.objects.filter(username="long-ago").update(attempt_time=old)

    assert login_records_purge(now=now) == {"attempts": 1, "logins": 1, "failures": 1}
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["op"]  # still within its cool-off
    assert list(AccessLog.objects.values_list("username", flat=True)) == ["mgr"]
    assert not AccessFailureLog.objects.exists()
    assert login_records_purge(now=now) == {"attempts": 0, "logins": 0, "failures": 0}


def test_the_purge_runs_daily_from_beat() -> None:
    from scrm.celery import app

    entry = BEAT_SCHEDULE["scrm-login-records-retention"]
    assert entry["schedule"] == 24 * 3600.0
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
