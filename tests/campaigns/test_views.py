from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Batch, BatchStatus, Campaign, CampaignStatus
from campaigns.planner import campaign_plan
from tests.campaigns.factories import at, campaign, reachable_customers
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    from campaigns import tasks

    for name in ("dispatch_campaign", "cancel_batch"):
        monkeypatch.setattr(getattr(tasks, name), "delay_on_commit", lambda *a: None)


PAGES = ["campaigns:campaign_list", "campaigns:moment_list", "campaigns:campaign_new", "campaigns:report"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_for_operator_no_role_and_outsider(world, name):
    campaign(world.org, name="本品牌活动")
    campaign(world.other_org, name="对手活动")
    url = reverse(name)
    ok = world.client_for(world.operator).get(url)
    assert ok.status_code == 200
    assert "对手活动" not in ok.content.decode()
    assert world.client_for(world.no_role).get(url).status_code == 403
    assert world.client_for(world.store_staff).get(url).status_code == 403
    assert world.client_for(world.outsider).get(url).status_code == 200


def test_list_filters_and_shows_only_own_brand(world):
    campaign(world.org, name="春节群发", status=CampaignStatus.DONE)
    campaign(world.org, name="草稿一个")
    campaign(world.other_org, name="对手活动")
    body = world.client_for(world.operator).get(reverse("campaigns:campaign_list"), {"status": "done"}).content.decode()
    assert "春节群发" in body and "草稿一个" not in body and "对手活动" not in body


def test_detail_and_progress_are_scoped(world):
    staff = [StaffFactory(organization=world.org)]
    reachable_customers(world.org, 3, staff=staff)
    c = campaign(world.org, status=CampaignStatus.SENDING)
    campaign_plan(campaign_id=c.pk, now=at(10))
    op = world.client_for(world.operator)
    assert op.get(reverse("campaigns:campaign_detail", args=[c.pk])).status_code == 200
    progress = op.get(reverse("campaigns:campaign_progress", args=[c.pk])).json()
    assert progress["planned"] == 3 and progress["staff"][0]["recipients"] == 3
    assert world.client_for(world.outsider).get(reverse("campaigns:campaign_detail", args=[c.pk])).status_code == 404
    assert world.client_for(world.no_role).get(reverse("campaigns:campaign_progress", args=[c.pk])).status_code == 403


def test_preview_counts_and_exclusions_without_reserving_anything(world):
    staff = [StaffFactory(organization=world.org)]
    reachable_customers(world.org, 4, staff=staff)
    reachable_customers(world.org, 2, staff=staff, opted_out=True, prefix="o")
    url = reverse("campaigns:api_preview")
    r = world.client_for(world.operator).post(url, {"kind": "broadcast_single"}, content_type="application/json")
    assert r.status_code == 200, r.content
    data = r.json()
    assert data["recipients"] == 4 and data["audience"] == 6
    assert data["exclusions"][0]["reason"] == "opted_out"
    assert not Campaign.objects.exists()
    assert world.client_for(world.no_role).post(url, {}, content_type="application/json").status_code == 403


def test_create_submits_and_rejects_bad_content_with_a_clear_message(world):
    url = reverse("campaigns:api_create")
    client = world.client_for(world.operator)
    bad = client.post(url, {"name": "x", "text": ""}, content_type="application/json")
    assert bad.status_code == 400 and "请填写文字内容" in bad.json()["detail"]
    good = client.post(url, {"name": "新品", "text": "上新啦"}, content_type="application/json")
    assert good.status_code == 201
    c = Campaign.objects.get(pk=good.json()["id"])
    assert c.status == CampaignStatus.SCHEDULED and c.created_by == world.operator
    assert (
        world.client_for(world.outsider).post(reverse("campaigns:campaign_action", args=[c.pk, "cancel"])).status_code
        == 404
    )


def test_managers_campaigns_reach_only_their_store(world):
    client = world.client_for(world.manager)
    r = client.post(
        reverse("campaigns:api_create"), {"name": "店内活动", "text": "hi"}, content_type="application/json"
    )
    assert r.status_code == 201
    assert Campaign.objects.get(pk=r.json()["id"]).store_id == world.store_a.pk


def test_actions_pause_and_cancel(world):
    c = campaign(world.org, status=CampaignStatus.SCHEDULED)
    client = world.client_for(world.manager)
    client.post(reverse("campaigns:campaign_action", args=[c.pk, "pause"]))
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.PAUSED
    client.post(reverse("campaigns:campaign_action", args=[c.pk, "cancel"]))
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.CANCELLED


def test_staff_see_their_pending_confirmations(world):
    c = campaign(world.org, status=CampaignStatus.SENDING, name="待确认活动")
    Batch.objects.create(
        organization=world.org, campaign=c, sender=world.store_staff, size=5, status=BatchStatus.CREATED, msgid="m1"
    )
    Batch.objects.create(
        organization=world.org, campaign=c, sender=world.manager, seq=1, size=2, status=BatchStatus.CREATED, msgid="m2"
    )
    body = world.client_for(world.store_staff).get(reverse("campaigns:my_pending"), {"partial": 1}).content.decode()
    assert "待确认活动" in body and "5 位客户" in body and "2 位客户" not in body
    assert world.client_for(world.no_role).get(reverse("campaigns:my_pending")).status_code == 403


def test_operators_resolve_stuck_batches_from_the_campaign_page(world):
    c = campaign(world.org, status=CampaignStatus.SENDING)
    b = Batch.objects.create(
        organization=world.org, campaign=c, sender=world.store_staff, size=3, status="needs_operator"
    )
    url = reverse("campaigns:batch_resolve", args=[c.pk, b.pk])
    page = world.client_for(world.operator).get(reverse("campaigns:campaign_detail", args=[c.pk])).content.decode()
    assert "需人工确认的批次" in page
    assert world.client_for(world.manager).post(url, {"action": "resend"}).status_code == 403
    assert world.client_for(world.outsider).post(url, {"action": "resend"}).status_code == 404
    world.client_for(world.operator).post(url, {"action": "resend"})
    assert Batch.objects.get(pk=b.pk).status == BatchStatus.PENDING


def _segment_preview_count(client, expression):
    r = client.post(
        reverse("contacts:api-segment-preview"), {"expression": expression, "limit": 5}, content_type="application/json"
    )
    assert r.status_code == 200, r.content
    return r.json()["count"]


def _stores_world(world):
    """Customers in stores A (3), B (2) and C (1), all reachable; the brand has 6."""
    from tests.factories import StoreFactory

    store_c = StoreFactory(organization=world.org, code="C", name="C店")
    by_store = {}
    for store, n in ((world.store_a, 3), (world.store_b, 2), (store_c, 1)):
        staff = [StaffFactory(organization=world.org, store=store)]
        by_store[store.code] = reachable_customers(world.org, n, staff=staff, store=store, prefix=store.code)
    return store_c, by_store


def _planned_audience(client, world):
    """The audience the wizard's preview plans, then the one the created campaign really plans."""
    body = {"name": "店内活动", "text": "hi"}
    preview = client.post(reverse("campaigns:api_preview"), body, content_type="application/json")
    assert preview.status_code == 200, preview.content
    created = client.post(reverse("campaigns:api_create"), body, content_type="application/json")
    assert created.status_code == 201, created.content
    c = Campaign.objects.get(pk=created.json()["id"])
    result = campaign_plan(campaign_id=c.pk, now=at(10))
    homes = set(c.deliveries.values_list("customer__home_store_id", flat=True))
    return preview.json()["audience"], result.planned + sum(result.excluded.values()), homes


@pytest.mark.parametrize("own", [False, True])
def test_managers_campaign_audience_equals_their_segment_preview(world, own):
    """A manager of B and C with no own store reaches B and C (not the brand); one with own A plus a
    managed B reaches A and B (not A only): the campaign's audience is what their segment preview shows."""
    from contacts.models import Role
    from tests.conftest import _staff

    store_c, _by_store = _stores_world(world)
    manager = _staff(world.org, world.store_a if own else None, Role.MANAGER, "mgr2")
    managed = [world.store_b] if own else [world.store_b, store_c]
    manager.managed_stores.add(*managed)
    expected_stores = {s.pk for s in managed} | ({world.store_a.pk} if own else set())
    client = world.client_for(manager)

    expected = _segment_preview_count(client, {})
    assert expected == (5 if own else 3)
    preview_audience, planned_audience, homes = _planned_audience(client, world)
    assert preview_audience == expected
    assert planned_audience == expected
    assert homes == expected_stores


def test_manager_without_a_store_plans_nobody(world):
    from contacts.models import Role
    from tests.conftest import _staff

    _stores_world(world)
    client = world.client_for(_staff(world.org, None, Role.MANAGER, "mgr3"))
    assert _segment_preview_count(client, {}) == 0
    preview_audience, planned_audience, homes = _planned_audience(client, world)
    assert preview_audience == planned_audience == 0 and homes == set()


def test_operators_campaign_reaches_the_whole_brand(world):
    _stores_world(world)
    client = world.client_for(world.operator)
    assert _segment_preview_count(client, {}) == 6
    preview_audience, planned_audience, _homes = _planned_audience(client, world)
    assert preview_audience == planned_audience == 6
