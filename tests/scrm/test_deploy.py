"""The production settings path passes ``check --deploy`` without warnings when given real values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]


def test_production_settings_pass_check_deploy() -> None:
    env = {
        **os.environ,
        "SCRM_PRODUCTION": "1",
        "DEBUG": "0",
        "SECRET_KEY": "k" * 20 + "Zq8!xP2@wL9#mN4$vB7%cR1^tY6&uI3*oE5(aS0)dF",
        "FIELD_ENCRYPTION_KEY": "f" * 40,
        "ALLOWED_HOSTS": "scrm.example.com",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or (settings.DATABASES["default"]["NAME"] and _db_url()),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "scrm.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"SCRM_PRODUCTION": "1", "DATABASE_URL": _db_url(), "REDIS_URL": settings.REDIS_URL})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def _db_url() -> str:
    db = settings.DATABASES["default"]
    from urllib.parse import quote

    host = db.get("HOST") or ""
    host = quote(host, safe="") if host.startswith("/") else host
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db.get('USER') or 'postgres'}@{host}{port}/{db['NAME']}"
