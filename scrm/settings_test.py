"""Test settings: the real settings, only faster (cheap password hashing)."""

import os
from urllib.parse import urlsplit, urlunsplit


def _redis_db_per_xdist_worker() -> None:
    """Under pytest-xdist (``make test`` runs two workers) each worker gets its own Redis database:
    worker ``gwN`` uses the named database + N. Its Celery queues, cache and rate-limit buckets then
    never mix with the other worker's (whose tasks would run against the other test database).
    The processes a test starts inherit the already-shifted URL and the marker, so they never shift twice."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = os.environ.get("REDIS_URL", "")
    if not worker.startswith("gw") or not url.startswith("redis://") or os.environ.get("SCRM_TEST_REDIS_WORKER"):
        return
    parts = urlsplit(url)
    db = int(parts.path.lstrip("/") or 0) + int(worker[2:])
    os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{db}"))
    os.environ["SCRM_TEST_REDIS_WORKER"] = worker


_redis_db_per_xdist_worker()

from scrm.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
