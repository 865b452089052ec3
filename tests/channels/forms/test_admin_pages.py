"""Operator pages: the leads list (which ad brought whom) and the lead-form admin — owner / no right / outsider."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from channels.leads.events import LeadEvent
from channels.leads.services import lead_ingest
from channels.models import LeadForm, LeadSource


def _lead(org, store, *, ext: str, phone: str = "", ad_id: int = 7100001, ad_name: str = "双11 到店体验") -> None:
    lead_ingest(
        organization=org,
        store=store,
        event=LeadEvent(
            source=LeadSource.OCEAN_ENGINE,
            external_id=ext,
            occurred_at=timezone.now() - timedelta(hours=1),
            name=f"客户{ext}",
            phone=phone,
            ad={"ad_id": ad_id, "ad_name": ad_name, "promotion_name": "双11 拉新", "advertiser_id": 1},
        ),
    )


def test_operator_sees_leads_with_their_ad_and_filters(world, django_assert_max_num_queries) -> None:
    _lead(world.org, world.store_a, ext="1", phone="13800138001")
    _lead(world.org, world.store_b, ext="2", ad_id=7100002, ad_name="直播引流")
    _lead(world.other_org, world.other_store, ext="3", ad_name="对手广告")
    client = world.client_for(world.operator)
    with django_assert_max_num_queries(12):
        response = client.get("/channels/leads/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "双11 到店体验" in body and "直播引流" in body and "对手广告" not in body
    assert "138****8001" in body and "13800138001" not in body
    filtered = client.get("/channels/leads/", {"q": "7100002"}).content.decode()
    assert "直播引流" in filtered and "客户1<" not in filtered
    assert "客户1" not in client.get("/channels/leads/", {"converted": "no"}).content.decode()


def test_manager_sees_only_their_store_and_others_are_refused(world) -> None:
    _lead(world.org, world.store_a, ext="1")
    _lead(world.org, world.store_b, ext="2", ad_name="B店广告")
    body = world.client_for(world.manager).get("/channels/leads/").content.decode()
    assert "双11 到店体验" in body and "B店广告" not in body
    assert world.client_for(world.store_staff).get("/channels/leads/").status_code == 403
    assert world.client_for(world.no_role).get("/channels/leads/").status_code == 403
    outsider = world.client_for(world.outsider).get("/channels/leads/").content.decode()
    assert "双11 到店体验" not in outsider


def test_operator_creates_a_form_and_outsider_cannot_edit_it(world) -> None:
    client = world.client_for(world.operator)
    assert client.get("/channels/forms/new/").status_code == 200
    response = client.post(
        "/channels/forms/new/",
        {
            "title": "周年庆留资",
            "slug": "anniversary",
            "intro": "",
            "store": world.store_a.pk,
            "consent_text": "我同意接收营销信息",
            "consent_version": "v2",
            "success_text": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    form = LeadForm.objects.get(slug="anniversary")
    assert form.organization == world.org and form.created_by == world.operator
    assert "周年庆留资" in client.get("/channels/forms/").content.decode()
    assert world.client_for(world.outsider).get(f"/channels/forms/{form.pk}/").status_code == 404
    assert world.client_for(world.store_staff).get("/channels/forms/").status_code == 403
    assert world.client_for(world.no_role).get("/channels/forms/").status_code == 403


def test_manager_cannot_create_a_form_for_another_store(world) -> None:
    response = world.client_for(world.manager).post(
        "/channels/forms/new/",
        {
            "title": "B店表单",
            "slug": "b-store",
            "store": world.store_b.pk,
            "consent_text": "同意",
            "consent_version": "v1",
            "is_active": "on",
        },
    )
    assert response.status_code == 200  # re-rendered with the error: store B is not in the choices
    assert not LeadForm.objects.filter(slug="b-store").exists()


def test_retention_forgets_unconverted_leads_only(world) -> None:
    from channels.leads.services import leads_retention_purge
    from channels.models import Lead

    _lead(world.org, world.store_a, ext="old-no-phone")
    _lead(world.org, world.store_a, ext="old-customer", phone="13800138301")
    Lead.objects.update(occurred_at=timezone.now() - timedelta(days=200))
    _lead(world.org, world.store_a, ext="recent")
    assert leads_retention_purge(older_than_days=180) == 1
    forgotten = Lead.objects.get(external_id="old-no-phone")
    assert forgotten.name == "" and forgotten.ad_id  # attribution kept, the person forgotten
    assert Lead.objects.get(external_id="old-customer").name
    assert Lead.objects.get(external_id="recent").name
