from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from scrm.celery import app

logger = logging.getLogger(__name__)


def _check_postgres() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_redis() -> str:
    import redis

    client = redis.Redis.from_url(settings.REDIS_CLIENT_URL, socket_timeout=2, socket_connect_timeout=2)
    client.ping()
    return "ok"


def _check_celery() -> str:
    replies = app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError("no worker answered")
    return "ok"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness of each dependency; 503 when one fails (load balancers and ``make run`` read it)."""
    checks: dict[str, str] = {}
    for name, check in (("postgres", _check_postgres), ("redis", _check_redis), ("celery", _check_celery)):
        try:
            checks[name] = check()
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
            logger.warning("healthz check failed", extra={"check": name, "error": type(exc).__name__})
    ok = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503)
