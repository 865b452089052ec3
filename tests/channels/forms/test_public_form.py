"""The public H5 lead form: explicit consent, per-IP rate limit, CSRF, one customer per phone, QR at the end."""

from __future__ import annotations

import pytest
from django.test import Client

from channels.models import ChannelPlatform, ContactWay, Lead, LeadForm, LeadSource
from contacts.models import Customer, TimelineEvent, TimelineKind
from tests.channels.leads.helpers import make_account
from tests.conftest import redis_client
from tests.factories import TagFactory


@pytest.fixture(autouse=True)
def _clean_rate_keys():
    client = redis_client()
    for key in client.scan_iter("scrm:leadform:*"):
        client.delete(key)
    yield


@pytest.fixture
def lead_form(world):
    wecom = make_account(world.org, ChannelPlatform.WECOM, external_id="wwcorp")
    way = ContactWay.objects.create(
        organization=world.org,
        account=wecom,
        name="A店 表单活码",
        state="form_a",
        store=world.store_a,
        qr_code="https://wework.qpic.cn/wwpic/sandbox-qr.png",
    )
    form = LeadForm.objects.create(
        organization=world.org, slug="autumn", title="秋季到店礼", store=world.store_a, contact_way=way
    )
    form.tags.add(TagFactory(group__organization=world.org, name="表单留资"))
    return form


def post(client: Client, phone: str = "13800138000", consent: bool = True, name: str = "陈女士", ip: str = "10.0.0.1"):
    data = {"name": name, "phone": phone}
    if consent:
        data["consent"] = "on"
    return client.post("/f/autumn/", data, REMOTE_ADDR=ip)


def test_get_renders_the_consent_checkbox(lead_form) -> None:
    response = Client().get("/f/autumn/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="consent"' in body and lead_form.consent_text in body
    assert "csrftoken" in response.cookies


def test_submission_creates_a_customer_with_consent_and_shows_the_qr(world, lead_form) -> None:
    response = post(Client())
    assert response.status_code == 200
    assert 'data-testid="form-qr"' in response.content.decode()
    assert "sandbox-qr.png" in response.content.decode()
    customer = Customer.objects.get(organization=world.org)
    assert customer.phone == "13800138000"
    assert customer.marketing_consent is True
    assert customer.consent_at is not None
    assert customer.consent_source == "form:autumn"
    assert customer.source_channel == "form"
    assert customer.home_store == world.store_a
    assert customer.first_touch["form"] == "autumn"
    assert [link.tag.name for link in customer.tag_links.select_related("tag")] == ["表单留资"]
    lead = Lead.objects.get(source=LeadSource.FORM)
    assert lead.marketing_consent and lead.consent_at is not None
    assert lead.fields["consent_version"] == "v1"
    assert TimelineEvent.objects.filter(customer=customer, kind=TimelineKind.LEAD).count() == 1


def test_without_consent_it_refuses_and_stores_nothing(lead_form) -> None:
    response = post(Client(), consent=False)
    assert response.status_code == 400
    assert "请先勾选同意" in response.content.decode()
    assert not Lead.objects.exists()
    assert not Customer.objects.exists()


def test_a_bad_phone_says_what_to_fix(lead_form) -> None:
    response = post(Client(), phone="12345")
    assert response.status_code == 400
    assert "11 位" in response.content.decode()


def test_a_repeated_phone_is_one_customer(world, lead_form) -> None:
    post(Client(), phone="138 0013 8000", ip="10.0.0.2")
    post(Client(), phone="+86 13800138000", name="陈小姐", ip="10.0.0.3")
    assert Customer.objects.filter(organization=world.org).count() == 1
    assert Lead.objects.count() == 1


def test_it_rate_limits_per_ip(world, lead_form, settings) -> None:
    from channels.forms import services

    client = Client()
    for i in range(services.RATE_LIMIT):
        assert post(client, phone=f"1380013801{i}", ip="10.0.0.9").status_code == 200
    blocked = post(client, phone="13800138099", ip="10.0.0.9")
    assert blocked.status_code == 429
    assert "提交过于频繁" in blocked.content.decode()
    assert int(blocked["Retry-After"]) > 0
    assert Lead.objects.count() == services.RATE_LIMIT
    # Another visitor is not affected.
    assert post(Client(), phone="13800138098", ip="10.0.0.10").status_code == 200


def test_it_is_csrf_protected(lead_form) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/f/autumn/", {"name": "x", "phone": "13800138000", "consent": "on"})
    assert response.status_code == 403
    assert not Lead.objects.exists()
    client.get("/f/autumn/")
    token = client.cookies["csrftoken"].value
    ok = client.post("/f/autumn/", {"name": "x", "phone": "13800138000", "consent": "on", "csrfmiddlewaretoken": token})
    assert ok.status_code == 200


def test_an_inactive_or_unknown_form_is_gone(lead_form) -> None:
    assert Client().get("/f/nope/").status_code == 404
    LeadForm.objects.filter(pk=lead_form.pk).update(is_active=False)
    assert Client().get("/f/autumn/").status_code == 404


def test_a_form_not_requiring_consent_accepts_without_it_and_records_none(world, lead_form) -> None:
    LeadForm.objects.filter(pk=lead_form.pk).update(consent_required=False)
    assert 'name="consent" required' not in Client().get("/f/autumn/").content.decode()
    response = post(Client(), consent=False, ip="10.0.0.20")
    assert response.status_code == 200
    customer = Customer.objects.get(organization=world.org)
    assert customer.marketing_consent is False and customer.consent_at is None
    lead = Lead.objects.get()
    assert lead.marketing_consent is False and not lead.fields.get("consent_source")
    # Ticking the box later records the consent on the same customer.
    post(Client(), consent=True, ip="10.0.0.21")
    customer.refresh_from_db()
    assert customer.marketing_consent is True and customer.consent_source == "form:autumn"
    assert Customer.objects.count() == 1


def test_behind_a_trusted_proxy_the_forwarded_ip_is_limited(world, lead_form, settings) -> None:
    from channels.forms import services

    settings.TRUSTED_PROXY_HOPS = 1  # nginx appends the visitor's address: the right-most entry

    def send(phone: str, forwarded: str):
        return Client().post(
            "/f/autumn/", {"phone": phone, "consent": "on"}, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=forwarded
        )

    for i in range(services.RATE_LIMIT):
        assert send(f"1380013802{i % 10}", "spoofed, 1.2.3.4").status_code == 200
    assert send("13800138110", "another-spoof, 1.2.3.4").status_code == 429  # a spoofed left part changes nothing
    assert send("13800138111", "5.6.7.8").status_code == 200  # another visitor behind the same proxy
