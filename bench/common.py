"""Shared benchmark helpers (docs/benchmarks.md): the scratch database, timing, results.

Usage in a benchmark module::

    from bench import common
    common.setup_django()            # scratch DB ``scrm_bench`` next to DATABASE_URL, migrated
    samples = common.measure(fn, repeat=20, warmup=3)
    stats = common.summarize(samples)  # {"p50_ms", "p95_ms", "n"}
    common.write_result(name="x", scale={...}, metrics={...}, baseline={...}, ratios={...}, targets={...})

Data generators record what they loaded with ``set_meta(key, value)`` so a second run at the same
scale reuses the data (``get_meta(key) == value``).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DB = "scrm_bench"
_ready = False


def free_port() -> int:
    """A free TCP port on loopback (for a server a benchmark or test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scratch_url(base_url: str, name: str = DEFAULT_DB) -> str:
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def ensure_database(base_url: str, name: str = DEFAULT_DB) -> None:
    """Create the scratch database on the server of ``base_url`` when it does not exist."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(scratch_url(base_url, "postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def setup_django(db_name: str = DEFAULT_DB, migrate: bool = True) -> None:
    """Point Django at the scratch database (created if missing), set it up and migrate it.

    ``DATABASE_URL`` names the server (and credentials); the database name is replaced by ``db_name``.
    Call once, before importing models.
    """
    global _ready
    if _ready:
        return
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        from scrm import embedded  # the demo default: embedded PostgreSQL/Redis, as `make run` uses

        embedded.ensure_services()
    base = os.environ["DATABASE_URL"]
    ensure_database(base, db_name)
    os.environ["DATABASE_URL"] = scratch_url(base, db_name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log: it would be part of every timing
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    _ensure_meta_table()
    _ready = True


def _ensure_meta_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)")


def get_meta(key: str) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM bench_meta WHERE key = %s", [key])
        row = cursor.fetchone()
    if row is None:
        return None
    return json.loads(row[0]) if isinstance(row[0], str) else row[0]


def set_meta(key: str, value: Any) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_meta (key, value) VALUES (%s, %s::jsonb)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [key, json.dumps(value)],
        )


def clear_meta(prefix: str = "") -> None:
    """Forget generated data (e.g. when the customers are regenerated, every dependent set is stale)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM bench_meta WHERE key LIKE %s", [prefix + "%"])


# --- timing --------------------------------------------------------------------------------------


def measure(fn: Callable[[], Any], *, repeat: int = 20, warmup: int = 3) -> list[float]:
    """Wall-clock milliseconds of ``repeat`` calls after ``warmup`` unmeasured ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure_interleaved(
    fns: dict[str, Callable[[], Any]], *, repeat: int = 20, warmup: int = 3
) -> dict[str, list[float]]:
    """Like :func:`measure` for several contenders, alternating them so machine noise hits all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    order = random.Random(len(names) * 7919 + repeat)
    for _ in range(repeat):
        # Shuffle each round (seeded): a query that runs right after a big scan pays for what that scan
        # evicted from the cache, so a fixed (or merely rotated) order would always bill the same one.
        order.shuffle(names)
        for name in list(names):
            fn = fns[name]
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def percentile(values: Iterable[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 2) if samples else float("nan"),
        "p95_ms": round(percentile(samples, 95), 2),
        "n": len(samples),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("inf")


# --- results -------------------------------------------------------------------------------------


def write_result(
    *,
    name: str,
    scale: dict[str, Any],
    metrics: dict[str, Any],
    baseline: dict[str, Any],
    ratios: dict[str, Any],
    targets: dict[str, Any],
    ok: bool | None = None,
    details: Any = None,
    path: str | Path | None = None,
) -> Path:
    """Write the result JSON (``bench/results/<name>.json`` unless ``path``) and return its path.

    The format: docs/benchmarks.md#result-format.

    ``ok`` defaults to: every target met (a ``*_ms`` or ``*_vs_*`` target is a maximum, a
    ``*_per_s`` target a minimum), looking the name up in metrics then ratios.
    """
    if ok is None:
        ok = True
        for key, target in targets.items():
            value = metrics.get(key, ratios.get(key))
            if value is None:
                continue
            ok = ok and (value >= target if key.endswith("_per_s") else value <= target)
    result = {
        "name": name,
        "scale": scale,
        "metrics": metrics,
        "baseline": baseline,
        "ratios": ratios,
        "targets": targets,
        "ok": bool(ok),
    }
    if details is not None:
        result["details"] = details
    out = Path(path) if path else RESULTS_DIR / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    return out


def print_table(rows: list[list[Any]], header: list[str], file: Any = None) -> None:
    file = file or sys.stdout
    cells = [[str(c) for c in header]] + [[f"{c:.2f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print(
            "  ".join(c.rjust(w) if n and i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))),
            file=file,
        )
        if n == 0:
            print("  ".join("-" * w for w in widths), file=file)
