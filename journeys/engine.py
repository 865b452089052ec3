"""The journey engine: enrol customers and advance every due enrollment, in set-based SQL.

One tick (beat ``journeys.tick``, or :func:`journeys_tick` with an injected ``now`` in tests):

1. scheduled triggers enrol their customers (first order, N days since the last order, segment);
2. goals are recorded and exit rules applied (ordered, opted out, erased, holdout window over);
3. rounds until nothing is due: **claim** up to ``batch`` due enrollments by inserting their
   ``StepRun`` (``INSERT … SELECT … FOR UPDATE SKIP LOCKED … ON CONFLICT DO NOTHING``), make each
   step's action for all its claimed customers at once (to-dos, a planned campaign, tags, app
   messages — all rows in this transaction; what leaves the building is sent after commit by the
   owners' own tasks, each idempotent by its key), then move the enrollments on with one UPDATE
   per (step, branch). Claim, action and move commit together: a crash rolls all three back and
   the next tick does them once; a second tick finds the StepRun already there.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from channels.app_messages import AppMessageError, app_message_send
from contacts import services as contacts
from contacts.models import Customer, Organization, Tag, TagSource, TimelineKind
from contacts.segments import compile_sql
from journeys.models import WAIT_KINDS, ConditionKind, EnrollmentState, Journey, JourneyStep, StepKind
from offers.models import CouponSource
from offers.services import CouponError, coupon_issue, coupon_link
from todos.models import TodoKind
from todos.services import TodoSpec, todos_close, todos_create

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLDOUT_SQL = "((hashint8extended({col}, %s::bigint) & 2147483647) %% 100) < %s"
TASK_DUE = dt.timedelta(days=1)
# A holdout enrollment with no goal window still leaves after this long.
HOLDOUT_DEFAULT_DAYS = 30


def task_key(run_id: int) -> str:
    return f"journey:{run_id}"


def arrival_due(step: JourneyStep, now: dt.datetime) -> dt.datetime:
    """When an enrollment arriving at ``step`` at ``now`` is due to run it."""
    if step.kind == StepKind.WAIT_DAYS:
        return now + dt.timedelta(days=step.days)
    if step.kind == StepKind.WAIT_HOURS:
        return now + dt.timedelta(hours=step.hours)
    if step.kind == StepKind.WAIT_UNTIL and step.at_time is not None:
        local = now.astimezone(SHANGHAI)
        at = dt.datetime.combine(local.date(), step.at_time, tzinfo=SHANGHAI)
        if at <= local:
            at += dt.timedelta(days=1)
        return at
    if step.kind == StepKind.WAIT_WEEKDAY and step.weekday is not None:
        # The next such weekday at HH:MM Beijing time (00:00 without a time), strictly after now.
        local = now.astimezone(SHANGHAI)
        ahead = (step.weekday - local.weekday()) % 7
        at = dt.datetime.combine(local.date() + dt.timedelta(days=ahead), step.at_time or dt.time(0), tzinfo=SHANGHAI)
        if at <= local:
            at += dt.timedelta(days=7)
        return at
    return now


# --- enrolment -----------------------------------------------------------------------------------


def enrol(*, journey: Journey, customer_sql: str, params: list[Any], now: dt.datetime) -> int:
    """Enrol the customers ``customer_sql`` selects (``SELECT id …``) by the journey's entry rule.

    One INSERT … SELECT; a customer already in the journey is skipped by the partial unique index.
    Opted-out and erased customers never enter. Returns how many entered (holdout included).
    """
    first = journey.steps.order_by("position").first()
    if first is None:
        return 0
    if journey.entry_rule == "once":
        rule = "TRUE"
        rule_params: list[Any] = []
    elif journey.entry_rule == "once_per_days":
        rule = "(e.state IN ('waiting', 'holdout') OR e.entered_at > %s)"
        rule_params = [now - dt.timedelta(days=journey.entry_days)]
    else:
        rule = "e.state IN ('waiting', 'holdout')"
        rule_params = []
    holdout = HOLDOUT_SQL.format(col="c.id")
    holdout_until = now + dt.timedelta(days=journey.goal_days or HOLDOUT_DEFAULT_DAYS)
    sql = f"""
        WITH cand AS (
            SELECT c.id, {holdout} AS held
              FROM contacts_customer c
             WHERE c.organization_id = %s AND c.erased_at IS NULL AND c.opted_out_at IS NULL
               AND c.id IN ({customer_sql})
               AND NOT EXISTS (
                   SELECT 1 FROM journeys_enrollment e WHERE e.journey_id = %s AND e.customer_id = c.id AND {rule}
               )
        )
        INSERT INTO journeys_enrollment
            (organization_id, journey_id, customer_id, step_id, visit, due_at, state, in_holdout,
             entered_at, exit_reason)
        SELECT %s, %s, cand.id,
               CASE WHEN cand.held THEN NULL ELSE %s::bigint END, 1,
               CASE WHEN cand.held THEN %s ELSE %s END,
               CASE WHEN cand.held THEN 'holdout' ELSE 'waiting' END,
               cand.held, %s, ''
          FROM cand
        ON CONFLICT (journey_id, customer_id) WHERE state IN ('waiting', 'holdout') DO NOTHING
        RETURNING customer_id, in_holdout
    """
    all_params = [
        journey.holdout_seed,
        journey.holdout_percent,
        journey.organization_id,
        *params,
        journey.pk,
        *rule_params,
        journey.organization_id,
        journey.pk,
        first.pk,
        holdout_until,
        arrival_due(first, now),
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        rows = cursor.fetchall()
    entered = [cid for cid, held in rows if not held]
    held = [cid for cid, h in rows if h]
    for ids, summary in ((entered, f"进入旅程：{journey.name}"), (held, f"进入旅程（对照组，不触达）：{journey.name}")):
        if ids:
            contacts.timeline_add_bulk(
                organization_id=journey.organization_id,
                customer_ids=ids,
                kind=TimelineKind.JOURNEY,
                summary=summary,
                data={"journey_id": journey.pk},
                occurred_at=now,
            )
    return len(rows)


def enrol_ids(*, journey: Journey, customer_ids: list[int], now: dt.datetime) -> int:
    return enrol(
        journey=journey,
        customer_sql="SELECT unnest(%s::bigint[])",
        params=[[int(i) for i in customer_ids]],
        now=now,
    )


# --- exits and goals -----------------------------------------------------------------------------


def exits_and_goals(*, now: dt.datetime) -> int:
    """Record goals reached, then apply exit rules; close the exited enrollments' open tasks.

    Set-based; returns how many enrollments left."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE journeys_enrollment e
               SET converted_at = c.last_order_at,
                   converted_position = (SELECT s.position FROM journeys_journeystep s WHERE s.id = e.step_id)
              FROM contacts_customer c, journeys_journey j
             WHERE c.id = e.customer_id AND j.id = e.journey_id AND e.converted_at IS NULL AND j.goal_days > 0
               AND c.last_order_at >= e.entered_at AND c.last_order_at <= %s
               AND c.last_order_at < e.entered_at + j.goal_days * interval '1 day'
            """,
            [now],
        )
        cursor.execute(
            """
            UPDATE journeys_enrollment e
               SET state = 'exited', exited_at = %s,
                   exit_reason = CASE
                     WHEN c.erased_at IS NOT NULL THEN 'erased'
                     WHEN e.state = 'holdout' THEN 'holdout_end'
                     WHEN j.exit_on_opt_out AND c.opted_out_at IS NOT NULL THEN 'opted_out'
                     ELSE 'ordered' END
              FROM contacts_customer c, journeys_journey j
             WHERE c.id = e.customer_id AND j.id = e.journey_id AND e.state IN ('waiting', 'holdout')
               AND (c.erased_at IS NOT NULL
                    OR (e.state = 'holdout' AND e.due_at <= %s)
                    OR (e.state = 'waiting' AND j.exit_on_opt_out AND c.opted_out_at IS NOT NULL)
                    OR (e.state = 'waiting' AND j.exit_on_order AND c.last_order_at >= e.entered_at
                        AND c.last_order_at <= %s))
         RETURNING e.id, e.organization_id
            """,
            [now, now, now],
        )
        exited = cursor.fetchall()
        _close_tasks(cursor, exited)
    return len(exited)


def _close_tasks(cursor: Any, enrollments: list[tuple[int, int]]) -> None:
    """Cancel the open to-dos of enrollments that left (the task no longer applies)."""
    if not enrollments:
        return
    cursor.execute(
        """
        SELECT e.organization_id, r.id FROM journeys_steprun r
          JOIN journeys_enrollment e ON e.id = r.enrollment_id
         WHERE r.enrollment_id = ANY(%s) AND r.outcome = 'task'
        """,
        [[e for e, _org in enrollments]],
    )
    by_org: dict[int, list[str]] = defaultdict(list)
    for org, run_id in cursor.fetchall():
        by_org[org].append(task_key(run_id))
    for org, keys in by_org.items():
        todos_close(organization_id=org, source_keys=keys)


# --- the tick ------------------------------------------------------------------------------------


@dataclass
class TickResult:
    enrolled: int = 0
    exited: int = 0
    runs: int = 0
    rounds: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass
class Claimed:
    run_id: int
    enrollment_id: int
    customer_id: int
    entered_at: dt.datetime


CLAIM_SQL = """
    WITH due AS (
        SELECT e.id FROM journeys_enrollment e
          JOIN journeys_journey j ON j.id = e.journey_id AND j.status = 'active'
         WHERE e.state = 'waiting' AND e.due_at <= %s AND e.step_id IS NOT NULL
         ORDER BY e.due_at, e.id
         LIMIT %s
           FOR UPDATE OF e SKIP LOCKED
    ), ins AS (
        INSERT INTO journeys_steprun (enrollment_id, step_id, visit, claimed_at, outcome, ref)
        SELECT e.id, e.step_id, e.visit, %s,
               CASE WHEN s.kind IN ('wait_days', 'wait_hours', 'wait_until', 'wait_weekday') THEN 'waited'
                    ELSE 'claimed' END, ''
          FROM journeys_enrollment e JOIN due ON due.id = e.id JOIN journeys_journeystep s ON s.id = e.step_id
        ON CONFLICT (enrollment_id, step_id, visit) DO NOTHING
        RETURNING id, enrollment_id, step_id
    )
    SELECT ins.id, ins.enrollment_id, ins.step_id, e.customer_id, e.entered_at
      FROM ins JOIN journeys_enrollment e ON e.id = ins.enrollment_id
"""


def journeys_tick(*, now: dt.datetime | None = None, batch: int = 20_000, max_rounds: int = 100) -> TickResult:
    """Advance every journey by one tick at ``now`` (see the module docstring)."""
    from journeys.triggers import scheduled_enrol

    now = now or timezone.now()
    result = TickResult()
    result.enrolled = scheduled_enrol(now=now)
    result.exited = exits_and_goals(now=now)
    outcomes: dict[str, int] = defaultdict(int)
    for _round in range(max_rounds):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(CLAIM_SQL, [now, batch, now])
                rows = cursor.fetchall()
            if not rows:
                break
            result.rounds += 1
            result.runs += len(rows)
            by_step: dict[int, list[Claimed]] = defaultdict(list)
            for run_id, enrollment_id, step_id, customer_id, entered_at in rows:
                by_step[step_id].append(Claimed(run_id, enrollment_id, customer_id, entered_at))
            steps = {
                s.pk: s
                for s in JourneyStep.objects.filter(pk__in=by_step).select_related(
                    "journey", "journey__created_by", "tag", "notify_staff", "segment", "coupon_template"
                )
            }
            for step_id, claimed in by_step.items():
                for outcome, n in _run_step(steps[step_id], claimed, now).items():
                    outcomes[outcome] += n
    result.outcomes = dict(outcomes)
    return result


def _set_outcome(cursor: Any, run_ids: list[int], outcome: str, ref: str = "") -> None:
    if run_ids:
        cursor.execute(
            "UPDATE journeys_steprun SET outcome = %s, ref = %s WHERE id = ANY(%s)", [outcome, ref[:120], run_ids]
        )


def _run_step(step: JourneyStep, claimed: list[Claimed], now: dt.datetime) -> dict[str, int]:
    """Make the step's action for every claimed customer, then move them on. Returns outcome counts."""
    journey = step.journey
    go_on = [c.enrollment_id for c in claimed]
    branch_no: list[int] = []
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                if step.kind in WAIT_KINDS:
                    counts["waited"] = len(claimed)  # the claim wrote the outcome: nothing else to do
                elif step.kind == StepKind.CONDITION:
                    yes = _condition_true(cursor, step, claimed)
                    _set_outcome(cursor, [c.run_id for c in claimed if c.enrollment_id in yes], "yes")
                    _set_outcome(cursor, [c.run_id for c in claimed if c.enrollment_id not in yes], "no")
                    go_on = [c.enrollment_id for c in claimed if c.enrollment_id in yes]
                    branch_no = [c.enrollment_id for c in claimed if c.enrollment_id not in yes]
                    counts = {"yes": len(go_on), "no": len(branch_no)}
                elif step.kind == StepKind.TASK:
                    counts = _task(cursor, step, claimed, now)
                elif step.kind in (StepKind.BROADCAST, StepKind.MOMENT):
                    counts = _broadcast(cursor, step, claimed, now)
                elif step.kind == StepKind.COUPON:
                    counts = _coupon(cursor, step, claimed, now)
                elif step.kind == StepKind.LIFECYCLE:
                    counts = _lifecycle(cursor, step, claimed, now)
                elif step.kind in (StepKind.TAG, StepKind.UNTAG):
                    counts = _tag(cursor, step, claimed, now)
                elif step.kind == StepKind.NOTIFY:
                    counts = _notify(cursor, step, claimed)
                elif step.kind == StepKind.END:
                    _set_outcome(cursor, [c.run_id for c in claimed], "end")
                    counts["end"] = len(claimed)
                    go_on = []
                    _finish(cursor, [c.enrollment_id for c in claimed], now, EnrollmentState.DONE, "end")
        except Exception:
            # The action failed as a whole (a refused campaign, a broken tag): recorded, not retried
            # forever — the customers move on and the step's page shows the failures.
            logger.exception("journey %s step %s failed for %s customers", journey.pk, step.pk, len(claimed))
            _set_outcome(cursor, [c.run_id for c in claimed], "failed")
            counts = {"failed": len(claimed)}
        _move(cursor, journey, step.position + 1, go_on, now)
        if branch_no:
            if step.no_goto:
                _move(cursor, journey, step.no_goto, branch_no, now)
            else:
                _finish(cursor, branch_no, now, EnrollmentState.EXITED, "condition")
    return counts


def _move(cursor: Any, journey: Journey, position: int, enrollment_ids: list[int], now: dt.datetime) -> None:
    """Move enrollments to the step at ``position`` (past the last step: done). One UPDATE."""
    if not enrollment_ids:
        return
    nxt = journey.steps.filter(position__gte=position).order_by("position").first()
    if nxt is None:
        _finish(cursor, enrollment_ids, now, EnrollmentState.DONE, "completed")
        return
    cursor.execute(
        "UPDATE journeys_enrollment SET step_id = %s, visit = visit + 1, due_at = %s WHERE id = ANY(%s)",
        [nxt.pk, arrival_due(nxt, now), enrollment_ids],
    )


def _finish(cursor: Any, enrollment_ids: list[int], now: dt.datetime, state: str, reason: str) -> None:
    cursor.execute(
        "UPDATE journeys_enrollment SET state = %s, exited_at = %s, exit_reason = %s, due_at = NULL"
        " WHERE id = ANY(%s) AND state = 'waiting'",
        [state, now, reason, enrollment_ids],
    )


def _condition_true(cursor: Any, step: JourneyStep, claimed: list[Claimed]) -> set[int]:
    """The enrollments for which the step's condition holds (one query)."""
    ids = [c.enrollment_id for c in claimed]
    if step.condition == ConditionKind.HAS_TAG:
        where, params = "c.tag_ids @> ARRAY[%s]::int[]", [step.tag_id or 0]
    elif step.condition == ConditionKind.ORDERED_SINCE_ENTRY:
        where, params = "c.last_order_at >= e.entered_at", []
    elif step.condition == ConditionKind.IN_SEGMENT:
        if step.segment is None:  # the segment was deleted: nobody is in it
            return set()
        # The saved segment compiled once to a member check for the whole batch (set-based).
        member_sql, params = compile_sql(
            organization_id=step.journey.organization_id, expression=step.segment.expression
        )
        where = f"c.id IN ({member_sql})"
    else:
        where, params = "c.opted_out_at IS NOT NULL", []
    cursor.execute(
        f"SELECT e.id FROM journeys_enrollment e JOIN contacts_customer c ON c.id = e.customer_id"
        f" WHERE e.id = ANY(%s) AND {where}",
        [ids, *params],
    )
    return {row[0] for row in cursor.fetchall()}


def serving_staff(cursor: Any, customer_ids: list[int]) -> dict[int, int]:
    """Each customer's serving member: the active follower who served them last (else added last)."""
    cursor.execute(
        """
        SELECT DISTINCT ON (f.customer_id) f.customer_id, f.staff_id
          FROM contacts_follow f JOIN contacts_staff st ON st.id = f.staff_id AND st.is_active
         WHERE f.customer_id = ANY(%s) AND f.deleted_at IS NULL
      ORDER BY f.customer_id, COALESCE(f.last_interaction_at, f.added_at) DESC, f.id DESC
        """,
        [customer_ids],
    )
    return dict(cursor.fetchall())


def _timeline(step: JourneyStep, customer_ids: list[int], summary: str, now: dt.datetime) -> None:
    if customer_ids:
        contacts.timeline_add_bulk(
            organization_id=step.journey.organization_id,
            customer_ids=customer_ids,
            kind=TimelineKind.JOURNEY,
            summary=summary,
            data={"journey_id": step.journey_id, "step_id": step.pk, "step": step.position},
            occurred_at=now,
        )


def _task(cursor: Any, step: JourneyStep, claimed: list[Claimed], now: dt.datetime) -> dict[str, int]:
    """A to-do per customer for their serving member, and one app message per member."""
    journey = step.journey
    staff = serving_staff(cursor, [c.customer_id for c in claimed])
    with_staff = [c for c in claimed if c.customer_id in staff]
    without = [c.run_id for c in claimed if c.customer_id not in staff]
    title = f"{journey.name} · 第{step.position}步"
    links = _coupon_links(cursor, step, with_staff) if COUPON_LINK in step.text and with_staff else {}
    todos_create(
        organization_id=journey.organization_id,
        specs=[
            TodoSpec(
                assignee_id=staff[c.customer_id],
                kind=TodoKind.JOURNEY_TASK,
                title=title,
                body=step.text.replace(COUPON_LINK, links.get(c.enrollment_id, "")).strip()
                if COUPON_LINK in step.text
                else step.text,
                due_at=now + TASK_DUE,
                source_key=task_key(c.run_id),
                customer_id=c.customer_id,
                payload={"journey_id": journey.pk, "step_id": step.pk, "run_id": c.run_id},
            )
            for c in with_staff
        ],
    )
    cursor.execute(
        "UPDATE journeys_steprun SET outcome = 'task', ref = 'journey:' || id WHERE id = ANY(%s)",
        [[c.run_id for c in with_staff]],
    )
    _set_outcome(cursor, without, "no_staff")
    per_staff: dict[int, int] = defaultdict(int)
    for c in with_staff:
        per_staff[staff[c.customer_id]] += 1
    first_run = min(c.run_id for c in claimed)
    for staff_id, n in per_staff.items():
        try:
            app_message_send(
                organization_id=journey.organization_id,
                staff_ids=[staff_id],
                text=f"你有 {n} 个旅程任务待发送（{title}），请在侧边栏「待办」中一键发送。",
                source_key=f"journey-task:{step.pk}:{first_run}:{staff_id}",
            )
        except AppMessageError:
            logger.warning("journey %s: no app message for staff %s", journey.pk, staff_id)
    _timeline(step, [c.customer_id for c in with_staff], f"旅程任务已派给导购：{title}", now)
    return {"task": len(with_staff), "no_staff": len(without)}


def _broadcast(cursor: Any, step: JourneyStep, claimed: list[Claimed], now: dt.datetime) -> dict[str, int]:
    """One campaign for the step's customers of this round, planned by the campaigns planner (quota
    ledger, caps, quiet hours, consent and opt-outs as for any broadcast) and sent by the dispatcher.

    A 朋友圈 step is the same with a Moments campaign: the planner picks each customer's serving member
    as a sender and reserves their quota; WeCom shows the post to those senders' customers (a Moments
    post cannot be limited to a list of customers, only to senders and tags)."""
    from campaigns.models import CampaignKind, CampaignStatus
    from campaigns.planner import campaign_plan
    from campaigns.services import campaign_create, campaign_start

    journey = step.journey
    moment = step.kind == StepKind.MOMENT
    first_run = min(c.run_id for c in claimed)
    campaign = campaign_create(
        organization=Organization.objects.get(pk=journey.organization_id),
        name=f"旅程·{journey.name}·第{step.position}步·{first_run}",
        kind=CampaignKind.MOMENT if moment else CampaignKind.BROADCAST_SINGLE,
        text=step.text,
        created_by=journey.created_by,
    )
    campaign.status = CampaignStatus.SCHEDULED
    campaign.due_at = now
    campaign.stats = {"audience": len(claimed), "journey_id": journey.pk, "journey_step_id": step.pk}
    campaign.save(update_fields=["status", "due_at", "stats", "updated_at"])
    result = campaign_plan(campaign_id=campaign.pk, now=now, customer_ids=[c.customer_id for c in claimed])
    campaign_start(campaign=campaign, now=now)
    outcome = "moment" if moment else "broadcast"
    _set_outcome(cursor, [c.run_id for c in claimed], outcome, str(campaign.pk))
    cursor.execute(
        "SELECT customer_id FROM campaigns_delivery WHERE campaign_id = %s AND status = 'planned'", [campaign.pk]
    )
    planned = [row[0] for row in cursor.fetchall()]
    summary = "旅程朋友圈已排期" if moment else "旅程群发已排期"
    _timeline(step, planned, f"{summary}：{journey.name} 第{step.position}步", now)
    return {outcome: result.planned, f"{outcome}_excluded": len(claimed) - result.planned}


def _coupon(cursor: Any, step: JourneyStep, claimed: list[Claimed], now: dt.datetime) -> dict[str, int]:
    """A coupon of the step's template to each claimed customer, through ``offers.coupon_issue``.

    Idempotent per step run: the StepRun claim and the coupons commit in one transaction, and the
    coupon's id is the run's ``ref`` (a later task's ``{coupon_link}`` reads it). offers issues to one
    customer at a time through its public service, so this is one call per claimed customer."""
    template = step.coupon_template
    if template is None:
        _set_outcome(cursor, [c.run_id for c in claimed], "failed", "coupon template deleted")
        return {"failed": len(claimed)}
    customers = Customer.objects.in_bulk([c.customer_id for c in claimed])
    issued = limit = 0
    for c in claimed:
        customer = customers.get(c.customer_id)
        if customer is None:
            continue
        try:
            coupon = coupon_issue(
                template=template,
                customer=customer,
                by=step.journey.created_by,
                source=CouponSource.JOURNEY,
                journey_id=step.journey_id,
            )
        except CouponError as exc:
            if exc.field != "customer_id":
                raise  # the template cannot issue at all (inactive, expired, out of stock): the step fails
            _set_outcome(cursor, [c.run_id], "coupon_limit")
            limit += 1
            continue
        _set_outcome(cursor, [c.run_id], "coupon", str(coupon.pk))
        issued += 1
    return {"coupon": issued, "coupon_limit": limit}


def _lifecycle(cursor: Any, step: JourneyStep, claimed: list[Claimed], now: dt.datetime) -> dict[str, int]:
    """Move the claimed customers to the step's lifecycle stage (one UPDATE through contacts, which
    writes the timeline entry for those whose stage changed)."""
    moved = contacts.customers_lifecycle_move(
        organization_id=step.journey.organization_id,
        customer_ids=[c.customer_id for c in claimed],
        lifecycle=step.lifecycle,
        reason=f"旅程：{step.journey.name} 第{step.position}步",
        occurred_at=now,
    )
    _set_outcome(cursor, [c.run_id for c in claimed], "lifecycle", step.lifecycle)
    return {"lifecycle": len(moved), "lifecycle_unchanged": len(claimed) - len(moved)}


COUPON_LINK = "{coupon_link}"


def _coupon_links(cursor: Any, step: JourneyStep, claimed: list[Claimed]) -> dict[int, str]:
    """Each enrollment's latest coupon from an earlier coupon step of this journey, as the customer's link."""
    cursor.execute(
        """
        SELECT DISTINCT ON (r.enrollment_id) r.enrollment_id, ic.token
          FROM journeys_steprun r
          JOIN journeys_journeystep s ON s.id = r.step_id AND s.kind = 'coupon'
          JOIN offers_issuedcoupon ic ON ic.id = NULLIF(r.ref, '')::bigint
         WHERE r.enrollment_id = ANY(%s) AND r.outcome = 'coupon'
      ORDER BY r.enrollment_id, r.id DESC
        """,
        [[c.enrollment_id for c in claimed]],
    )
    return {enrollment_id: coupon_link(token) for enrollment_id, token in cursor.fetchall()}


def _tag(cursor: Any, step: JourneyStep, claimed: list[Claimed], now: dt.datetime) -> dict[str, int]:
    journey = step.journey
    tag = step.tag
    ids = [c.customer_id for c in claimed]
    if tag is None:
        _set_outcome(cursor, [c.run_id for c in claimed], "failed", "tag deleted")
        return {"failed": len(claimed)}
    if step.kind == StepKind.TAG:
        contacts.customers_tag_bulk(
            organization=Organization.objects.get(pk=journey.organization_id),
            tag=tag,
            customer_ids=ids,
            source=TagSource.RULE,
        )
    else:
        _untag(tag, ids)
    _set_outcome(cursor, [c.run_id for c in claimed], step.kind, str(tag.pk))
    return {str(step.kind): len(claimed)}


def _untag(tag: Tag, customer_ids: list[int]) -> None:
    """Remove the tag from those who hold it (one service call each: contacts has no bulk untag)."""
    from contacts.models import Customer, CustomerTag

    held = CustomerTag.objects.filter(tag=tag, customer_id__in=customer_ids).values_list("customer_id", flat=True)
    for customer in Customer.objects.filter(pk__in=list(held)):
        contacts.customer_tag_remove(customer=customer, tag=tag, source=TagSource.RULE)


def _notify(cursor: Any, step: JourneyStep, claimed: list[Claimed]) -> dict[str, int]:
    journey = step.journey
    run_ids = [c.run_id for c in claimed]
    if step.notify_staff_id is None:
        _set_outcome(cursor, run_ids, "failed", "no staff")
        return {"failed": len(claimed)}
    key = f"journey-notify:{step.pk}:{min(run_ids)}"
    text = f"旅程「{journey.name}」第{step.position}步：{len(claimed)} 位客户到达。{step.text}".strip()
    try:
        app_message_send(
            organization_id=journey.organization_id, staff_ids=[step.notify_staff_id], text=text, source_key=key
        )
    except AppMessageError:
        _set_outcome(cursor, run_ids, "failed", key)
        return {"failed": len(claimed)}
    _set_outcome(cursor, run_ids, "notify", key)
    return {"notify": len(claimed)}
