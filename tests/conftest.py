"""Shared fixtures: a two-organization world with every role, and a real Celery worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client

from contacts.models import Organization, Role, Staff, Store
from tests.factories import OrganizationFactory, StaffFactory, StoreFactory, UserFactory

BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass
class World:
    """Two organizations. In ``org``: two stores and an operator, a manager of store A, a store
    staff member of store A, a staff user with no role. In ``other_org``: an operator (the outsider)."""

    org: Organization
    store_a: Store
    store_b: Store
    operator: Staff
    manager: Staff
    store_staff: Staff
    no_role: Staff
    other_org: Organization
    other_store: Store
    outsider: Staff

    def client_for(self, staff: Staff) -> Client:
        client = Client()
        client.force_login(staff.user)
        return client


def _staff(org: Organization, store: Store | None, role: Role | None, username: str) -> Staff:
    user = UserFactory(username=username, role=role)
    return StaffFactory(organization=org, store=store, user=user, name=username)


@pytest.fixture
def world(db: Any) -> World:
    org = OrganizationFactory(slug="acme", name="阿克米")
    other = OrganizationFactory(slug="rival", name="对手品牌")
    store_a = StoreFactory(organization=org, code="A", name="A店")
    store_b = StoreFactory(organization=org, code="B", name="B店")
    other_store = StoreFactory(organization=other, code="X", name="X店")
    return World(
        org=org,
        store_a=store_a,
        store_b=store_b,
        operator=_staff(org, None, Role.OPERATOR, "op"),
        manager=_staff(org, store_a, Role.MANAGER, "mgr"),
        store_staff=_staff(org, store_a, Role.STORE_STAFF, "clerk"),
        no_role=_staff(org, store_a, None, "norole"),
        other_org=other,
        other_store=other_store,
        outsider=_staff(other, other_store, Role.OPERATOR, "outsider"),
    )


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_CLIENT_URL)


@dataclass
class WorkerHandle:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path

    def wait_for(self, predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            time.sleep(interval)
        raise AssertionError(f"timed out; worker log tail:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, kill: bool = False, cold: bool = False) -> None:
        """Warm shutdown (SIGTERM: running tasks finish); ``cold`` = SIGQUIT, Celery's cold shutdown
        (no waiting for the pool to wind down), for a test that is over; ``kill`` = SIGKILL."""
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.send_signal(signal.SIGQUIT if cold else signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_worker(
    tmp_path: Path, queues: str | None = None, concurrency: int = 1, extra_env: dict[str, str] | None = None
) -> WorkerHandle:
    """Start a real Celery worker on the real broker, pointed at the test database."""
    env = os.environ.copy()
    db = connection.settings_dict
    host = db.get("HOST") or ""
    from urllib.parse import quote

    env["DATABASE_URL"] = (
        f"postgres://{db.get('USER') or 'postgres'}:{quote(db.get('PASSWORD') or '')}@{quote(host, safe='') if host.startswith('/') else host}"
        f"{':' + str(db['PORT']) if db.get('PORT') else ''}/{db['NAME']}"
    )
    env["REDIS_URL"] = settings.REDIS_URL
    env["DJANGO_SETTINGS_MODULE"] = "scrm.settings_test"
    env.update(extra_env or {})
    log_path = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "scrm",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "-Q",
            queues or ",".join(settings.CELERY_QUEUE_NAMES),
            "-n",
            f"test-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--pool",
            "prefork",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    handle = WorkerHandle(process=process, env=env, log_path=log_path)
    handle.wait_for(lambda: b"ready" in log_path.read_bytes(), timeout=60)
    return handle


@pytest.fixture
def celery_worker(transactional_db: Any, tmp_path: Path) -> Iterator[WorkerHandle]:
    """A real worker process for this test; data must be committed (transactional_db) for it to see."""
    handle = start_worker(tmp_path)
    yield handle
    handle.stop(cold=True)  # the test has seen what it waited for; a warm shutdown only costs seconds


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``make test``'s two xdist workers (``--dist loadgroup``) the real-process tests (marked
    ``slow``: Celery workers, gunicorn, the launcher, faults with timing bounds) all run on one worker,
    one after another as in a serial run; the other worker takes the in-process tests meanwhile."""
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.xdist_group("real-processes"))
