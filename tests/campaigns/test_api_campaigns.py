"""/api/v1/campaigns/: GET list and detail on the create route, pause / resume / cancel through the
console's services, and results (progress, conversion, lift with its interval) — the campaign pages'
roles (operators and managers), another brand's campaign a 404."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from analytics.models import Order
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Delivery, DeliveryStatus, ExclusionReason
from campaigns.planner import campaign_plan
from campaigns.results import campaign_results_compute
from contacts.services.organization import api_token_create
from tests.campaigns.factories import at, campaign, reachable_customers
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    from campaigns import tasks

    for name in ("dispatch_campaign", "cancel_batch"):
        monkeypatch.setattr(getattr(tasks, name), "delay_on_commit", lambda *a: None)


def _post(client: Client, path: str, body: dict | None = None):
    return client.post(path, body or {}, content_type="application/json")


def test_get_lists_the_brands_campaigns_on_the_create_route_with_filters(world):
    done = campaign(world.org, name="春节群发", status=CampaignStatus.DONE)
    draft = campaign(world.org, name="草稿一个", text="新品上市")
    moment = campaign(world.org, name="朋友圈", kind=CampaignKind.MOMENT)
    campaign(world.other_org, name="对手活动")
    op = world.client_for(world.operator)
    body = op.get("/api/v1/campaigns/").json()
    assert [c["id"] for c in body["results"]] == [moment.pk, draft.pk, done.pk]
    row = body["results"][-1]
    assert row["status_label"] == "已完成" and row["kind_label"]
    assert [c["id"] for c in op.get("/api/v1/campaigns/", {"status": "done"}).json()["results"]] == [done.pk]
    assert [c["id"] for c in op.get("/api/v1/campaigns/", {"kind": "moment"}).json()["results"]] == [moment.pk]
    assert [c["id"] for c in op.get("/api/v1/campaigns/", {"q": "新品"}).json()["results"]] == [draft.pk]
    for params in ({"status": "lost"}, {"kind": "fax"}, {"limit": "x"}):
        resp = op.get("/api/v1/campaigns/", params)
        assert resp.status_code == 400 and next(iter(params)) in resp.json()
    # POST on the same route still creates (and submits) a campaign.
    created = _post(op, "/api/v1/campaigns/", {"name": "新品", "text": "上新啦"})
    assert created.status_code == 201 and Campaign.objects.get(pk=created.json()["id"]).status == "scheduled"


def test_detail_is_scoped_to_the_brand_and_the_pages_roles(world):
    c = campaign(world.org, name="本品牌活动")
    rival = campaign(world.other_org, name="对手活动")
    for staff in (world.operator, world.manager):  # managers see the brand's campaigns, as on the pages
        resp = world.client_for(staff).get(f"/api/v1/campaigns/{c.pk}/")
        assert resp.status_code == 200 and resp.json()["name"] == "本品牌活动"
        assert world.client_for(staff).get(f"/api/v1/campaigns/{rival.pk}/").status_code == 404
    clerk = world.client_for(world.store_staff)
    assert clerk.get("/api/v1/campaigns/").status_code == 403
    assert clerk.get(f"/api/v1/campaigns/{c.pk}/").status_code == 403
    assert clerk.get(f"/api/v1/campaigns/{c.pk}/results/").status_code == 403
    assert _post(clerk, f"/api/v1/campaigns/{c.pk}/cancel/").status_code == 403
    outsider = world.client_for(world.outsider)
    assert outsider.get(f"/api/v1/campaigns/{c.pk}/").status_code == 404
    assert outsider.get(f"/api/v1/campaigns/{c.pk}/results/").status_code == 404
    assert [r["id"] for r in outsider.get("/api/v1/campaigns/").json()["results"]] == [rival.pk]


def test_pause_resume_and_cancel_through_the_console_services(world):
    staff = [StaffFactory(organization=world.org)]
    reachable_customers(world.org, 3, staff=staff)
    c = campaign(world.org, status=CampaignStatus.SENDING)
    campaign_plan(campaign_id=c.pk, now=at(10))
    manager = world.client_for(world.manager)
    resp = _post(manager, f"/api/v1/campaigns/{c.pk}/pause/")
    assert resp.status_code == 200 and resp.json()["status"] == "paused" and resp.json()["status_label"] == "已暂停"
    # Pausing twice is refused with the service's reason, and nothing changes.
    again = _post(manager, f"/api/v1/campaigns/{c.pk}/pause/")
    assert again.status_code == 400 and "暂停" in again.json()["detail"]
    assert _post(manager, f"/api/v1/campaigns/{c.pk}/resume/").json()["status"] == "sending"
    outsider = world.client_for(world.outsider)
    assert _post(outsider, f"/api/v1/campaigns/{c.pk}/cancel/").status_code == 404
    c.refresh_from_db()
    assert c.status == CampaignStatus.SENDING
    resp = _post(world.client_for(world.operator), f"/api/v1/campaigns/{c.pk}/cancel/")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert not Delivery.objects.filter(campaign=c, status=DeliveryStatus.PLANNED).exists()
    refused = _post(world.client_for(world.operator), f"/api/v1/campaigns/{c.pk}/resume/")
    assert refused.status_code == 400 and refused.json()["detail"]


def test_results_show_progress_conversion_and_lift_as_the_page_does(world):
    staff = [StaffFactory(organization=world.org)]
    customers = reachable_customers(world.org, 6, staff=staff)
    c = campaign(world.org, status=CampaignStatus.DONE, holdout_percent=10)
    sent = timezone.now() - timedelta(days=2)
    Campaign.objects.filter(pk=c.pk).update(planned_at=sent, send_after=sent)
    for cu in customers[:4]:
        Delivery.objects.create(
            organization=world.org, campaign=c, customer=cu, status=DeliveryStatus.DELIVERED, delivered_at=sent
        )
    Delivery.objects.create(
        organization=world.org, campaign=c, customer=customers[4], status=DeliveryStatus.FAILED, reason="other"
    )
    Delivery.objects.create(
        organization=world.org,
        campaign=c,
        customer=customers[5],
        status=DeliveryStatus.EXCLUDED,
        reason=ExclusionReason.HOLDOUT,
    )
    for i, cu in enumerate(customers[:2]):
        Order.objects.create(
            organization=world.org,
            customer=cu,
            amount=Decimal("120"),
            paid_at=sent + timedelta(hours=3),
            external_ref=f"r{i}",
        )
    op = world.client_for(world.operator)
    before = op.get(f"/api/v1/campaigns/{c.pk}/results/").json()
    assert before["results"] is None and before["progress"]["planned"] == 5
    expected = campaign_results_compute(campaign_id=c.pk)
    body = op.get(f"/api/v1/campaigns/{c.pk}/results/").json()
    progress, results = body["progress"], body["results"]
    assert progress["delivered"] == 4 and progress["failed"] == 1 and progress["planned"] == 5
    assert {r["reason"]: r["count"] for r in progress["exclusions"]} == {"holdout": 1}
    assert results["orders"] == 2 and results["gmv"] == "240.00"
    assert results["treated"] == {"customers": 5, "converted": 2, "gmv": "240.00"}
    assert results["rate_treated"] == pytest.approx(0.4) and results["rate_holdout"] == 0
    assert results["lift"] == pytest.approx(expected["lift"]) and len(results["ci"]) == 2
    assert results["ci"][0] < results["lift"] < results["ci"][1]
    assert body["status_label"] == "已完成"


def test_an_api_token_lists_and_pauses(world):
    c = campaign(world.org, status=CampaignStatus.SCHEDULED)
    _row, secret = api_token_create(staff=world.manager, by=world.operator, name="BI", days=30)
    auth = {"HTTP_AUTHORIZATION": f"Token {secret}"}
    assert Client().get("/api/v1/campaigns/", **auth).json()["count"] == 1
    assert Client().post(f"/api/v1/campaigns/{c.pk}/pause/", **auth).json()["status"] == "paused"
    c.refresh_from_db()
    assert c.status == CampaignStatus.PAUSED


def test_list_queries_do_not_grow_with_the_rows(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contacts.models import Segment

    op = world.client_for(world.operator)
    segment = Segment.objects.create(organization=world.org, name="老客", expression={})

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert op.get("/api/v1/campaigns/").status_code == 200
        return len(ctx.captured_queries)

    campaign(world.org, segment=segment, created_by=world.operator).exclusion_segments.add(segment)
    base = count()
    for _ in range(4):
        campaign(world.org, segment=segment, created_by=world.manager).exclusion_segments.add(segment)
    assert count() == base


def test_submit_approve_and_reject_with_the_pages_review_rule(world):
    from tests.campaigns.factories import policy

    policy(world.org, approval_threshold=1)
    reachable_customers(world.org, 3, staff=[StaffFactory(organization=world.org)])
    mine = campaign(world.org, created_by=world.manager)
    manager = world.client_for(world.manager)
    resp = _post(manager, f"/api/v1/campaigns/{mine.pk}/submit/")
    assert resp.status_code == 200 and resp.json()["status"] == "pending_approval"
    # A manager never reviews their own campaign: refused, nothing changes (the page says the same).
    refused = _post(manager, f"/api/v1/campaigns/{mine.pk}/approve/")
    assert refused.status_code == 403 and "自己创建" in refused.json()["detail"]
    assert _post(manager, f"/api/v1/campaigns/{mine.pk}/reject/").status_code == 403
    mine.refresh_from_db()
    assert mine.status == CampaignStatus.PENDING_APPROVAL and mine.approved_by is None
    approved = _post(world.client_for(world.operator), f"/api/v1/campaigns/{mine.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["approved_by"]["id"] == world.operator.pk
    assert approved.json()["status"] == "scheduled"
    # The operator's campaign waits for a manager, who may reject it back to draft.
    theirs = campaign(world.org, created_by=world.operator)
    assert _post(world.client_for(world.operator), f"/api/v1/campaigns/{theirs.pk}/submit/").status_code == 200
    rejected = _post(manager, f"/api/v1/campaigns/{theirs.pk}/reject/")
    assert rejected.status_code == 200 and rejected.json()["status"] == "draft"
    again = _post(manager, f"/api/v1/campaigns/{theirs.pk}/approve/")
    assert again.status_code == 400 and again.json()["detail"]
    assert _post(world.client_for(world.outsider), f"/api/v1/campaigns/{theirs.pk}/submit/").status_code == 404
