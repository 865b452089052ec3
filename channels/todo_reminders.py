"""Overdue to-do reminders: a member with to-dos past due gets a WeCom app message — at most
``TODO_REMINDERS_PER_DAY`` (3) per Beijing day, and not again for the same to-dos within
``TODO_REMINDER_GAP`` — so reminders help without flooding (WeCom itself drops a member's 31st app
message in a minute). One query finds who is due; each reminder is an app message keyed by
(member, Beijing day, n), so a doubled beat tick sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.rollups import SHANGHAI
from channels.app_messages import app_message_send
from channels.models import AppMessage
from todos.models import Todo, TodoStatus

TODO_REMINDERS_PER_DAY = 3
TODO_REMINDER_GAP = dt.timedelta(hours=3)
# The page a reminder opens (set by the app that serves the to-do list; absolute URL built here).
_todo_page: list[Callable[[], str]] = []


def register_todo_page(fn: Callable[[], str]) -> None:
    """``fn()`` → the path of the members' to-do list, which a reminder's card opens."""
    _todo_page[:] = [fn]


def _due_members(now: dt.datetime) -> list[tuple[int, int, int, list[int], str]]:
    """(organization, member, overdue count, overdue to-do ids, first title) for members with overdue
    to-dos none of which was reminded within the gap."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT t.organization_id, t.assignee_id, COUNT(*), array_agg(t.id ORDER BY t.due_at, t.id),
                   (array_agg(t.title ORDER BY t.due_at, t.id))[1]
              FROM {Todo._meta.db_table} t
             WHERE t.status = %s AND t.due_at < %s
          GROUP BY t.organization_id, t.assignee_id
            HAVING bool_and(t.last_reminded_at IS NULL OR t.last_reminded_at < %s)
             ORDER BY t.organization_id, t.assignee_id
            """,
            [TodoStatus.OPEN, now, now - TODO_REMINDER_GAP],
        )
        return [(r[0], r[1], int(r[2]), list(r[3]), r[4]) for r in cursor.fetchall()]


def todo_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Beat: remind members of their overdue to-dos within the daily cap. Returns reminders recorded."""
    now = now or timezone.now()
    day = now.astimezone(SHANGHAI).date().isoformat()
    sent = 0
    for organization_id, staff_id, count, todo_ids, first in _due_members(now):
        with transaction.atomic():
            prefix = f"todo-reminder:{staff_id}:{day}:"
            done_today = AppMessage.objects.filter(
                organization_id=organization_id, source_key__startswith=prefix
            ).count()
            if done_today >= TODO_REMINDERS_PER_DAY:
                continue
            kwargs: dict[str, Any] = {}
            if _todo_page:
                kwargs = {"url": f"{settings.PUBLIC_BASE_URL}{_todo_page[0]()}", "title": _("待办提醒")}
            text = _("你有 %(n)s 条待办已超时，最早的一条：%(title)s") % {"n": count, "title": first}
            app_message_send(
                organization_id=organization_id,
                staff_ids=[staff_id],
                text=text,
                source_key=f"{prefix}{done_today + 1}",
                **kwargs,
            )
            Todo.objects.filter(pk__in=todo_ids).update(last_reminded_at=now, reminders_sent=F("reminders_sent") + 1)
            sent += 1
    return sent
