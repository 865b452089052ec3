"""Group SOP (群SOP) through simulated days (an injected clock) for hundreds of groups: each due
occurrence delivered once, doubled ticks deliver nothing twice, paused SOPs deliver nothing, quiet hours
defer group broadcasts, the broadcast reaches the WeCom sandbox, and the to-do mode gives one to-do per
owner + group + occurrence."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from campaigns import dispatcher
from campaigns.models import Batch, Campaign, CampaignKind, CapMode, Delivery, DeliveryStatus, QuotaLedger
from campaigns.quota import PLATFORM_TZ
from contacts.access import actor_for_user
from journeys.group_models import GroupSopRun, GroupSopSchedule
from journeys.group_selectors import group_sop_figures
from journeys.group_sop import GroupSopError, GroupStepSpec, group_sop_create, group_sop_set_status, group_sop_tick
from tests.campaigns.conftest import enqueued, sandbox_brand  # noqa: F401  (enqueued: a fixture)
from tests.campaigns.factories import policy
from tests.factories import CustomerGroupFactory, StaffFactory
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)
from todos.models import Todo, TodoKind
from todos.services import todo_complete

pytestmark = pytest.mark.django_db

SH = PLATFORM_TZ
MONDAY = dt.datetime(2026, 3, 2, 0, 0, tzinfo=SH)


def _groups(world, n_per_owner=100, owners=3):
    staff = [StaffFactory(organization=world.org, store=world.store_a) for _ in range(owners)]
    groups = []
    for i, s in enumerate(staff):
        store = world.store_a if i % 2 == 0 else world.store_b
        groups += CustomerGroupFactory.create_batch(n_per_owner, organization=world.org, owner=s, store=store)
    return staff, groups


def _run_days(start, days, *, every_minutes=30, doubled=True):
    now = start
    total = Counter()
    while now < start + dt.timedelta(days=days):
        total.update(group_sop_tick(now=now).outcomes)
        if doubled:
            assert group_sop_tick(now=now).claimed == 0  # a doubled tick delivers nothing
        now += dt.timedelta(minutes=every_minutes)
    return total


@pytest.mark.usefixtures("enqueued")
def test_a_week_of_daily_and_weekly_broadcasts_delivers_each_occurrence_once(world):
    policy(world.org, group_mode=CapMode.MONTHLY)  # room for 1 + 2 posts a day this week
    staff, groups = _groups(world)
    actor = actor_for_user(world.operator.user)
    sop = group_sop_create(
        actor=actor,
        name="早安 + 周一周三新品",
        target="owner",
        target_ids=[staff[0].pk, staff[1].pk],
        steps=[
            GroupStepSpec(schedule=GroupSopSchedule.DAILY, at_time=dt.time(10, 0), text="早安"),
            GroupStepSpec(schedule=GroupSopSchedule.WEEKLY, at_time=dt.time(15, 0), weekdays=(1, 3), text="上新"),
        ],
    )
    group_sop_set_status(actor=actor, sop=sop, status="active", now=MONDAY)
    outcomes = _run_days(MONDAY, 7)

    targeted = {g.pk for g in groups if g.owner_id in (staff[0].pk, staff[1].pk)}
    assert len(targeted) == 200
    assert outcomes == {"broadcast": 200 * 9, "broadcast_excluded": 0}
    runs = GroupSopRun.objects.filter(sop=sop)
    assert runs.count() == 200 * 9 and set(runs.values_list("group_id", flat=True)) == targeted
    per_day = Counter(runs.values_list("step__position", "occurrence"))
    assert all(n == 200 for n in per_day.values())
    assert sorted({d.isoweekday() for (pos, d) in per_day if pos == 2}) == [1, 3]
    # One group broadcast per step and day, each a campaigns broadcast_group planned through the ledger.
    campaigns = Campaign.objects.filter(kind=CampaignKind.BROADCAST_GROUP)
    assert campaigns.count() == 9
    assert all(sorted(c.group_ids) == sorted(targeted) for c in campaigns)
    assert Delivery.objects.filter(status=DeliveryStatus.PLANNED).count() == 200 * 9
    assert QuotaLedger.objects.filter(kind="wecom_group").count() == 200 * 9
    # Every batch is sent by the groups' owner.
    assert set(Batch.objects.values_list("sender_id", flat=True)) == {staff[0].pk, staff[1].pk}


@pytest.mark.usefixtures("enqueued")
def test_the_group_quota_ledger_refuses_a_second_post_the_same_day(world):
    staff, _ = _groups(world, n_per_owner=50, owners=1)
    actor = actor_for_user(world.operator.user)
    sop = group_sop_create(
        actor=actor,
        name="一天两条",
        target="owner",
        target_ids=[staff[0].pk],
        steps=[
            GroupStepSpec(schedule=GroupSopSchedule.DAILY, at_time=dt.time(10, 0), text="早"),
            GroupStepSpec(schedule=GroupSopSchedule.DAILY, at_time=dt.time(16, 0), text="午"),
        ],
    )
    group_sop_set_status(actor=actor, sop=sop, status="active", now=MONDAY)
    outcomes = _run_days(MONDAY, 1, doubled=False)
    # WeCom lets a group receive one broadcast a day (the default policy): the ledger excludes the 16:00 post.
    assert outcomes == {"broadcast": 50, "broadcast_excluded": 50}
    assert Counter(Delivery.objects.values_list("status", "reason")) == {("planned", ""): 50, ("excluded", "quota"): 50}


@pytest.mark.usefixtures("enqueued")
def test_quiet_hours_defer_a_group_broadcast_to_their_end(world):
    staff, _ = _groups(world, n_per_owner=20, owners=1)
    actor = actor_for_user(world.operator.user)
    sop = group_sop_create(
        actor=actor,
        name="深夜",
        target="owner",
        target_ids=[staff[0].pk],
        steps=[GroupStepSpec(schedule=GroupSopSchedule.DAILY, at_time=dt.time(22, 30), text="晚安")],
    )
    group_sop_set_status(actor=actor, sop=sop, status="active", now=MONDAY)
    group_sop_tick(now=MONDAY + dt.timedelta(hours=22))
    assert not Campaign.objects.exists()
    group_sop_tick(now=MONDAY + dt.timedelta(hours=22, minutes=31))
    campaign = Campaign.objects.get()
    next_morning = dt.datetime(2026, 3, 3, 9, 0, tzinfo=SH)  # the default quiet hours end at 09:00
    assert campaign.send_after == next_morning
    assert set(Batch.objects.values_list("not_before", flat=True)) == {next_morning}
    assert set(QuotaLedger.objects.values_list("window_start", flat=True)) == {next_morning.date()}


def test_paused_sops_deliver_nothing_and_a_resume_skips_what_fell_due_meanwhile(world):
    _staff, groups = _groups(world, n_per_owner=100, owners=3)
    orphans = CustomerGroupFactory.create_batch(5, organization=world.org, owner=None, store=world.store_a)
    actor = actor_for_user(world.operator.user)
    sop = group_sop_create(
        actor=actor,
        name="门店A 每日打卡",
        delivery="todo",
        target="store",
        target_ids=[world.store_a.pk],
        steps=[GroupStepSpec(schedule=GroupSopSchedule.DAILY, at_time=dt.time(9, 0), text="今日打卡：晒出你的早餐")],
    )
    group_sop_set_status(actor=actor, sop=sop, status="active", now=MONDAY)
    in_store = [g for g in groups if g.store_id == world.store_a.pk]
    assert len(in_store) == 200

    day1 = _run_days(MONDAY, 1)
    assert day1 == {"todo": 200, "no_owner": 5}
    group_sop_set_status(actor=actor, sop=sop, status="paused", now=MONDAY + dt.timedelta(days=1))
    assert _run_days(MONDAY + dt.timedelta(days=1), 1) == {}
    # Resumed on day 3 at 12:00: the 09:00 post of that day is not sent late; day 4's is.
    group_sop_set_status(actor=actor, sop=sop, status="active", now=MONDAY + dt.timedelta(days=2, hours=12))
    assert _run_days(MONDAY + dt.timedelta(days=2, hours=12), 1.5) == {"todo": 200, "no_owner": 5}

    todos = Todo.objects.filter(kind=TodoKind.GROUP_POST)
    assert todos.count() == 400
    # One to-do per owner + group + occurrence, assigned to the group's owner, with the text to paste.
    assert Counter(todos.values_list("assignee_id", "payload__group_id")).most_common(1)[0][1] == 2
    owners = {g.pk: g.owner_id for g in in_store}
    assert all(t.assignee_id == owners[t.payload["group_id"]] for t in todos)
    assert all(t.body == "今日打卡：晒出你的早餐" for t in todos)
    assert {o.pk for o in orphans} == set(
        GroupSopRun.objects.filter(outcome="no_owner").values_list("group_id", flat=True)
    )

    done = todos.first()
    todo_complete(actor=actor, todo_id=done.pk)
    figures = group_sop_figures(sop)
    assert figures.steps[0].targeted == 410 and figures.steps[0].todos == 400 and figures.steps[0].todos_done == 1

    # Archiving cancels the owners' open to-dos; the done one stays done.
    group_sop_set_status(actor=actor, sop=sop, status="archived", now=MONDAY + dt.timedelta(days=5))
    assert Counter(todos.values_list("status", flat=True)) == {"cancelled": 399, "done": 1}


def test_n_days_after_the_group_was_created(world):
    owner = StaffFactory(organization=world.org, store=world.store_a)
    early = CustomerGroupFactory(organization=world.org, owner=owner, created_at=MONDAY - dt.timedelta(days=10))
    new = CustomerGroupFactory(organization=world.org, owner=owner, created_at=MONDAY + dt.timedelta(hours=15))
    actor = actor_for_user(world.operator.user)
    sop = group_sop_create(
        actor=actor,
        name="新群暖场",
        delivery="todo",
        target="owner",
        target_ids=[owner.pk],
        steps=[
            GroupStepSpec(schedule=GroupSopSchedule.AFTER_GROUP_CREATED, at_time=dt.time(20, 0), days=0, text="群规"),
            GroupStepSpec(schedule=GroupSopSchedule.AFTER_GROUP_CREATED, at_time=dt.time(20, 0), days=3, text="福利"),
        ],
    )
    group_sop_set_status(actor=actor, sop=sop, status="active", now=MONDAY)
    _run_days(MONDAY, 6, every_minutes=60)
    runs = list(GroupSopRun.objects.order_by("occurrence").values_list("group_id", "step__position", "occurrence"))
    assert runs == [(new.pk, 1, dt.date(2026, 3, 2)), (new.pk, 2, dt.date(2026, 3, 5))]
    assert early.pk not in {r[0] for r in runs}


def test_a_weekly_step_needs_a_weekday(world):
    actor = actor_for_user(world.operator.user)
    with pytest.raises(GroupSopError) as exc:
        group_sop_create(
            actor=actor,
            name="周更",
            steps=[GroupStepSpec(schedule=GroupSopSchedule.WEEKLY, at_time=dt.time(9, 0), text="x")],
        )
    assert exc.value.field == "weekdays"


@pytest.mark.usefixtures("enqueued")
def test_the_group_broadcast_reaches_the_sandbox_from_the_owner(world, request):
    sandbox = request.getfixturevalue("wecom_sandbox")
    brand = sandbox_brand(sandbox, world.org, n_customers=2, n_staff=2)
    owner, other = brand.staff
    policy(world.org, quiet_start=dt.time(0), quiet_end=dt.time(0))  # tests run at any hour
    chats = [sandbox.create_group(owner.wecom_userid, name=f"群{i}") for i in range(3)]
    groups = [CustomerGroupFactory(organization=world.org, owner=owner, wecom_chat_id=c) for c in chats]
    other_chat = sandbox.create_group(other.wecom_userid, name="别人的群")
    CustomerGroupFactory(organization=world.org, owner=other, wecom_chat_id=other_chat)
    actor = actor_for_user(world.operator.user)
    sop = group_sop_create(
        actor=actor,
        name="每日早安群发",
        target="groups",
        target_ids=[g.pk for g in groups],
        steps=[
            GroupStepSpec(
                schedule=GroupSopSchedule.DAILY,
                at_time=dt.time(0, 0),
                text="早上好",
                attachments=({"msgtype": "link", "link": {"title": "新品", "url": "https://example.com/new"}},),
            )
        ],
    )
    now = timezone.now()
    start_of_day = now.astimezone(SH).replace(hour=0, minute=0, second=0, microsecond=0)
    group_sop_set_status(actor=actor, sop=sop, status="active", now=start_of_day)
    assert group_sop_tick(now=now).outcomes == {"broadcast": 3, "broadcast_excluded": 0}
    assert group_sop_tick(now=now).claimed == 0
    batch = Batch.objects.get()
    assert dispatcher.batch_dispatch(batch_id=batch.pk) == "created"
    sends = sandbox.group_sends()
    assert len(sends) == 1
    msg = next(iter(sends.values()))
    assert msg.chat_type == "group"
    assert list(msg.tasks) == [owner.wecom_userid]
    assert sorted(msg.tasks[owner.wecom_userid]["recipients"]) == sorted(chats)

    sandbox.confirm(owner.wecom_userid, msg.msgid)  # the owner taps 发送 in WeCom
    assert dispatcher.batch_track(batch_id=batch.pk) == "synced"
    figures = group_sop_figures(sop).steps[0]
    assert (figures.targeted, figures.delivered, figures.confirmed) == (3, 3, 3)


class _Killed(BaseException):
    """Stands for the worker dying mid-tick (not an Exception: nothing in the tick catches it)."""


@pytest.mark.usefixtures("enqueued")
def test_a_tick_that_dies_before_commit_leaves_nothing_and_the_next_one_delivers_once(world, monkeypatch):
    from journeys import group_sop

    staff, _ = _groups(world, n_per_owner=30, owners=1)
    actor = actor_for_user(world.operator.user)
    sop = group_sop_create(
        actor=actor,
        name="早安",
        target="owner",
        target_ids=[staff[0].pk],
        steps=[GroupStepSpec(schedule=GroupSopSchedule.DAILY, at_time=dt.time(10, 0), text="早安")],
    )
    group_sop_set_status(actor=actor, sop=sop, status="active", now=MONDAY)
    real_start = group_sop.campaign_start

    def dies(**kw):
        real_start(**kw)
        raise _Killed

    monkeypatch.setattr(group_sop, "campaign_start", dies)
    with pytest.raises(_Killed):
        group_sop_tick(now=MONDAY + dt.timedelta(hours=10, minutes=1))
    ours = Campaign.objects.filter(stats__group_sop_id=sop.pk)
    assert not GroupSopRun.objects.exists() and not ours.exists()
    assert not QuotaLedger.objects.filter(kind="wecom_group").exists()
    monkeypatch.setattr(group_sop, "campaign_start", real_start)
    assert group_sop_tick(now=MONDAY + dt.timedelta(hours=10, minutes=2)).outcomes == {
        "broadcast": 30,
        "broadcast_excluded": 0,
    }
    assert group_sop_tick(now=MONDAY + dt.timedelta(hours=10, minutes=3)).claimed == 0
    assert ours.count() == 1 and Delivery.objects.filter(campaign__in=ours, status="planned").count() == 30


def test_the_beat_task_runs_the_tick(world, monkeypatch):
    from journeys import tasks

    seen = []
    monkeypatch.setattr(tasks.group_sop, "group_sop_tick", lambda: seen.append(1) or group_sop_tick(now=MONDAY))
    tasks.group_sop_tick.apply()
    assert seen == [1]
