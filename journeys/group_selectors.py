"""Reads of group SOPs, scoped to the actor: the list and a SOP's per-step delivery figures."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q, QuerySet

from contacts.access import Actor
from journeys.group_models import GroupSop, GroupSopStep, GroupSopTarget


def group_sops_for_actor(
    actor: Actor, *, status: str = "", owner_id: int | None = None, store_id: int | None = None
) -> QuerySet[GroupSop]:
    sops = actor.scope(GroupSop.objects.all()).select_related("store").annotate(n_steps=Count("steps"))
    if status:
        sops = sops.filter(status=status)
    if owner_id:
        sops = sops.filter(target=GroupSopTarget.OWNER, target_ids__contains=[owner_id])
    if store_id:
        sops = sops.filter(Q(store_id=store_id) | Q(target=GroupSopTarget.STORE, target_ids__contains=[store_id]))
    return sops.order_by("-created_at", "-pk")


def group_sop_for_actor(actor: Actor, pk: int) -> GroupSop | None:
    return actor.scope(GroupSop.objects.select_related("store")).filter(pk=pk).first()


@dataclass
class GroupStepFigures:
    step: GroupSopStep
    targeted: int = 0  # (group, occurrence) pairs claimed
    occurrences: int = 0  # days it ran
    broadcast: int = 0  # planned in a group broadcast
    excluded: int = 0  # left out by the planner (quota, no sender…)
    confirmed: int = 0  # the owner confirmed the send in WeCom
    delivered: int = 0  # WeCom reported the group received it
    todos: int = 0
    todos_done: int = 0
    failed: int = 0  # no owner, or the step was refused


@dataclass
class GroupSopFigures:
    steps: list[GroupStepFigures]


FIGURES_SQL = """
    SELECT r.step_id,
           count(*),
           count(DISTINCT r.occurrence),
           count(*) FILTER (WHERE d.status IN ('planned', 'task_created', 'delivered', 'failed')),
           count(*) FILTER (WHERE d.status = 'excluded'),
           count(*) FILTER (WHERE b.confirmed_at IS NOT NULL),
           count(*) FILTER (WHERE d.status = 'delivered'),
           count(*) FILTER (WHERE r.outcome = 'todo'),
           count(*) FILTER (WHERE t.status = 'done'),
           count(*) FILTER (WHERE r.outcome IN ('no_owner', 'failed'))
      FROM journeys_groupsoprun r
      LEFT JOIN campaigns_delivery d ON d.campaign_id = r.campaign_id AND d.group_id = r.group_id
      LEFT JOIN campaigns_batch b ON b.id = d.batch_id
      LEFT JOIN todos_todo t ON r.todo_key <> '' AND t.organization_id = %s AND t.source_key = r.todo_key
     WHERE r.sop_id = %s
  GROUP BY r.step_id
"""


def group_sop_figures(sop: GroupSop) -> GroupSopFigures:
    """Per step: groups targeted, planned/excluded, owner-confirmed, delivered, to-dos and done (one query)."""
    steps = list(sop.steps.order_by("position"))
    with connection.cursor() as cursor:
        cursor.execute(FIGURES_SQL, [sop.organization_id, sop.pk])
        rows = {row[0]: row[1:] for row in cursor.fetchall()}
    out = []
    for step in steps:
        row = rows.get(step.pk)
        out.append(GroupStepFigures(step, *row) if row else GroupStepFigures(step))
    return GroupSopFigures(steps=out)
