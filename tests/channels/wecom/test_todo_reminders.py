"""Overdue to-do reminders reach the member through the sandbox: at most 3 a Beijing day, not again for
the same to-dos within the gap, and a doubled tick sends nothing twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from channels.app_messages import app_message_deliver
from channels.models import AppMessage
from channels.todo_reminders import TODO_REMINDER_GAP, register_todo_page, todo_reminders_send
from todos import services as todos
from todos.models import Todo, TodoKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(wecom_sandbox, world):
    world.store_staff.wecom_userid = "guide_a"
    world.store_staff.save(update_fields=["wecom_userid"])
    wecom_sandbox.add_member("guide_a", "导购A")
    wecom_sandbox.connect(world.org)
    return world.store_staff


def _todo(world, staff, key, due):
    todos.todo_create(
        organization_id=world.org.pk,
        spec=todos.TodoSpec(
            assignee_id=staff.pk, kind=TodoKind.FOLLOW_UP, title=f"回访{key}", due_at=due, source_key=key
        ),
    )


def test_overdue_todos_are_reminded_three_times_a_day_at_most(clerk, world, wecom_sandbox):
    now = timezone.now()
    _todo(world, clerk, "a", now - dt.timedelta(hours=2))
    _todo(world, clerk, "b", now - dt.timedelta(hours=1))
    _todo(world, clerk, "later", now + dt.timedelta(hours=5))
    _todo(world, world.manager, "no-wecom", now + dt.timedelta(hours=5))  # not due: nothing for the manager
    register_todo_page(lambda: "/todos/")
    assert todo_reminders_send(now=now) == 1
    assert todo_reminders_send(now=now) == 0  # the same to-dos, inside the gap
    message = AppMessage.objects.get()
    assert "2 条待办已超时" in message.text and "回访a" in message.text and message.url.endswith("/todos/")
    app_message_deliver(message_id=message.pk)
    assert wecom_sandbox.app_messages()[0]["touser"] == ["guide_a"]
    assert set(Todo.objects.filter(source_key__in=["a", "b"]).values_list("reminders_sent", flat=True)) == {1}
    # Through one Beijing day: a reminder every gap, three at most.
    beijing = dt.timezone(dt.timedelta(hours=8))
    day = (now.astimezone(beijing) - dt.timedelta(days=2)).replace(hour=0, minute=10, second=0, microsecond=0)
    AppMessage.objects.all().delete()
    Todo.objects.filter(source_key__in=["a", "b"]).update(due_at=day, last_reminded_at=None, reminders_sent=0)
    for step in range(5):
        todo_reminders_send(now=day + dt.timedelta(minutes=20) + step * (TODO_REMINDER_GAP + dt.timedelta(minutes=1)))
    assert AppMessage.objects.count() == 3
    assert sorted(AppMessage.objects.values_list("source_key", flat=True))[-1].endswith(":3")
    # The next Beijing day starts a new count.
    assert todo_reminders_send(now=day + dt.timedelta(days=1)) == 1


def test_a_done_todo_is_not_reminded(clerk, world):
    now = timezone.now()
    _todo(world, clerk, "a", now - dt.timedelta(hours=2))
    Todo.objects.filter(source_key="a").update(status="done", done_at=now)
    assert todo_reminders_send(now=now) == 0
