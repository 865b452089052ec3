"""The lead pool (公海): assignment by rules (round-robin, daily caps, working hours, backups) on an
injected clock, conversion by the WeCom add through the sandbox, return after N days, and scope."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.app_messages import app_message_deliver
from channels.leads.events import LeadEvent
from channels.leads.pool import RuleInput, Seat, lead_pool_rule_save, lead_pool_tick, plan_round_robin
from channels.leads.services import lead_ingest
from channels.models import (
    AppMessage,
    AssignmentStatus,
    LeadAssignment,
    LeadPoolEntry,
    LeadSource,
    PoolStatus,
)
from channels.wecom.contact_ways import contact_way_save
from channels.wecom.lead_codes import lead_code_issue
from contacts.access import actor_for_user
from contacts.models import AuditAction, AuditEntry, Staff
from contacts.services.privacy import customer_erase
from tests.channels.wecom.test_events import Relay
from tests.factories import StaffFactory
from todos.models import Todo, TodoKind, TodoStatus

pytestmark = pytest.mark.django_db

BEIJING = ZoneInfo("Asia/Shanghai")
ALL_DAY = (dt.time(0), dt.time(23, 59, 59))


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Beijing wall-clock time in the week of Monday 2026-11-30 (day 0 = Monday)."""
    return dt.datetime(2026, 11, 30, hour, minute, tzinfo=BEIJING) + dt.timedelta(days=day)


def clock(moment: dt.datetime):
    return lambda: moment


def leads(world, n: int, *, store=None, start: int = 0) -> list:
    made = []
    for i in range(start, start + n):
        lead, _ = lead_ingest(
            organization=world.org,
            store=store or world.store_a,
            event=LeadEvent(
                source=LeadSource.OCEAN_ENGINE, external_id=f"clue-{i}", occurred_at=timezone.now(),
                name=f"客户{i}", phone=f"1391234{i:04d}",
            ),
        )  # fmt: skip
        made.append(lead)
    return made


def rule(world, *, members, backups=(), cap=20, hours=ALL_DAY, days=(), return_days=3, store=None, actor=None):
    actor = actor or actor_for_user(world.operator.user)
    return lead_pool_rule_save(
        actor=actor,
        data=RuleInput(
            store_id=(store or world.store_a).pk, is_active=True, daily_cap=cap, work_start=hours[0],
            work_end=hours[1], work_days=list(days), return_days=return_days,
            member_ids=[m.pk for m in members], backup_ids=[b.pk for b in backups],
        ),
    )  # fmt: skip


def given(staff) -> int:
    return LeadAssignment.objects.filter(staff=staff).count()


def test_the_plan_rotates_skips_full_members_and_falls_back_to_backups():
    pairs, cursor = plan_round_robin(
        entries=[(1, None), (2, None), (3, None), (4, None), (5, 10), (6, None)],
        members=[Seat(10, 2), Seat(11, 1), Seat(12, 0)],
        backups=[Seat(20, 1), Seat(21, 5)],
        after_staff_id=10,
    )
    # After 10 comes 11 (1 seat), 12 is full, back to 10 (2 seats); then the backups, least given first;
    # entry 5 was 10's before: it goes to someone else (a backup) rather than back to 10.
    assert pairs == [(1, 11), (2, 10), (3, 10), (4, 20), (5, 21), (6, 21)]
    assert cursor == 10
    pairs, _ = plan_round_robin(entries=[(7, 10)], members=[Seat(10, 1)], backups=[], after_staff_id=None)
    assert pairs == [(7, 10)]  # nobody else has room: the previous member after all
    assert plan_round_robin(entries=[(8, None)], members=[Seat(10, 0)], backups=[], after_staff_id=None)[0] == []


def test_assignment_respects_working_hours_caps_and_backups(world):
    m1 = StaffFactory(organization=world.org, store=world.store_a, name="一号")
    m2 = StaffFactory(organization=world.org, store=world.store_a, name="二号")
    departed = StaffFactory(organization=world.org, store=world.store_a, name="离职", departed_at=timezone.now())
    backup = StaffFactory(organization=world.org, store=world.store_a, name="备用")
    rule(
        world,
        members=[m1, departed, m2],
        backups=[backup],
        cap=2,
        hours=(dt.time(9), dt.time(18)),
        days=(1, 2, 3, 4, 5),
        return_days=10,
    )
    made = leads(world, 7)

    # Monday 20:00 Beijing: after hours. The leads enter the pool and wait.
    assert lead_pool_tick(clock=clock(at(0, 20))) == {"filled": 7, "returned": 0, "assigned": 0}
    assert LeadPoolEntry.objects.filter(status=PoolStatus.WAITING).count() == 7

    # Tuesday 09:30: m1 and m2 take turns up to their cap of 2, the departed member is skipped, the backup
    # takes 2 more; the last one waits for tomorrow.
    assert lead_pool_tick(clock=clock(at(1, 9, 30)))["assigned"] == 6
    assert (given(m1), given(m2), given(departed), given(backup)) == (2, 2, 0, 2)
    assert LeadPoolEntry.objects.filter(status=PoolStatus.WAITING).count() == 1
    assert lead_pool_tick(clock=clock(at(1, 10)))["assigned"] == 0  # a second tick: everyone is at cap

    # Each member got a to-do with the masked phone (never the full number) and one app message.
    todo = Todo.objects.filter(assignee=m1, kind=TodoKind.LEAD_ADD).first()
    assert todo is not None and todo.payload["phone_masked"] in todo.title
    assert all(t.payload["phone_masked"].count("*") == 4 for t in Todo.objects.all())
    assert not any("1391234" in (t.title + t.body + str(t.payload)) for t in Todo.objects.all())
    assert Todo.objects.filter(kind=TodoKind.LEAD_ADD).count() == 6
    assert sorted(AppMessage.objects.values_list("staff_ids", flat=True)) == sorted([[m1.pk], [m2.pk], [backup.pk]])

    # Saturday is not a working day; the next Monday 09:00 the last one goes out.
    assert lead_pool_tick(clock=clock(at(5, 11)))["assigned"] == 0
    assert lead_pool_tick(clock=clock(at(7, 9)))["assigned"] == 1
    assert LeadPoolEntry.objects.filter(status=PoolStatus.ASSIGNED).count() == 7
    assert {e.lead_id for e in LeadPoolEntry.objects.all()} == {lead.pk for lead in made}

    # The database refuses a second open assignment of one person, whatever the code does.
    entry = LeadPoolEntry.objects.first()
    open_one = LeadAssignment.objects.get(entry=entry, status=AssignmentStatus.OPEN)
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadAssignment.objects.create(
            organization=world.org, entry=entry, staff=m2, store=world.store_a, source=entry.source,
            return_due_at=open_one.return_due_at,
        )  # fmt: skip


def test_an_unconverted_lead_returns_after_n_days_and_goes_to_someone_else_first(world):
    m1 = StaffFactory(organization=world.org, store=world.store_a, name="一号")
    m2 = StaffFactory(organization=world.org, store=world.store_a, name="二号")
    rule(world, members=[m1, m2], return_days=2, hours=(dt.time(9), dt.time(21)))
    leads(world, 1)
    lead_pool_tick(clock=clock(at(0, 10)))
    first = LeadAssignment.objects.get()
    assert first.staff == m1 and first.return_due_at == at(2, 10)

    assert lead_pool_tick(clock=clock(at(2, 9, 59)))["returned"] == 0  # not yet due
    counts = lead_pool_tick(clock=clock(at(2, 10, 1)))
    assert counts["returned"] == 1 and counts["assigned"] == 1
    first.refresh_from_db()
    assert first.status == AssignmentStatus.RETURNED
    assert Todo.objects.get(source_key=first.todo_key).status == TodoStatus.CANCELLED
    again = LeadAssignment.objects.get(status=AssignmentStatus.OPEN)
    assert again.staff == m2  # someone else first
    entry = LeadPoolEntry.objects.get()
    assert (entry.status, entry.assignee, entry.previous_assignee, entry.returns) == (PoolStatus.ASSIGNED, m2, m1, 1)

    # Outside hours a returned lead waits in the pool as 已退回.
    lead_pool_tick(clock=clock(at(4, 22)))
    entry.refresh_from_db()
    assert entry.status == PoolStatus.RETURNED and entry.assignee is None


PHONE = "13912340000"


@pytest.fixture
def relay(db, wecom_sandbox, world):
    wecom_sandbox.add_member("guide_a", "导购A")
    account = wecom_sandbox.connect(world.org, default_store=world.store_a)
    return Relay(wecom_sandbox, account)


def test_a_wecom_add_through_the_sandbox_converts_the_lead_and_the_member_got_the_app_message(
    relay, wecom_sandbox, world
):
    guide = StaffFactory(organization=world.org, store=world.store_a, name="导购A", wecom_userid="guide_a")
    way = contact_way_save(account=relay.account, name="门店码", channel="douyin", store=world.store_a, staff=[guide])
    rule(world, members=[guide])
    (lead,) = leads(world, 1)
    assert lead_pool_tick()["assigned"] == 1
    assignment = LeadAssignment.objects.get()
    todo = Todo.objects.get(source_key=assignment.todo_key)
    assert todo.assignee == guide and todo.status == TodoStatus.OPEN and todo.customer_id == lead.customer_id

    # The app message reaches the member on the sandbox's side.
    message = AppMessage.objects.get(source_key__startswith="lead_pool:")
    app_message_deliver(message_id=message.pk)
    received = wecom_sandbox.app_messages()
    assert [m["touser"] for m in received] == [["guide_a"]] and "1 条新线索" in received[0]["textcard"]["description"]
    assert received[0]["textcard"]["url"].endswith("/channels/leads/pool/?status=assigned")

    # The customer adds the member; the member typed the lead's phone as remark: OneID joins them.
    wecom_sandbox.scan(state=way.state, userid="guide_a", name="微信周", remark_mobiles=[PHONE])
    relay()
    entry = LeadPoolEntry.objects.get()
    assert (
        entry.status == PoolStatus.CONVERTED and entry.converted_by == guide and entry.customer_id == lead.customer_id
    )
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.CONVERTED and assignment.seconds_to_add is not None
    todo.refresh_from_db()
    assert todo.status == TodoStatus.DONE
    relay()  # a replayed add changes nothing
    assert LeadAssignment.objects.filter(status=AssignmentStatus.CONVERTED).count() == 1
    # A friend never enters the pool again.
    assert lead_pool_tick()["filled"] == 0

    page = world.client_for(world.operator).get("/channels/leads/pool/?status=converted")
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-entry="{entry.pk}"' in body and 'id="pool-by-member"' in body and "100.0%" in body


def test_scope_managers_see_and_assign_their_stores_and_store_staff_only_their_own(world):
    clerk = world.store_staff
    Staff.objects.filter(pk=clerk.pk).update(wecom_userid="clerk")
    b_member = StaffFactory(organization=world.org, store=world.store_b, name="B店导购")
    rule(world, members=[clerk])
    rule(world, members=[b_member], store=world.store_b)
    leads(world, 2)
    leads(world, 1, store=world.store_b, start=10)
    lead_pool_tick()
    a_entries = list(LeadPoolEntry.objects.filter(store=world.store_a).order_by("pk"))
    b_entry = LeadPoolEntry.objects.get(store=world.store_b)

    manager = world.client_for(world.manager)
    body = manager.get("/channels/leads/pool/").content.decode()
    assert all(f'data-entry="{e.pk}"' in body for e in a_entries) and f'data-entry="{b_entry.pk}"' not in body
    api = manager.get("/api/v1/lead-pool/").json()
    assert sorted(r["id"] for r in api["results"]) == [e.pk for e in a_entries]
    assert manager.get(f"/api/v1/lead-pool/?store={world.store_b.pk}").json()["results"] == []

    # A manager cannot take store B's lead, nor give one to store B's member: 400 naming the field.
    refused = manager.post(
        "/api/v1/lead-pool/assign/", {"entry_ids": [b_entry.pk], "staff_id": clerk.pk}, content_type="application/json"
    )
    assert refused.status_code == 400 and "entry_ids" in refused.json()
    refused = manager.post(
        "/api/v1/lead-pool/assign/",
        {"entry_ids": [a_entries[0].pk], "staff_id": b_member.pk},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "staff_id" in refused.json()
    b_entry.refresh_from_db()
    assert b_entry.assignee == b_member
    # Reassigning within the store: the old assignment is closed, its to-do cancelled.
    other = StaffFactory(organization=world.org, store=world.store_a, name="A店二号")
    ok = manager.post(
        "/api/v1/lead-pool/assign/",
        {"entry_ids": [a_entries[0].pk], "staff_id": other.pk},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json() == {"assigned": 1}
    old = LeadAssignment.objects.get(entry=a_entries[0], staff=clerk)
    assert old.status == AssignmentStatus.REASSIGNED
    assert Todo.objects.get(source_key=old.todo_key).status == TodoStatus.CANCELLED
    new = LeadAssignment.objects.get(entry=a_entries[0], status=AssignmentStatus.OPEN)
    assert new.staff == other and new.assigned_by == world.manager

    # Store staff: only the people assigned to them now (not one reassigned away); they cannot assign.
    staff_client = world.client_for(clerk)
    rows = staff_client.get("/api/v1/lead-pool/?status=assigned").json()["results"]
    assert [r["id"] for r in rows] == [a_entries[1].pk]
    assert staff_client.post(
        "/api/v1/lead-pool/assign/", {"entry_ids": [a_entries[1].pk], "staff_id": clerk.pk},
        content_type="application/json",
    ).status_code == 403  # fmt: skip

    # The one-tap copy: their own lead's full number, logged; another's is refused and not logged.
    copied = staff_client.post(f"/channels/leads/pool/{a_entries[1].pk}/phone/")
    assert copied.status_code == 200 and copied.json()["phone"].startswith("1391234")
    assert AuditEntry.objects.filter(
        action=AuditAction.LEAD_PHONE_COPY, target_id=str(a_entries[1].pk), actor_staff_id=clerk.pk
    ).exists()
    assert staff_client.post(f"/channels/leads/pool/{a_entries[0].pk}/phone/").status_code == 404
    assert world.client_for(world.outsider).post(f"/channels/leads/pool/{a_entries[1].pk}/phone/").status_code == 404
    assert AuditEntry.objects.filter(action=AuditAction.LEAD_PHONE_COPY).count() == 1
    assert world.client_for(world.outsider).get("/api/v1/lead-pool/").json()["results"] == []


def test_rules_page_saves_and_refuses_with_the_field(world):
    m1 = StaffFactory(organization=world.org, store=world.store_a, name="一号")
    b_member = StaffFactory(organization=world.org, store=world.store_b, name="B店导购")
    manager = world.client_for(world.manager)
    form = {
        "store": world.store_a.pk, "is_active": "on", "members": [m1.pk], "daily_cap": 5, "work_start": "09:00",
        "work_end": "18:00", "work_days": [1, 2, 3], "return_days": 2,
    }  # fmt: skip
    bad = manager.post("/channels/leads/pool/rules/new/", {**form, "work_end": "08:00"})
    assert bad.status_code == 400 and 'data-field="work_end"' in bad.content.decode()
    bad = manager.post("/channels/leads/pool/rules/new/", {**form, "members": [b_member.pk]})
    assert bad.status_code == 400  # a member of another store is not a choice for this manager
    assert manager.post("/channels/leads/pool/rules/new/", form).status_code == 302
    page = manager.get("/channels/leads/pool/rules/").content.decode()
    assert "一号" in page and "09:00–18:00" in page
    assert world.client_for(world.store_staff).get("/channels/leads/pool/rules/").status_code == 403


def test_the_pool_page_reads_a_fixed_number_of_queries(world):
    members = [StaffFactory(organization=world.org, store=world.store_a) for _ in range(2)]
    rule(world, members=members)
    leads(world, 2)
    lead_pool_tick()
    client = world.client_for(world.operator)
    url = f"/channels/leads/pool/?status=assigned&store={world.store_a.pk}"
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    leads(world, 6, start=20)
    lead_pool_tick()
    with CaptureQueriesContext(connection) as many:
        body = client.get(url).content.decode()
    assert body.count("data-entry=") == 8 and body.count("data-copy-phone=") == 8
    assert len(many) == len(few)


def test_an_add_through_the_leads_own_code_converts_it_without_a_remark_phone(
    relay, wecom_sandbox, world, django_capture_on_commit_callbacks
):
    guide = StaffFactory(organization=world.org, store=world.store_a, name="导购A", wecom_userid="guide_a")
    way = contact_way_save(account=relay.account, name="门店码", channel="douyin", store=world.store_a, staff=[guide])
    rule(world, members=[guide])
    (lead,) = leads(world, 1)
    lead_pool_tick()
    code = lead_code_issue(base=way, customer=lead.customer, lead=lead)
    assert code is not None
    wecom_sandbox.scan(state=code.state, userid="guide_a", name="微信周")  # no remark phone: the state joins them
    with django_capture_on_commit_callbacks(execute=True):
        relay()
    entry = LeadPoolEntry.objects.get()
    assert entry.status == PoolStatus.CONVERTED
    assert Todo.objects.get(kind=TodoKind.LEAD_ADD).status == TodoStatus.DONE


def test_an_erased_person_leaves_the_pool(world):
    member = StaffFactory(organization=world.org, store=world.store_a)
    rule(world, members=[member])
    (lead,) = leads(world, 1)
    lead_pool_tick()
    customer_erase(customer=lead.customer, by=world.operator, reason="客户要求删除")
    assignment = LeadAssignment.objects.get()
    assert assignment.status == AssignmentStatus.RETURNED
    assert Todo.objects.get(source_key=assignment.todo_key).status == TodoStatus.CANCELLED
    assert lead_pool_tick()["assigned"] == 0  # never handed out again
