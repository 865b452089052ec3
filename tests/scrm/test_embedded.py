"""The embedded default starts and stops a real PostgreSQL and a real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
from scrm import embedded
services = embedded.ensure_services()
import dj_database_url, psycopg2, redis
cfg = dj_database_url.parse(os.environ["DATABASE_URL"])
conn = psycopg2.connect(dbname=cfg["NAME"], user=cfg["USER"], host=cfg["HOST"])
cur = conn.cursor()
cur.execute("SHOW server_version_num")
version = int(cur.fetchone()[0])
cur.execute("CREATE EXTENSION IF NOT EXISTS intarray; CREATE EXTENSION IF NOT EXISTS btree_gin; SELECT '{1,2}'::int[] @@ '1&2'::query_int")
intarray = cur.fetchone()[0]
conn.close()
r = redis.Redis.from_url(os.environ["REDIS_URL"].replace("redis+socket://", "unix://"))
r.set("probe", "1")
print(json.dumps({"pg_pid": services.postgres_pid, "redis_pid": services.redis_pid, "version": version,
                  "intarray": intarray, "redis": r.get("probe").decode(), "db": os.environ["DATABASE_URL"]}))
services.stop()
"""


@pytest.mark.slow
def test_embedded_default_starts_real_postgres_and_redis_and_stops_them(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["SCRM_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(BASE_DIR)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["version"] >= 150000
    assert info["intarray"] is True
    assert info["redis"] == "1"
    assert str(tmp_path / "data") in info["db"].replace("%2F", "/")
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (psutil.pid_exists(info["pg_pid"]) or psutil.pid_exists(info["redis_pid"])):
        time.sleep(0.2)
    assert not psutil.pid_exists(info["pg_pid"]), "postgres still running after stop"
    assert not psutil.pid_exists(info["redis_pid"]), "redis still running after stop"
