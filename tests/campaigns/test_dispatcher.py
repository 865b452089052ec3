"""The dispatcher against the WeCom sandbox over real HTTP (no mocks of our own code)."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from campaigns import dispatcher
from campaigns.models import (
    AttemptOutcome,
    Batch,
    BatchStatus,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    DispatchAttempt,
    LedgerState,
    QuotaLedger,
    QuotaPolicy,
)
from campaigns.planner import campaign_plan
from campaigns.quota import PLATFORM_TZ
from channels import outbound
from channels.errors import TransientError
from contacts.models import TimelineEvent
from tests.campaigns.conftest import sandbox_brand
from tests.campaigns.factories import campaign, policy

pytestmark = pytest.mark.django_db


def daytime():
    """Now, or the next 10:00 platform time if now is in the default quiet hours."""
    now = timezone.now().astimezone(PLATFORM_TZ)
    if 9 <= now.hour < 21:
        return now
    day = now.date() + timedelta(days=1 if now.hour >= 21 else 0)
    return now.replace(year=day.year, month=day.month, day=day.day, hour=10, minute=0)


def planned_campaign(org, *, quiet_hours=False, **kw):
    if not quiet_hours and not QuotaPolicy.objects.filter(organization=org).exists():
        policy(org, quiet_start=time(0), quiet_end=time(0))  # tests run at any hour
    c = campaign(org, **kw)
    # Without quiet hours the plan may start now; at daytime() it would wait for tomorrow after 21:00.
    campaign_plan(campaign_id=c.pk, now=daytime() if quiet_hours else timezone.now())
    Campaign.objects.filter(pk=c.pk).update(status=CampaignStatus.SENDING)
    Batch.objects.filter(campaign=c).update(not_before=None)
    return c


def sent_recipients(sandbox):
    out = []
    for msg in sandbox.group_sends().values():
        for task in msg.tasks.values():
            out += list(task["recipients"])
    return out


def test_it_creates_one_task_per_batch_and_syncs_results(
    world, wecom_sandbox, enqueued, django_capture_on_commit_callbacks
):
    brand = sandbox_brand(wecom_sandbox, world.org)
    c = planned_campaign(world.org)
    for batch in Batch.objects.filter(campaign=c):
        assert dispatcher.batch_dispatch(batch_id=batch.pk) == "created"
        assert dispatcher.batch_dispatch(batch_id=batch.pk) == "created"  # redelivered task: no-op
    assert sorted(sent_recipients(wecom_sandbox)) == sorted(brand.ext(x) for x in brand.customers)
    assert set(DispatchAttempt.objects.values_list("outcome", flat=True)) == {AttemptOutcome.OK}
    assert set(QuotaLedger.objects.values_list("state", flat=True)) == {LedgerState.USED}

    first = Batch.objects.filter(campaign=c).first()
    assert dispatcher.batch_track(batch_id=first.pk) == "waiting"
    wecom_sandbox.manual_send([brand.ext(brand.customers[0])])  # a member's own send took one slot
    for batch in Batch.objects.filter(campaign=c):
        wecom_sandbox.confirm(batch.sender.wecom_userid, batch.msgid)
        with django_capture_on_commit_callbacks(execute=True):
            assert dispatcher.batch_track(batch_id=batch.pk) == "synced"
    d0 = Delivery.objects.get(campaign=c, customer=brand.customers[0])
    assert (d0.status, d0.reason) == (DeliveryStatus.FAILED, "quota_elsewhere")
    assert QuotaLedger.objects.get(delivery=d0).state == LedgerState.USED_ELSEWHERE
    assert Delivery.objects.filter(campaign=c, status=DeliveryStatus.DELIVERED).count() == len(brand.customers) - 1
    assert TimelineEvent.objects.filter(kind="messaged").count() == len(brand.customers) - 1
    c.refresh_from_db()
    assert c.status == CampaignStatus.DONE


def test_a_crash_after_wecom_created_the_task_is_adopted_not_sent_again(world, wecom_sandbox, enqueued, monkeypatch):
    sandbox_brand(wecom_sandbox, world.org, n_staff=1)
    c = planned_campaign(world.org)
    batch = Batch.objects.get(campaign=c)
    real = outbound.broadcast_create

    def created_then_timeout(**kw):
        real(**kw)
        raise TransientError("read timeout")

    monkeypatch.setattr(outbound, "broadcast_create", created_then_timeout)
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "unknown"
    batch.refresh_from_db()
    assert batch.status == BatchStatus.ATTEMPTING and enqueued
    monkeypatch.setattr(outbound, "broadcast_create", real)
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "adopted"
    assert len(wecom_sandbox.group_sends()) == 1
    batch.refresh_from_db()
    assert batch.msgid == next(iter(wecom_sandbox.group_sends()))
    assert batch.status == BatchStatus.CREATED


def test_an_unfinished_attempt_is_not_reconciled_while_its_call_may_still_be_in_flight(
    world, wecom_sandbox, enqueued, monkeypatch, settings
):
    """A dropped Postgres connection frees the batch's advisory lock while its worker may still be
    waiting on WeCom: until the call's timeout has passed, WeCom's list may not show the task yet."""
    sandbox_brand(wecom_sandbox, world.org, n_staff=1)
    c = planned_campaign(world.org)
    batch = Batch.objects.get(campaign=c)
    real = outbound.broadcast_create

    def lost_connection_mid_call(**kw):  # the worker "dies" before the task exists on WeCom's side
        raise KeyboardInterrupt

    monkeypatch.setattr(outbound, "broadcast_create", lost_connection_mid_call)
    with pytest.raises(KeyboardInterrupt):
        dispatcher.batch_dispatch(batch_id=batch.pk)
    monkeypatch.setattr(outbound, "broadcast_create", real)
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ATTEMPTING
    listed = []
    monkeypatch.setattr(outbound, "broadcast_list", lambda **kw: listed.append(kw) or [])
    assert settings.CAMPAIGNS_RECONCILE_AFTER_SECONDS == 25
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "reconcile_later"
    assert listed == [] and wecom_sandbox.group_sends() == {}
    assert enqueued and 20 < enqueued[-1][1] <= 26  # looked at again once the call cannot be in flight
    DispatchAttempt.objects.filter(batch=batch).update(started_at=timezone.now() - timedelta(seconds=26))
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "created"  # WeCom lists nothing: safe to send
    assert len(listed) == 1 and len(wecom_sandbox.group_sends()) == 1


def test_a_crash_before_the_call_reached_wecom_sends_once(world, wecom_sandbox, enqueued, monkeypatch):
    sandbox_brand(wecom_sandbox, world.org, n_staff=1)
    c = planned_campaign(world.org)
    batch = Batch.objects.get(campaign=c)
    monkeypatch.setattr(outbound, "broadcast_create", lambda **kw: (_ for _ in ()).throw(TransientError("refused")))
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "unknown"
    monkeypatch.undo()
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "created"
    assert len(wecom_sandbox.group_sends()) == 1


def test_ambiguous_tasks_go_to_an_operator(world, wecom_sandbox, enqueued, monkeypatch):
    brand = sandbox_brand(wecom_sandbox, world.org, n_staff=1)
    c = planned_campaign(world.org)
    batch = Batch.objects.get(campaign=c)
    real = outbound.broadcast_create

    def twice_then_timeout(**kw):
        real(**kw)
        real(**kw)  # e.g. a proxy retried the POST: WeCom now has two identical tasks
        raise TransientError("read timeout")

    monkeypatch.setattr(outbound, "broadcast_create", twice_then_timeout)
    dispatcher.batch_dispatch(batch_id=batch.pk)
    monkeypatch.undo()
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "needs_operator"
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.NEEDS_OPERATOR
    assert len(brand.customers) == len(sent_recipients(wecom_sandbox)) // 2


def test_rate_limits_put_the_batch_back_with_a_delay(
    world, wecom_sandbox, enqueued, django_capture_on_commit_callbacks
):
    sandbox_brand(wecom_sandbox, world.org, n_staff=1)
    c = planned_campaign(world.org)
    batch = Batch.objects.get(campaign=c)
    wecom_sandbox.inject_error("externalcontact/add_msg_template", 45009)
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatcher.batch_dispatch(batch_id=batch.pk) == "rate_limited"
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PENDING and batch.not_before > timezone.now()
    assert enqueued and enqueued[-1][1] >= 0.5
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "not_yet"
    Batch.objects.filter(pk=batch.pk).update(not_before=None)
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "created"


def test_nothing_is_sent_in_quiet_hours_or_while_paused(world, wecom_sandbox, enqueued):
    sandbox_brand(wecom_sandbox, world.org, n_staff=1)
    c = planned_campaign(world.org, quiet_hours=True)
    batch = Batch.objects.get(campaign=c)
    night = timezone.now().astimezone(PLATFORM_TZ).replace(hour=23, minute=30)
    assert dispatcher.batch_dispatch(batch_id=batch.pk, now=night) == "quiet_hours"
    batch.refresh_from_db()
    assert batch.not_before.astimezone(PLATFORM_TZ).hour == 9
    Campaign.objects.filter(pk=c.pk).update(status=CampaignStatus.PAUSED)
    Batch.objects.filter(pk=batch.pk).update(not_before=None)
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "campaign_paused"
    assert wecom_sandbox.group_sends() == {}


def test_reminders_are_capped_at_three_a_day(world, wecom_sandbox, enqueued):
    sandbox_brand(wecom_sandbox, world.org, n_staff=1)
    c = planned_campaign(world.org)
    batch = Batch.objects.get(campaign=c)
    dispatcher.batch_dispatch(batch_id=batch.pk)
    t0 = timezone.now()
    outcomes = [dispatcher.batch_track(batch_id=batch.pk, now=t0 + timedelta(hours=h)) for h in range(1, 20)]
    assert outcomes.count("reminded") == 3
    batch.refresh_from_db()
    assert len(batch.reminders) == 3


def test_group_broadcast_goes_to_the_owner_and_syncs_sent_groups(world, wecom_sandbox, enqueued):
    from tests.factories import CustomerGroupFactory

    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=2, n_staff=1)
    owner = brand.staff[0]
    chats = [wecom_sandbox.create_group(owner.wecom_userid, name=f"群{i}") for i in range(2)]
    groups = [CustomerGroupFactory(organization=world.org, owner=owner, wecom_chat_id=c) for c in chats]
    c = planned_campaign(world.org, kind="broadcast_group", group_ids=[g.pk for g in groups])
    batch = Batch.objects.get(campaign=c)
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "created"
    msg = wecom_sandbox.group_sends()[Batch.objects.get(pk=batch.pk).msgid]
    assert msg.chat_type == "group" and sorted(msg.tasks[owner.wecom_userid]["recipients"]) == sorted(chats)
    wecom_sandbox.confirm(owner.wecom_userid, msg.msgid)
    assert dispatcher.batch_track(batch_id=batch.pk) == "synced"
    assert Delivery.objects.filter(campaign=c, status=DeliveryStatus.DELIVERED).count() == 2


def test_moments_post_once_for_all_senders_and_sync_visibility(world, wecom_sandbox, enqueued):
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=4, n_staff=2)
    c = planned_campaign(world.org, kind="moment", text="冬季护肤小课堂")
    assert dispatcher.moment_dispatch(campaign_id=c.pk) == "created"
    assert dispatcher.moment_dispatch(campaign_id=c.pk) == "skip"  # redelivered: never a second post
    corp = wecom_sandbox.fake.corp(wecom_sandbox.corp_id)
    assert len(corp.moments) == 1
    assert sorted(next(iter(corp.moments.values()))["senders"]) == sorted(s.wecom_userid for s in brand.staff)
    assert dispatcher.moment_track(campaign_id=c.pk) in ("waiting", "synced")
    dispatcher.moment_track(campaign_id=c.pk)
    assert Delivery.objects.filter(campaign=c, status=DeliveryStatus.DELIVERED).count() == 4
    assert QuotaLedger.objects.filter(campaign=c, kind="moment").count() == 4


def test_an_opt_out_after_the_plan_still_wins_at_send_time(world, wecom_sandbox, enqueued):
    from contacts.services import customer_opt_out

    brand = sandbox_brand(wecom_sandbox, world.org)
    c = planned_campaign(world.org)
    late = brand.customers[0]
    planned = Delivery.objects.get(campaign=c, customer=late)
    assert planned.status == DeliveryStatus.PLANNED and QuotaLedger.objects.filter(delivery=planned).exists()
    customer_opt_out(customer=late, source="客户回复退订")
    for batch in Batch.objects.filter(campaign=c):
        dispatcher.batch_dispatch(batch_id=batch.pk)
    assert brand.ext(late) not in sent_recipients(wecom_sandbox)
    assert sorted(sent_recipients(wecom_sandbox)) == sorted(brand.ext(x) for x in brand.customers[1:])
    planned.refresh_from_db()
    assert (planned.status, planned.reason) == (DeliveryStatus.EXCLUDED, "opted_out")
    assert not QuotaLedger.objects.filter(delivery=planned).exists()  # the slot is free again
