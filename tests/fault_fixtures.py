"""Fault injection for the process tests: a private Redis that can be restarted, and Postgres
connections cut under a running worker.

``private_redis`` starts ``redis-server --port P --save ''`` on a free loopback port (no
persistence: a restart loses every queued message, the worst case) and points this process's
Celery producer at it; give ``private_redis.env`` to ``start_worker`` so the worker's broker,
cache and rate-limit buckets live there too.

Postgres: restarting the shared test server would cut every other test session on the machine,
so ``terminate_backends`` does what a restart does to our processes — every other connection
to the test database is terminated by the server (``pg_terminate_backend``), mid-query or idle,
and each process must notice and reconnect.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

from bench.common import free_port
from scrm.celery import app


@dataclass
class PrivateRedis:
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    log: list[str] = field(default_factory=list)
    queued_at_restart: int | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url}

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # no shutdown save: whatever was queued is gone
            self.process.wait(10)
        self.process = None

    def restart(self, down_for: float = 1.0, during: Any = None) -> None:
        """Kill Redis (losing everything queued), keep it down ``down_for`` seconds (calling
        ``during()`` meanwhile, e.g. to deliver callbacks that cannot be enqueued), start it again."""
        self.stop()
        if during is not None:
            during()
        time.sleep(down_for)
        self.start()
        # Counted the moment it answers, before a reconnecting worker hands back what it held.
        self.queued_at_restart = self.queued()
        self.restarts += 1

    def queued(self) -> int:
        client = redis.Redis.from_url(self.url)
        return sum(int(client.llen(q)) for q in ("inbox", "dispatch"))


def _point_producer_at(url: str) -> None:
    """Send this process's tasks to ``url``: Celery caches its pools per app, so forget them (never
    close them: kombu keeps them in a process-wide registry per broker URL, and a closed one would
    be handed to the next test that publishes to that broker)."""
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), workdir=tmp_path)
    server.start()
    previous = app.conf.broker_url
    _point_producer_at(server.url)
    try:
        yield server
    finally:
        _point_producer_at(previous)
        server.stop()


def terminate_backends() -> int:
    """Cut every other session on the test database, as a Postgres restart would. Returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"""
        )
        return int(cursor.fetchone()[0])


def until(
    predicate: Any, *, timeout: float, interval: float = 0.5, tick: Any = None, worker: Any = None, describe: Any = None
) -> Any:
    """Poll ``predicate`` (running ``tick()`` first each round, e.g. what beat does) until true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        value = predicate()
        if value:
            return value
        if worker is not None and worker.process.poll() is not None:
            raise AssertionError(f"worker exited: {worker.log_path.read_text()[-3000:]}")
        time.sleep(interval)
    tail = worker.log_path.read_text()[-4000:] if worker is not None else ""
    state = describe() if describe is not None else ""
    raise AssertionError(f"timed out after {timeout}s: {state}\n{tail}")
