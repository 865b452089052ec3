"""Backup and restore (docs/operations.md): pg_dump -Fc → pg_restore into a new database → the app runs on it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.db import connection

from tests.conftest import BASE_DIR
from tests.factories import CustomerFactory

PG = ["-h", "127.0.0.1", "-U", "postgres"]

CHECK = """
import os
import django
django.setup()
from django.test import Client
from contacts.models import Customer, Staff
client = Client()
health = client.get("/healthz").json()
assert health["checks"]["postgres"] == "ok", health
customer = Customer.objects.get(name="备份客户")
client.force_login(Staff.objects.get(pk=int(os.environ["RESTORE_STAFF"])).user)
page = client.get(f"/customers/{customer.pk}/")
assert page.status_code == 200 and "备份客户" in page.content.decode(), page.status_code
print("restored-ok")
"""


@pytest.mark.django_db(transaction=True)
def test_pg_dump_restores_into_a_new_database_the_app_runs_on(world):
    CustomerFactory(organization=world.org, home_store=world.store_a, name="备份客户")
    source = connection.settings_dict["NAME"]
    target = f"scrm_restore_{uuid.uuid4().hex[:8]}"
    dump = subprocess.run(["pg_dump", *PG, "-Fc", source], capture_output=True, check=True).stdout
    subprocess.run(["createdb", *PG, target], check=True)
    try:
        subprocess.run(["pg_restore", *PG, "--no-owner", "-d", target], input=dump, check=True)
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{target}",
            "DJANGO_SETTINGS_MODULE": "scrm.settings_test",
            "RESTORE_STAFF": str(world.operator.pk),
        }
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--check"], cwd=BASE_DIR, env=env, capture_output=True, text=True
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        run = subprocess.run(
            [sys.executable, "-c", CHECK], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        assert "restored-ok" in run.stdout, run.stdout + run.stderr
    finally:
        subprocess.run(["dropdb", *PG, "--if-exists", "--force", target], check=True)
