"""Imported customers enter the lead pool (source 导入): when the store's pool rule (or the brand default)
says so, or when the import itself asked for it (导入后进入线索公海); only people with a phone who are
not WeCom friends and were never in the pool; and the next tick hands them out."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels.leads.pool import lead_pool_tick
from channels.models import LeadAssignment, LeadPoolEntry, LeadPoolRule, PoolSource, PoolStatus
from contacts import crypto, imports
from contacts.models import Customer, ImportJob
from tests.channels.leads.test_pool import ALL_DAY, at, clock, rule
from tests.factories import CustomerFactory, FollowFactory, StaffFactory

pytestmark = pytest.mark.django_db

HEADER = "姓名,手机号,门店编码\n"
ROWS = (
    "新客A,13900000001,A\n"  # phone, store A, not a friend: enters when store A's rule says so
    "无手机号,,A\n"  # no phone: never
    "老好友,13900000003,A\n"  # already a WeCom friend: never
    "B店新客,13900000004,B\n"  # store B has no rule of its own: the brand default decides
)


def _import(world, *, to_lead_pool: bool = False, body: str = ROWS) -> ImportJob:
    return imports.import_start(
        organization=world.org,
        by=world.operator,
        filename="people.csv",
        content=(HEADER + body).encode(),
        to_lead_pool=to_lead_pool,
    )


def _friend(world) -> None:
    friend = CustomerFactory(organization=world.org, home_store=world.store_a, phone="13900000003")
    FollowFactory(customer=friend, staff=world.store_staff)


def _pooled() -> set[str]:
    return set(LeadPoolEntry.objects.filter(source=PoolSource.IMPORT).values_list("customer__name", flat=True))


def test_the_rule_lets_imported_non_friends_with_a_phone_into_the_pool_and_the_tick_assigns_them(world):
    member = StaffFactory(organization=world.org, store=world.store_a, name="导购一")
    r = rule(world, members=[member], hours=ALL_DAY)
    _friend(world)
    _import(world)
    assert _pooled() == set()  # the rule does not ask for imports yet
    LeadPoolRule.objects.filter(pk=r.pk).update(import_enters_pool=True)
    job = _import(world)  # the same people again (OneID: the same customers), now the rule asks
    assert job.status == "done"
    assert _pooled() == {"新客A"}
    entry = LeadPoolEntry.objects.get(source=PoolSource.IMPORT)
    assert entry.store_id == world.store_a.pk and entry.status == PoolStatus.WAITING
    # Importing the same people again puts nobody in twice.
    _import(world)
    assert LeadPoolEntry.objects.filter(source=PoolSource.IMPORT).count() == 1
    result = lead_pool_tick(clock=clock(at(1, 10)))
    assert result["assigned"] == 1
    assert LeadAssignment.objects.get().staff == member
    assert LeadAssignment.objects.get().source == PoolSource.IMPORT


def test_the_brand_default_rule_covers_stores_without_their_own(world):
    member = StaffFactory(organization=world.org, store=world.store_a)
    default = rule(world, members=[member], hours=ALL_DAY)
    LeadPoolRule.objects.filter(pk=default.pk).update(store=None, import_enters_pool=True)
    _friend(world)
    _import(world)
    assert _pooled() == {"新客A", "B店新客"}


def test_the_import_checkbox_sends_them_to_the_pool_without_a_rule(world):
    _friend(world)
    op = world.client_for(world.operator)
    upload = SimpleUploadedFile("people.csv", (HEADER + ROWS).encode(), content_type="text/csv")
    page = op.get("/customers/import/").content.decode()
    assert 'name="to_lead_pool"' in page and "导入后进入线索公海" in page
    response = op.post("/customers/import/", {"file": upload, "to_lead_pool": "on"})
    assert response.status_code == 302
    assert ImportJob.objects.get().to_lead_pool is True
    assert _pooled() == {"新客A", "B店新客"}
    customer = Customer.objects.get(name="新客A")
    assert customer.phone_hash == crypto.phone_hash("13900000001")
    # An import without the box (and no rule asking) leaves the pool alone.
    LeadPoolEntry.objects.all().delete()
    _import(world, body="另一位,13900000009,A\n")
    assert _pooled() == set()


def test_the_import_api_takes_the_same_choice(world):
    upload = SimpleUploadedFile("people.csv", (HEADER + ROWS).encode(), content_type="text/csv")
    response = world.client_for(world.operator).post("/api/v1/imports/", {"file": upload, "to_lead_pool": "true"})
    assert response.status_code == 202 and response.json()["to_lead_pool"] is True
    assert _pooled() == {"新客A", "老好友", "B店新客"}  # no follow here: the friend is not one yet


def test_a_listener_that_fails_does_not_fail_the_import(world, monkeypatch):
    from contacts.services import registry

    def broken(**kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(registry, "_import_listeners", [broken])
    job = _import(world, to_lead_pool=True)
    assert job.status == "done" and job.created_count == 3
    assert not LeadPoolEntry.objects.exists()
