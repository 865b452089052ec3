"""Writes for staff to-dos. Producers create them (idempotently, by ``source_key``) and close them when
the thing happened by itself (a lead added on WeCom, a journey left); members complete them.

A producer that must learn when its to-do is done registers a listener for its kind; listeners run on
commit of the completion, with the to-do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.access import Actor
from contacts.models import Role, Staff
from contacts.services import ContactsError
from todos.models import Todo, TodoKind, TodoStatus

logger = logging.getLogger(__name__)

DoneListener = Callable[[Todo], None]
_done_listeners: dict[str, list[DoneListener]] = {}


class TodoError(ContactsError):
    """A to-do that cannot be changed as asked; the message says why, in the user's language."""


@dataclass(frozen=True)
class TodoSpec:
    """One to-do to create; ``source_key`` makes creating it again a no-op."""

    assignee_id: int
    kind: TodoKind
    title: str
    due_at: datetime
    source_key: str
    body: str = ""
    customer_id: int | None = None
    store_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def register_todo_done_listener(kind: TodoKind, fn: DoneListener) -> None:
    """``fn(todo)`` runs after commit whenever a to-do of ``kind`` is completed by a member."""
    listeners = _done_listeners.setdefault(str(kind), [])
    if fn not in listeners:
        listeners.append(fn)


def todos_create(*, organization_id: int, specs: Iterable[TodoSpec]) -> int:
    """Create to-dos in one INSERT; those whose ``source_key`` already exists are left as they are.

    A to-do without a store takes its assignee's. Returns how many were new.
    """
    specs = list(specs)
    if not specs:
        return 0
    stores = dict(
        Staff.objects.filter(organization_id=organization_id, pk__in={s.assignee_id for s in specs}).values_list(
            "pk", "store_id"
        )
    )
    missing = {s.assignee_id for s in specs} - stores.keys()
    if missing:
        raise TodoError(_("负责人不属于本品牌：%(ids)s") % {"ids": ", ".join(map(str, sorted(missing)))})
    rows = [
        Todo(
            organization_id=organization_id,
            assignee_id=s.assignee_id,
            store_id=s.store_id if s.store_id is not None else stores[s.assignee_id],
            kind=s.kind,
            title=s.title[:200],
            body=s.body,
            customer_id=s.customer_id,
            payload=s.payload,
            due_at=s.due_at,
            source_key=s.source_key,
        )
        for s in specs
    ]
    before = Todo.objects.filter(organization_id=organization_id, source_key__in=[s.source_key for s in specs])
    existing = before.count()
    Todo.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return len({s.source_key for s in specs}) - existing


def todo_create(*, organization_id: int, spec: TodoSpec) -> tuple[Todo, bool]:
    """One to-do (see :func:`todos_create`): the row and whether it is new."""
    created = todos_create(organization_id=organization_id, specs=[spec]) == 1
    return Todo.objects.get(organization_id=organization_id, source_key=spec.source_key), created


def todo_complete(*, actor: Actor, todo_id: int) -> Todo:
    """The actor marks a to-do done: their own, or (operators, managers) one in their scope.

    Completing a to-do that is already done is a no-op; a cancelled one cannot be completed.
    """
    with transaction.atomic():
        todo = actor.scope(Todo.objects.select_for_update()).filter(pk=todo_id).first()
        if todo is None or (actor.role == Role.STORE_STAFF and todo.assignee_id != actor.staff.pk):
            raise TodoError(_("待办不存在或不在你的范围内"))
        if todo.status == TodoStatus.DONE:
            return todo
        if todo.status == TodoStatus.CANCELLED:
            raise TodoError(_("该待办已取消，无需完成"))
        todo.status = TodoStatus.DONE
        todo.done_at = timezone.now()
        todo.done_by = actor.staff
        todo.save(update_fields=["status", "done_at", "done_by"])
        listeners = list(_done_listeners.get(todo.kind, []))

        def notify() -> None:
            for fn in listeners:
                try:
                    fn(todo)
                except Exception:  # one producer's failure must not hide the completion from the others
                    logger.exception("to-do done listener %r failed for to-do %s", fn, todo.pk)

        transaction.on_commit(notify)
    return todo


def todos_close(*, organization_id: int, source_keys: Iterable[str], status: TodoStatus = TodoStatus.CANCELLED) -> int:
    """Close open to-dos by their producer's keys (the lead was added anyway, the customer left the
    journey): ``DONE`` when the goal was reached without the member, ``CANCELLED`` when it no longer
    applies. One UPDATE; returns how many were open."""
    if status == TodoStatus.OPEN:
        raise ValueError("todos_close closes to-dos; it cannot reopen them")
    return Todo.objects.filter(
        organization_id=organization_id, source_key__in=list(source_keys), status=TodoStatus.OPEN
    ).update(status=status, done_at=timezone.now())


def customer_todos_export(customer_id: int) -> list[dict[str, Any]]:
    """A customer's to-dos for their personal-data export."""
    return [
        {
            "kind": todo.get_kind_display(),
            "title": todo.title,
            "body": todo.body,
            "due_at": todo.due_at.isoformat(),
            "status": todo.get_status_display(),
        }
        for todo in Todo.objects.filter(customer_id=customer_id).order_by("due_at", "pk")
    ]


def customer_todos_erase(customer_id: int) -> dict[str, int]:
    """Erasure handler: a customer's to-dos stay for the members' completion figures, but without
    the person — no link, no text, no payload. Open ones are cancelled. One UPDATE."""
    now = timezone.now()
    rows = Todo.objects.filter(customer_id=customer_id)
    open_count = rows.filter(status=TodoStatus.OPEN).update(status=TodoStatus.CANCELLED, done_at=now)
    count = rows.update(customer=None, title=_("已删除客户的待办"), body="", payload={})
    return {"todos": count, "todos_cancelled": open_count}
