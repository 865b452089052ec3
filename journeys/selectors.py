"""Reads of journeys, scoped to the actor: the list, a journey's funnel (who sits at each step, each
step's conversion to the goal, lift against the holdout, per-member task completion), and the SQL of
"journey step reached" for the segment registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from contacts.access import Actor
from journeys.models import Journey, JourneyStep
from todos.models import Todo, TodoKind, TodoStatus


def journeys_for_actor(actor: Actor, *, status: str = "", q: str = "") -> QuerySet[Journey]:
    journeys = actor.scope(Journey.objects.all()).annotate(
        live=Count("enrollments", filter=Q(enrollments__state__in=["waiting", "holdout"])),
        total=Count("enrollments"),
    )
    if status:
        journeys = journeys.filter(status=status)
    if q:
        journeys = journeys.filter(name__icontains=q)
    return journeys.order_by("-created_at", "-pk")


def journey_for_actor(actor: Actor, pk: int) -> Journey | None:
    return actor.scope(Journey.objects.all()).filter(pk=pk).first()


OUTCOME_LABELS = {
    "waited": _("已等待"),
    "yes": _("是"),
    "no": _("否"),
    "task": _("已派任务"),
    "no_staff": _("无跟进导购"),
    "broadcast": _("已排期群发"),
    "moment": _("已排期朋友圈"),
    "coupon": _("已发券"),
    "coupon_limit": _("已领满未发券"),
    "lifecycle": _("已变更阶段"),
    "tag": _("已打标签"),
    "untag": _("已移除标签"),
    "notify": _("已通知"),
    "end": _("结束"),
    "failed": _("失败"),
    "claimed": _("执行中"),
}


@dataclass
class StepFigures:
    step: JourneyStep
    waiting: int
    reached: int
    converted: int
    outcomes: dict[str, int]

    @property
    def conversion(self) -> float | None:
        return self.converted / self.reached if self.reached else None


@dataclass
class JourneyFigures:
    steps: list[StepFigures]
    states: dict[str, int]
    treated: int
    treated_converted: int
    holdout: int
    holdout_converted: int
    members: list[dict[str, Any]]

    @property
    def treated_rate(self) -> float | None:
        return self.treated_converted / self.treated if self.treated else None

    @property
    def holdout_rate(self) -> float | None:
        return self.holdout_converted / self.holdout if self.holdout else None

    @property
    def lift(self) -> float | None:
        """What the journey adds to the goal rate over the holdout (a fraction: 0.05 = 5 points)."""
        if self.treated_rate is None or self.holdout_rate is None:
            return None
        return self.treated_rate - self.holdout_rate

    @property
    def lift_points(self) -> float | None:
        return None if self.lift is None else round(self.lift * 100, 1)


def journey_figures(actor: Actor, journey: Journey) -> JourneyFigures:
    """The journey page's figures in a few grouped queries, scoped to the actor's stores."""
    store_ids = actor.store_ids
    scope_sql = "" if store_ids is None else " AND c.home_store_id = ANY(%s)"
    scope_params: list[Any] = [] if store_ids is None else [sorted(store_ids)]
    steps = list(journey.steps.select_related("tag", "notify_staff").order_by("position"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.state, e.in_holdout, e.step_id, count(*), count(e.converted_at)
              FROM journeys_enrollment e JOIN contacts_customer c ON c.id = e.customer_id
             WHERE e.journey_id = %s{scope_sql}
          GROUP BY 1, 2, 3
            """,
            [journey.pk, *scope_params],
        )
        states: dict[str, int] = {}
        waiting: dict[int, int] = {}
        treated = treated_conv = held = held_conv = 0
        for state, in_holdout, step_id, n, conv in cursor.fetchall():
            states[state] = states.get(state, 0) + n
            if state == "waiting" and step_id:
                waiting[step_id] = waiting.get(step_id, 0) + n
            if in_holdout:
                held, held_conv = held + n, held_conv + conv
            else:
                treated, treated_conv = treated + n, treated_conv + conv
        cursor.execute(
            f"""
            SELECT r.step_id, r.outcome, count(DISTINCT r.enrollment_id),
                   count(DISTINCT r.enrollment_id) FILTER (WHERE e.converted_at IS NOT NULL)
              FROM journeys_steprun r
              JOIN journeys_enrollment e ON e.id = r.enrollment_id
              JOIN contacts_customer c ON c.id = e.customer_id
             WHERE e.journey_id = %s{scope_sql}
          GROUP BY 1, 2
            """,
            [journey.pk, *scope_params],
        )
        outcomes: dict[int, dict[str, int]] = {}
        reached: dict[int, int] = {}
        converted: dict[int, int] = {}
        for step_id, outcome, n, conv in cursor.fetchall():
            outcomes.setdefault(step_id, {})[str(OUTCOME_LABELS.get(outcome, outcome))] = n
            reached[step_id] = reached.get(step_id, 0) + n
            converted[step_id] = converted.get(step_id, 0) + conv
    member_rows = (
        actor.scope(Todo.objects.filter(kind=TodoKind.JOURNEY_TASK, payload__journey_id=journey.pk))
        .values("assignee_id", "assignee__name")
        .annotate(
            total=Count("pk"),
            done=Count("pk", filter=Q(status=TodoStatus.DONE)),
            open=Count("pk", filter=Q(status=TodoStatus.OPEN)),
        )
        .order_by("assignee__name", "assignee_id")
    )
    members: list[dict[str, Any]] = [dict(row) for row in member_rows]
    for row in members:
        row["rate"] = row["done"] / row["total"] if row["total"] else None
    return JourneyFigures(
        steps=[
            StepFigures(
                step=s,
                waiting=waiting.get(s.pk, 0),
                reached=reached.get(s.pk, 0),
                converted=converted.get(s.pk, 0),
                outcomes=outcomes.get(s.pk, {}),
            )
            for s in steps
        ],
        states=states,
        treated=treated,
        treated_converted=treated_conv,
        holdout=held,
        holdout_converted=held_conv,
        members=members,
    )


def journey_step_reached_sql(*, organization_id: int, step_id: int) -> tuple[str, list[Any]]:
    """SQL selecting ``id`` of the customers who reached a journey step (its StepRun exists): the
    segment condition "journey step reached" (registered with the segment registry later)."""
    return (
        "SELECT e.customer_id AS id FROM journeys_steprun r JOIN journeys_enrollment e ON e.id = r.enrollment_id"
        " WHERE e.organization_id = %s AND r.step_id = %s",
        [organization_id, step_id],
    )


def journey_steps_for_segments(*, organization_id: int) -> list[tuple[int, str]]:
    """(step id, label) of every step of the brand's journeys, for a segment condition's picker."""
    return [
        (s.pk, f"{s.journey.name} · {s.position}. {s.get_kind_display()}")
        for s in JourneyStep.objects.filter(journey__organization_id=organization_id)
        .select_related("journey")
        .order_by("journey__name", "position")
    ]
