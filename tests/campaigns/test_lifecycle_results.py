from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from analytics.models import Order
from campaigns import services
from campaigns.content import validate_content
from campaigns.models import (
    Batch,
    BatchStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    QuotaLedger,
    Recurrence,
)
from campaigns.results import campaign_results_compute, lift_interval
from channels.materials import material_create
from tests.campaigns.factories import at, campaign, policy, reachable_customers
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch):
    from campaigns import tasks

    sent = []
    for name in ("dispatch_campaign", "cancel_batch"):
        monkeypatch.setattr(getattr(tasks, name), "delay_on_commit", lambda *a, _n=name: sent.append((_n, a)))
    return sent


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


def test_content_limits_have_clear_messages(world):
    org = world.org.pk
    with pytest.raises(ValidationError) as err:
        validate_content(
            kind=CampaignKind.BROADCAST_SINGLE,
            text="字" * 1400,
            attachments=[{"msgtype": "image", "image": {}}] * 10,
            organization_id=org,
        )
    text = " ".join(err.value.messages)
    assert "4000 字节" in text and "附件最多 9 个" in text and "缺少素材" in text
    with pytest.raises(ValidationError, match="标题超过 64 字节"):
        validate_content(
            kind=CampaignKind.BROADCAST_SINGLE,
            text="",
            attachments=[
                {
                    "msgtype": "miniprogram",
                    "miniprogram": {"title": "长" * 30, "appid": "wx1", "page": "p", "pic_material_id": 1},
                }
            ],
            organization_id=org,
        )
    # An image is a library material of this brand, never a URL.
    with pytest.raises(ValidationError, match="不能填写网址"):
        validate_content(
            kind=CampaignKind.BROADCAST_SINGLE,
            text="",
            attachments=[{"msgtype": "image", "image": {"pic_url": "https://x.cn/a.png"}}],
            organization_id=org,
        )
    theirs = material_create(organization=world.other_org, kind="image", name="a", data=PNG).material
    video = material_create(organization=world.org, kind="video", name="v", data=MP4).material
    for material_id in (theirs.pk, video.pk):
        with pytest.raises(ValidationError, match="素材不存在或不是图片"):
            validate_content(
                kind=CampaignKind.BROADCAST_SINGLE,
                text="",
                attachments=[{"msgtype": "image", "image": {"material_id": material_id}}],
                organization_id=org,
            )
    with pytest.raises(ValidationError, match="1 个视频"):
        validate_content(
            kind=CampaignKind.MOMENT,
            text="",
            attachments=[{"msgtype": "video", "video": {"material_id": video.pk}}] * 2,
            organization_id=org,
        )
    ok = validate_content(
        kind=CampaignKind.BROADCAST_SINGLE,
        text="hi",
        attachments=[
            {"msgtype": "link", "link": {"title": "t", "url": "https://x.cn"}},
            {"msgtype": "video", "video": {"material_id": video.pk}},
        ],
        organization_id=org,
    )
    assert [a["msgtype"] for a in ok] == ["link", "video"]


def test_large_audiences_need_a_managers_approval(world):
    staff = [StaffFactory(organization=world.org)]
    reachable_customers(world.org, 5, staff=staff)
    policy(world.org, approval_threshold=3)
    c = services.campaign_create(organization=world.org, name="大促", text="hi", created_by=world.operator)
    c = services.campaign_submit(campaign=c, by=world.operator)
    assert c.status == CampaignStatus.PENDING_APPROVAL
    c = services.campaign_approve(campaign=c, by=world.manager)
    assert c.status == CampaignStatus.SCHEDULED and c.approved_by == world.manager
    small = services.campaign_create(
        organization=world.org, name="小", text="hi", expression={"stores": [world.store_b.pk]}
    )
    assert services.campaign_submit(campaign=small).status == CampaignStatus.SCHEDULED


def test_due_tick_starts_by_priority_and_pause_resume_cancel(world, no_enqueue):
    staff = [StaffFactory(organization=world.org)]
    reachable_customers(world.org, 3, staff=staff)
    low = campaign(world.org, priority=1, status=CampaignStatus.SCHEDULED, due_at=at(10))
    high = campaign(world.org, priority=7, status=CampaignStatus.SCHEDULED, due_at=at(10))
    later = campaign(world.org, status=CampaignStatus.SCHEDULED, due_at=at(12))
    started = services.campaigns_due_tick(now=at(10, 30))
    assert started == [high.pk, low.pk]
    assert Delivery.objects.filter(campaign=high, status=DeliveryStatus.PLANNED).count() == 3
    assert Delivery.objects.filter(campaign=low, reason="quota").count() == 3
    later.refresh_from_db()
    assert later.status == CampaignStatus.SCHEDULED
    high.refresh_from_db()
    assert high.status == CampaignStatus.SENDING
    services.campaign_pause(campaign=high)
    assert Campaign.objects.get(pk=high.pk).status == CampaignStatus.PAUSED
    services.campaign_resume(campaign=high)
    assert Campaign.objects.get(pk=high.pk).status == CampaignStatus.SENDING
    services.campaign_cancel(campaign=high)
    assert not QuotaLedger.objects.filter(campaign=high).exists()
    assert set(Batch.objects.filter(campaign=high).values_list("status", flat=True)) == {BatchStatus.CANCELLED}
    assert set(Delivery.objects.filter(campaign=high).values_list("status", flat=True)) == {DeliveryStatus.CANCELLED}


def test_recurring_campaigns_spawn_one_run_per_occurrence(world):
    staff = [StaffFactory(organization=world.org)]
    reachable_customers(world.org, 2, staff=staff)
    parent = campaign(
        world.org,
        status=CampaignStatus.SCHEDULED,
        due_at=at(10),
        recurrence=Recurrence.DAILY,
        recurrence_until=at(11, day=25),
    )
    services.campaigns_due_tick(now=at(10, 1))
    services.campaigns_due_tick(now=at(10, 2))  # a doubled beat tick changes nothing
    parent.refresh_from_db()
    assert parent.runs.count() == 1 and parent.due_at == at(10, day=24)
    services.campaigns_due_tick(now=at(10, 1, day=24))
    services.campaigns_due_tick(now=at(10, 1, day=25))
    parent.refresh_from_db()
    assert parent.runs.count() == 3 and parent.status == CampaignStatus.DONE
    assert Delivery.objects.filter(campaign__parent=parent, status=DeliveryStatus.PLANNED).count() == 6


def test_lift_interval():
    r = lift_interval(300, 1000, 200, 1000)
    assert r["lift"] == pytest.approx(0.1)
    assert r["ci"][0] > 0 and r["significant"]
    assert lift_interval(5, 10, 0, 0)["lift"] is None


def test_orders_are_attributed_to_the_last_delivered_campaign_within_the_window(world):
    staff = [StaffFactory(organization=world.org)]
    customers = reachable_customers(world.org, 2, staff=staff)
    first, second = campaign(world.org), campaign(world.org)
    now = timezone.now()
    for c, when in ((first, now - timedelta(days=3)), (second, now - timedelta(days=1))):
        Campaign.objects.filter(pk=c.pk).update(planned_at=when, send_after=when)
        for cu in customers:
            Delivery.objects.create(
                organization=world.org, campaign=c, customer=cu, status=DeliveryStatus.DELIVERED, delivered_at=when
            )
    o1 = Order.objects.create(
        organization=world.org, customer=customers[0], amount=Decimal("99"), paid_at=now, external_ref="a"
    )
    o2 = Order.objects.create(
        organization=world.org,
        customer=customers[1],
        amount=Decimal("50"),
        paid_at=now - timedelta(days=2),
        external_ref="b",
    )
    Order.objects.create(
        organization=world.org,
        customer=customers[1],
        amount=Decimal("70"),
        paid_at=now - timedelta(days=20),
        external_ref="c",
    )
    r2 = campaign_results_compute(campaign_id=second.pk)
    r1 = campaign_results_compute(campaign_id=first.pk)
    assert Order.objects.get(pk=o1.pk).campaign_id == second.pk
    assert Order.objects.get(pk=o2.pk).campaign_id == first.pk
    assert r2["gmv"] == "99.00" and r1["gmv"] == "50.00"
    assert Order.objects.filter(campaign_id__isnull=True).count() == 1


def test_an_operator_settles_a_batch_the_dispatcher_could_not(world):
    from campaigns.models import BatchStatus, DispatchAttempt, LedgerState

    staff = [StaffFactory(organization=world.org)]
    reachable_customers(world.org, 2, staff=staff)
    c = campaign(world.org)
    from campaigns.planner import campaign_plan

    campaign_plan(campaign_id=c.pk, now=at(10))
    batch = Batch.objects.get(campaign=c)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.NEEDS_OPERATOR)
    with pytest.raises(services.CampaignError, match="msgid"):
        services.batch_resolve(batch=batch, action="adopt")
    services.batch_resolve(batch=batch, action="adopt", msgid="msgFOUND", by=world.operator)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CREATED and batch.msgid == "msgFOUND"
    assert set(QuotaLedger.objects.filter(campaign=c).values_list("state", flat=True)) == {LedgerState.USED}
    assert DispatchAttempt.objects.filter(batch=batch, outcome="reconciled").exists()
    with pytest.raises(services.CampaignError):
        services.batch_resolve(batch=batch, action="drop")


def test_a_batch_sent_on_a_later_day_moves_its_slots_to_that_day(world):
    from datetime import time as dtime

    from campaigns import dispatcher
    from campaigns.models import ExclusionReason, QuotaPolicy
    from campaigns.planner import campaign_plan

    QuotaPolicy.objects.create(organization=world.org, quiet_start=dtime(0), quiet_end=dtime(0))
    staff = [StaffFactory(organization=world.org)]
    customers = reachable_customers(world.org, 3, staff=staff)
    paused = campaign(world.org, status=CampaignStatus.SENDING)
    campaign_plan(campaign_id=paused.pk, now=at(10, day=23))
    # The next day another campaign already took customer 0's slot.
    other = campaign(world.org, expression={}, status=CampaignStatus.SENDING)
    campaign_plan(campaign_id=other.pk, now=at(8, day=24))
    QuotaLedger.objects.filter(campaign=other).exclude(customer=customers[0]).delete()
    Delivery.objects.filter(campaign=other).exclude(customer=customers[0]).update(status="excluded", reason="quota")
    batch = Batch.objects.get(campaign=paused)
    assert dispatcher._claim(batch.pk, at(11, day=24)) == "claimed"
    moved = QuotaLedger.objects.filter(campaign=paused)
    assert set(moved.values_list("window_start", flat=True)) == {at(11, day=24).date()}
    assert moved.count() == 2
    d0 = Delivery.objects.get(campaign=paused, customer=customers[0])
    assert (d0.status, d0.reason) == (DeliveryStatus.EXCLUDED, ExclusionReason.QUOTA)
