"""An import running during an erasure cannot re-create the erased person (contacts.ErasedKey).

The erasure writes tombstones (keyed hashes of the phone, unionid and platform identities) under the
customer's row lock; ``customer_resolve`` — every import row, webhook and identity upsert — refuses
a tombstoned key after taking its own lock, and a trigger refuses any customer row that carries an
erased phone hash, whatever code writes it."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import F

from contacts import crypto, imports, services
from contacts.models import ERASURE_QUIET_PERIOD, Customer, ErasedKey, Identity, ImportJob, Platform
from tests.factories import CustomerFactory

PHONE = "13912345678"
CSV = f"姓名,手机号,备注\n林晓雯,{PHONE},回访\n".encode()


def _person(world: Any) -> Customer:
    person = CustomerFactory(organization=world.org, name="林晓雯", phone=PHONE, unionid="o6_erased_union_1")
    Identity.objects.create(organization=world.org, customer=person, platform=Platform.WECOM, external_id="wmErased01")
    return person


def _job(world: Any) -> ImportJob:
    return services.import_job_create(organization=world.org, by=world.operator, filename="回访.csv", content=CSV)


def _recreated(world: Any) -> list[Customer]:
    return list(
        Customer.objects.filter(organization=world.org, erased_at__isnull=True).filter(
            phone_hash=crypto.phone_hash(PHONE)
        )
    ) + list(Customer.objects.filter(organization=world.org, name="林晓雯"))


@pytest.mark.django_db
def test_an_import_queued_before_the_erasure_does_not_bring_the_person_back(world):
    person = _person(world)
    job = _job(world)  # uploaded before the request, runs after it
    services.customer_erase(customer=person, by=world.operator, reason="本人来电要求删除")
    imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert _recreated(world) == []
    assert job.created_count == 0 and len(job.errors) == 1 and "删除个人信息" in job.errors[0]["reason"]
    assert ErasedKey.objects.filter(organization=world.org).count() == 3  # phone, unionid, WeCom identity


@pytest.mark.django_db
def test_every_identity_upsert_refuses_the_erased_keys_and_other_brands_are_not_touched(world):
    person = _person(world)
    services.customer_erase(customer=person, by=None, reason="本人要求")
    for keys in (
        {"phone": PHONE},
        {"unionid": "o6_erased_union_1"},
        {"platform": Platform.WECOM, "external_id": "wmErased01"},
    ):
        with pytest.raises(services.CustomerErasedError):
            services.customer_resolve(organization=world.org, defaults={"name": "林晓雯"}, source="wecom", **keys)
    assert _recreated(world) == [] and not Identity.objects.filter(external_id="wmErased01").exists()
    # The tombstone is the brand's: the same number at another brand is another brand's customer.
    other, created = services.customer_resolve(organization=world.other_org, phone=PHONE, source="import")
    assert created and other.organization_id == world.other_org.pk


@pytest.mark.django_db
def test_the_database_refuses_an_erased_phone_whatever_writes_it(world):
    person = _person(world)
    services.customer_erase(customer=person, by=None, reason="本人要求")
    with pytest.raises(DatabaseError, match="erased person"), transaction.atomic():
        Customer.objects.create(organization=world.org, **crypto.phone_columns(PHONE))
    someone = CustomerFactory(organization=world.org, name="别人")
    with pytest.raises(DatabaseError, match="erased person"), transaction.atomic():
        Customer.objects.filter(pk=someone.pk).update(**crypto.phone_columns(PHONE))


@pytest.mark.django_db(transaction=True)
def test_an_import_running_while_the_erasure_commits_waits_and_then_refuses(world):
    person = _person(world)
    job = _job(world)
    done = threading.Event()
    failure: list[BaseException] = []

    def run_import() -> None:
        try:
            imports.import_run(job_id=job.pk)
        except BaseException as exc:
            failure.append(exc)
        finally:
            connection.close()
            done.set()

    with transaction.atomic():
        services.customer_erase(customer=person, by=None, reason="本人要求")
        worker = threading.Thread(target=run_import)
        worker.start()
        time.sleep(0.8)  # the import is now waiting on the erased customer's row lock
        assert not done.is_set()
    worker.join(30)
    assert done.is_set() and not failure, failure
    job.refresh_from_db()
    assert _recreated(world) == [] and job.created_count == 0 and len(job.errors) == 1


@pytest.mark.django_db
def test_after_the_quiet_period_they_may_come_back_but_never_from_a_file_uploaded_before(world):
    person = _person(world)
    old_file = _job(world)
    services.customer_erase(customer=person, by=None, reason="本人要求")
    # A day later: the file uploaded before the request still cannot bring them back …
    ErasedKey.objects.filter(organization=world.org).update(
        erased_at=F("erased_at") - ERASURE_QUIET_PERIOD - dt.timedelta(hours=1)
    )
    ImportJob.objects.filter(pk=old_file.pk).update(created_at=F("created_at") - ERASURE_QUIET_PERIOD * 2)
    imports.import_run(job_id=old_file.pk)
    assert _recreated(world) == []
    # … but the person adding the brand again (or a new file) is a new customer, not the erased row.
    again, created = services.customer_resolve(organization=world.org, phone=PHONE, source="wecom")
    assert created and again.pk != person.pk
