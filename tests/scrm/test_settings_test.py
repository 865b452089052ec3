"""The test settings give each pytest-xdist worker its own Redis database, once."""

from __future__ import annotations

import os

import pytest

from scrm.settings_test import _redis_db_per_xdist_worker


def _shifted(monkeypatch: pytest.MonkeyPatch, url: str, worker: str | None) -> str:
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.delenv("SCRM_TEST_REDIS_WORKER", raising=False)
    if worker is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    _redis_db_per_xdist_worker()
    return os.environ["REDIS_URL"]


def test_each_xdist_worker_gets_the_named_database_plus_its_number(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _shifted(monkeypatch, "redis://127.0.0.1:6379/3", "gw0") == "redis://127.0.0.1:6379/3"
    assert _shifted(monkeypatch, "redis://127.0.0.1:6379/3", "gw1") == "redis://127.0.0.1:6379/4"
    assert _shifted(monkeypatch, "redis://:pw@redis:6379", "gw1") == "redis://:pw@redis:6379/1"
    # A process the test starts inherits the shifted URL and the marker: it is not shifted again.
    _redis_db_per_xdist_worker()
    assert os.environ["REDIS_URL"] == "redis://:pw@redis:6379/1"


def test_serial_runs_and_unix_sockets_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _shifted(monkeypatch, "redis://127.0.0.1:6379/3", None) == "redis://127.0.0.1:6379/3"
    assert _shifted(monkeypatch, "redis+socket:///tmp/r.sock", "gw1") == "redis+socket:///tmp/r.sock"
