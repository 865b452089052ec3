"""PIPL data-subject requests: a full copy of a person's data, and erasure that leaves nothing identifying
while orders and reports keep adding up. Operators only, audited, scoped like every other door."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from analytics.services import order_record
from channels.leads.events import LeadEvent
from channels.leads.services import lead_ingest
from channels.models import ChannelAccount, InboxEvent, Lead
from contacts import crypto, services
from contacts.models import (
    ERASURE_QUIET_PERIOD,
    Customer,
    CustomerGroupMember,
    CustomerTag,
    ErasedKey,
    Follow,
    Identity,
    Note,
    PrivacyRecord,
    SegmentFact,
    TimelineEvent,
)
from tests.factories import CustomerFactory, CustomerGroupFactory, FollowFactory, TagFactory

pytestmark = pytest.mark.django_db
PHONE = "13912345678"


@pytest.fixture
def person(world):
    """A customer with something of everything: phone, identity, follow remark, tag, group, note, order, lead."""
    customer = CustomerFactory(organization=world.org, home_store=world.store_a, name="林小姐")
    Customer.objects.filter(pk=customer.pk).update(
        phone_encrypted=crypto.encrypt_phone(PHONE), phone_hash=crypto.phone_hash(PHONE), unionid="union-lin"
    )
    customer.refresh_from_db()
    Identity.objects.create(
        organization=world.org, customer=customer, platform="wecom", account="corp", external_id="wm_lin"
    )
    FollowFactory(customer=customer, staff=world.store_staff, remark="林小姐-敏感肌")
    services.customer_tag_add(customer=customer, tag=TagFactory(group__organization=world.org, name="敏感肌"))
    group = CustomerGroupFactory(organization=world.org)
    CustomerGroupMember.objects.create(
        organization=world.org, group=group, customer=customer, member_id="wm_lin", name="林小姐"
    )
    services.note_add(customer=customer, author=world.store_staff, body="住在静安，周末到店")
    order_record(
        organization=world.org,
        customer=customer,
        store=world.store_a,
        amount=Decimal("299.00"),
        paid_at=timezone.now() - dt.timedelta(days=3),
        source="pos",
        external_ref="POS-1",
    )
    lead, _created = lead_ingest(
        organization=world.org,
        event=LeadEvent(source="form", external_id="f-1", occurred_at=timezone.now(), name="林小姐", phone=PHONE),
    )
    assert lead.customer_id == customer.pk
    customer.refresh_from_db()
    return customer


def test_an_operator_downloads_everything_held_on_the_person(world, person):
    response = world.client_for(world.operator).get(reverse("contacts:customer_privacy_export", args=[person.pk]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["customer"]["phone"] == PHONE and data["customer"]["name"] == "林小姐"
    assert data["identities"][0]["external_id"] == "wm_lin"
    assert data["follows"][0]["remark"] == "林小姐-敏感肌"
    assert [t["tag"] for t in data["tags"]] == ["敏感肌"]
    assert data["notes"][0]["body"] == "住在静安，周末到店"
    assert data["orders"][0]["amount"] == "299.00"  # from analytics
    assert data["leads"][0]["phone"] == PHONE  # from channels
    record = PrivacyRecord.objects.get(customer_id=person.pk)
    assert record.action == "export" and record.by == world.operator
    assert PHONE not in json.dumps(record.details, ensure_ascii=False)


def test_only_operators_of_the_organization_reach_either_door(world, person):
    export = reverse("contacts:customer_privacy_export", args=[person.pk])
    erase = reverse("contacts:customer_privacy_erase", args=[person.pk])
    for who in (world.store_staff, world.manager):
        assert world.client_for(who).get(export).status_code == 403
        assert world.client_for(who).post(erase, {"confirm": "yes", "reason": "x"}).status_code == 403
    outsider = world.client_for(world.outsider)
    assert outsider.get(export).status_code == 404
    assert outsider.post(erase, {"confirm": "yes", "reason": "x"}).status_code == 404
    person.refresh_from_db()
    assert person.erased_at is None and not PrivacyRecord.objects.exists()


def test_erasure_leaves_nothing_that_identifies_the_person(world, person):
    account = ChannelAccount.objects.create(organization=world.org, platform="wecom", name="企业微信")
    seen = InboxEvent.objects.create(
        organization=world.org,
        account=account,
        platform="wecom",
        event_key="e1",
        body="<xml><ExternalUserID>wm_lin</ExternalUserID></xml>",
        status="done",
    )
    waiting = InboxEvent.objects.create(
        organization=world.org, account=account, platform="wecom", event_key="e2", body=f"我的电话 {PHONE}"
    )
    other = InboxEvent.objects.create(
        organization=world.org, account=account, platform="wecom", event_key="e3", body="<xml>wm_someone</xml>"
    )
    client = world.client_for(world.operator)
    url = reverse("contacts:customer_privacy_erase", args=[person.pk])
    assert client.post(url, {"confirm": "yes", "reason": " "}).status_code == 302  # refused: no reason
    person.refresh_from_db()
    assert person.erased_at is None
    client.post(url, {"confirm": "yes", "reason": "本人 11 月 20 日来电要求删除"})
    person.refresh_from_db()
    assert person.erased_at is not None and person.opted_out_at is not None and not person.marketing_consent
    assert (person.name, person.phone_encrypted, person.phone_hash, person.unionid, person.tag_ids) == (
        "",
        "",
        "",
        "",
        [],
    )
    assert not Identity.objects.filter(customer=person).exists()
    assert not Note.objects.filter(customer=person).exists()
    assert not TimelineEvent.objects.filter(customer=person).exists()
    assert not CustomerTag.objects.filter(customer=person).exists()
    assert Follow.objects.get(customer=person).remark == ""
    member = CustomerGroupMember.objects.get(customer=person)
    assert member.name == "" and member.member_id != "wm_lin" and member.left_at is not None
    seen.refresh_from_db()
    waiting.refresh_from_db()
    other.refresh_from_db()
    assert seen.body == "" and seen.status == "done"
    assert waiting.body == "" and waiting.status == "ignored"  # nothing left to process
    assert other.body == "<xml>wm_someone</xml>"
    lead = Lead.objects.get(customer=person)
    assert (lead.name, lead.phone_hash, lead.phone_encrypted) == ("", "", "")
    assert SegmentFact.objects.get(pk=person.pk).tag_ids == [] and SegmentFact.objects.get(pk=person.pk).opted_out
    # Nothing anywhere in the database still holds the phone's lookup hash or the WeCom id.
    with connection.cursor() as cursor:
        for table, column in (("contacts_customer", "phone_hash"), ("channels_lead", "phone_hash")):
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", [crypto.phone_hash(PHONE)])
            assert cursor.fetchone()[0] == 0
    # Orders stay, anonymous, so LTV and reports still add up.
    assert person.orders.count() == 1 and person.ltv == Decimal("299.00")
    record = PrivacyRecord.objects.get(customer_id=person.pk, action="erase")
    assert record.reason == "本人 11 月 20 日来电要求删除" and record.details["identities"] == 1
    assert record.details["leads"] == 1 and record.details["inbox_events"] == 2
    # The page says so and offers nothing more; a second erasure is refused.
    page = client.get(reverse("contacts:customer_detail", args=[person.pk])).content.decode()
    assert "应本人要求删除" in page and 'data-testid="privacy"' not in page
    with pytest.raises(services.ContactsError, match="已于"):
        services.customer_erase(customer=person, by=None, reason="again")
    # The same phone later (after the erasure's quiet period, contacts.ErasedKey) is a new person,
    # not the erased record.
    ErasedKey.objects.filter(organization=world.org).update(
        erased_at=F("erased_at") - ERASURE_QUIET_PERIOD - dt.timedelta(hours=1)
    )
    again, created = services.customer_resolve(organization=world.org, phone=PHONE, defaults={}, source="test")
    assert created and again.pk != person.pk


def test_an_erased_record_takes_no_new_personal_data(world, person):
    services.customer_erase(customer=person, by=None, reason="本人要求")
    person.refresh_from_db()
    tag = TagFactory(group__organization=world.org, name="回头客")
    with pytest.raises(services.ContactsError, match="已应本人要求删除"):
        services.note_add(customer=person, author=None, body="新的记录")
    with pytest.raises(services.ContactsError, match="已应本人要求删除"):
        services.customer_tag_add(customer=person, tag=tag)
    other = CustomerFactory(organization=world.org)
    assert services.customers_tag_bulk(organization=world.org, tag=tag, customer_ids=[person.pk, other.pk]) == 1
    assert not CustomerTag.objects.filter(customer=person).exists()
    client = world.client_for(world.operator)
    response = client.post(reverse("contacts:customer_note_add", args=[person.pk]), {"body": "新的记录"}, follow=True)
    assert response.status_code == 200 and "已应本人要求删除" in response.content.decode()
    assert not Note.objects.filter(customer=person).exists()


def test_the_api_exports_and_erases_for_operators_only(world, person):
    from rest_framework.test import APIClient

    def api(who):
        client = APIClient()
        client.force_authenticate(who.user)
        return client

    export = f"/api/v1/customers/{person.pk}/personal-data/"
    erase = f"/api/v1/customers/{person.pk}/erase/"
    assert api(world.store_staff).get(export).status_code == 403
    assert api(world.outsider).get(export).status_code == 404
    assert api(world.operator).get(export).json()["customer"]["phone"] == PHONE
    assert api(world.operator).post(erase, {}, format="json").status_code == 400  # a reason is required
    assert api(world.manager).post(erase, {"reason": "x"}, format="json").status_code == 403
    done = api(world.operator).post(erase, {"reason": "本人邮件要求删除"}, format="json")
    assert done.status_code == 200 and done.json()["erased_at"]
    again = api(world.operator).post(erase, {"reason": "again"}, format="json")
    assert again.status_code == 400 and "已于" in again.json()["detail"]
    assert PrivacyRecord.objects.filter(customer_id=person.pk, action="erase").count() == 1
    schema = api(world.operator).get("/api/v1/schema/").content.decode()
    assert "/api/v1/customers/{id}/erase/" in schema and "/api/v1/customers/{id}/personal-data/" in schema


def test_a_finished_import_keeps_no_copy_of_the_file(world):
    from contacts import imports

    content = f"姓名,手机号\n林小姐,{PHONE}\n".encode()
    job = imports.import_start(organization=world.org, by=world.operator, filename="people.csv", content=content)
    job.refresh_from_db()
    assert job.created_count + job.updated_count == 1
    assert bytes(job.content) == b""
    failed = imports.import_start(organization=world.org, by=world.operator, filename="x.xlsx", content=b"not a zip")
    failed.refresh_from_db()
    assert failed.status == "failed" and bytes(failed.content) == b""


def test_erasure_drops_import_files_that_an_older_version_kept(world, person):
    from contacts.models import ImportJob, ImportStatus

    legacy = ImportJob.objects.create(
        organization=world.org, filename="old.csv", content=f"林小姐,{PHONE}\n".encode(), status=ImportStatus.DONE
    )
    other_brand = ImportJob.objects.create(
        organization=world.other_org, filename="theirs.csv", content=b"x,1\n", status=ImportStatus.DONE
    )
    services.customer_erase(customer=person, by=world.operator, reason="本人申请删除")
    legacy.refresh_from_db()
    other_brand.refresh_from_db()
    assert bytes(legacy.content) == b""
    assert bytes(other_brand.content) == b"x,1\n"  # another organization's files are not ours to touch
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_importjob WHERE position(%s::bytea in content) > 0", [PHONE])
        assert cursor.fetchone()[0] == 0
