"""Reads of staff to-dos, scoped to the actor: store staff read their own, managers their stores',
operators the brand's."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from contacts.access import Actor
from todos.models import Todo, TodoStatus


def todos_for_actor(actor: Actor, *, mine: bool = False, status: TodoStatus | None = TodoStatus.OPEN) -> QuerySet[Todo]:
    """The actor's to-dos by due time (``mine`` or store staff: only those assigned to them)."""
    todos = actor.scope(Todo.objects.select_related("customer", "assignee"))
    if mine or actor.is_store_staff:
        todos = todos.filter(assignee_id=actor.staff.pk)
    if status is not None:
        todos = todos.filter(status=status)
    return todos.order_by("due_at", "pk")


def todo_counts(actor: Actor) -> dict[str, int]:
    """Open and overdue to-dos assigned to the actor (the sidebar's and home page's badge). One query."""
    return Todo.objects.filter(
        organization_id=actor.organization_id, assignee_id=actor.staff.pk, status=TodoStatus.OPEN
    ).aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=timezone.now())))
