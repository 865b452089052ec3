"""Joint quota allocation: the scheduled campaigns of one platform day planned together.

When several campaigns want the same customers' slots on a platform day (one WeCom broadcast per
customer per day, the Moments cap, the brand's own cap), planning them one by one gives each slot to
whoever comes first or has the higher priority. A **planning run** (:func:`allocation_run`) plans
every scheduled, not yet planned customer campaign whose send falls on the day in one transaction
and lets the operator choose how contested slots are given out:

* ``priority`` (按优先级) — higher priority first, then the earlier campaign (the order
  ``campaigns_due_tick`` plans in);
* ``expected_value`` (按预期价值) — each customer's slots go to the campaigns worth most for that
  customer.

**Expected value** of sending campaign *k* to customer *i*: ``EV = V_k × P_ik`` where ``V_k`` is the
campaign's value per conversion (¥, ``Campaign.value_per_conversion``) and ``P_ik`` the probability
that *i* buys at least once within *k*'s attribution window of *d* days (the quota policy's
``attribution_days``). With a trustworthy prediction (analytics.predict wrote the customer's
``expected_orders_30/90``; it clears them when the brand's model failed its checks), purchases in the
window are taken as Poisson with mean ``E_d``, so ``P = 1 − exp(−E_d)``, where ``E_d`` is read off
the predicted curve linearly: ``E_30·d/30`` up to 30 days, ``E_30 + (E_90 − E_30)·(d − 30)/60`` from
30 to 90 days. Without one, ``P`` is the response rate of the campaign's segment learned from past
campaigns' holdout-measured results, shrunk to a 2% prior (``campaigns.results.segment_response_rates``).

Both allocations are computed on the same staged inputs, set-based (a ``row_number()`` ranking per
customer and window, never a loop over customers); the chosen one is written to the ledger in one
``INSERT … SELECT`` and the other is only counted, so the run shows the value gained against priority
order. Ranking by EV is optimal here: the windows of one customer (the kind's window, inside it the
brand window) form a laminar family of capacities, for which greedy by value is the maximum.

Nothing else changes: the audience, opt-outs, consent, exclusions and holdout come from the planner's
own staging (``campaigns.planner.stage_customers``), quiet hours from ``next_allowed``, and the caps
from the ledger's unique constraints — slots already held on the day (by campaigns planned earlier)
stay held, and should a dispatcher write one meanwhile the INSERT fails and the run is redone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import (
    AllocationMode,
    AllocationRun,
    Campaign,
    CampaignKind,
    CampaignStatus,
    LedgerKind,
    LedgerState,
    QuotaPolicy,
)
from campaigns.planner import (
    PLAN_LOCK,
    RETRY_CONSTRAINTS,
    RETRY_PGCODES,
    STAGE,
    TEMP_TABLES,
    stage_customers,
    write_deliveries,
)
from campaigns.quota import Window, next_allowed, platform_day, policy_for, windows_for
from campaigns.results import PRIOR_RATE, segment_response_rates
from contacts import services as contact_services
from contacts.models import AuditAction, Organization, Staff
from scrm.stopwatch import Laps

logger = logging.getLogger(__name__)

KINDS = (CampaignKind.BROADCAST_SINGLE, CampaignKind.MOMENT)
CAND = "_alloc_cand"
META = "_alloc_meta"
HELD = "_alloc_held"
SLOTS = "_alloc_slots"
ALLOC_TABLES = ", ".join((CAND, META, HELD, SLOTS, f"{CAND}_raw"))
ANALYZE_ABOVE = 1_000
# Per mode: its column of the candidates and the order in which a customer's candidates are served.
ORDERS = {
    AllocationMode.PRIORITY: ("reason_prio", "j.priority DESC, j.campaign_id"),
    AllocationMode.EXPECTED_VALUE: ("reason_ev", "j.ev DESC, j.priority DESC, j.campaign_id"),
}
# P(at least one purchase within d days) from the predicted expected purchases (see the module doc).
# The expectations are read to 9 decimals (a denormal float would underflow the product).
E30_SQL, E90_SQL = "round(c.expected_orders_30::numeric, 9)", "round(c.expected_orders_90::numeric, 9)"
PROBABILITY_SQL = f"""
    1 - exp(-GREATEST(CASE WHEN m.window_days <= 30 THEN {E30_SQL} * m.window_days / 30.0
                           ELSE {E30_SQL} + ({E90_SQL} - {E30_SQL}) * (LEAST(m.window_days, 90) - 30) / 60.0
                      END, 0)::float8)
"""


class AllocationError(ValueError):
    """The run cannot be made; the message (Chinese) says what to do."""


@dataclass
class AllocationOutcome:
    day: date
    mode: str
    campaigns: list[dict[str, Any]]
    candidates: int = 0
    contested: int = 0
    moved: int = 0
    planned: int = 0
    value_priority: Decimal = Decimal(0)
    value_joint: Decimal = Decimal(0)
    run_id: int | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def gain(self) -> Decimal:
        return self.value_joint - self.value_priority


class _Rollback(Exception):
    pass


def _send_after(campaign: Campaign, policy: QuotaPolicy, now: datetime) -> datetime:
    start = max(now, campaign.due_at) if campaign.due_at else now
    return next_allowed(policy=policy, at=start)


def day_campaigns(*, organization_id: int, day: date, now: datetime | None = None) -> list[Campaign]:
    """The campaigns a run of ``day`` plans: scheduled, not yet planned, one-off customer campaigns
    (broadcasts and Moments) whose send falls on that platform day (after quiet hours)."""
    now = now or timezone.now()
    qs = (
        Campaign.objects.filter(
            organization_id=organization_id,
            status=CampaignStatus.SCHEDULED,
            planned_at__isnull=True,
            kind__in=KINDS,
            recurrence="",
        )
        .select_related("segment")
        .order_by("-priority", "id")
    )
    out = []
    for c in qs:
        policy = policy_for(organization_id=organization_id, channel_account_id=c.channel_account_id)
        if platform_day(_send_after(c, policy, now)) == day:
            out.append(c)
    return out


def allocation_run(
    *,
    organization: Organization,
    day: date,
    mode: str,
    by: Staff | None,
    now: datetime | None = None,
    dry_run: bool = False,
    retries: int = 3,
) -> AllocationOutcome:
    """Plan the day's campaigns together, giving contested slots out by ``mode``; with ``dry_run``
    nothing is written (the console's preview). Audited; the run is stored as an :class:`AllocationRun`."""
    if mode not in AllocationMode.values:
        raise AllocationError(_("分配方式只能是「按优先级」或「按预期价值」"))
    now = now or timezone.now()
    for attempt in range(retries):
        try:
            return _run_once(organization, day, mode, by, now, dry_run)
        except (OperationalError, IntegrityError) as exc:
            cause = exc.__cause__
            constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
            retry = getattr(cause, "pgcode", None) in RETRY_PGCODES or constraint in RETRY_CONSTRAINTS
            if not retry or attempt == retries - 1:
                raise
            logger.warning("allocation conflict on organization %s, retrying", organization.pk)
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _run_once(
    organization: Organization, day: date, mode: str, by: Staff | None, now: datetime, dry_run: bool
) -> AllocationOutcome:
    outcome: AllocationOutcome | None = None
    try:
        with transaction.atomic():
            outcome = _allocate(organization, day, mode, by, now)
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    if outcome is None:
        raise AssertionError("unreachable")
    if dry_run:
        outcome.run_id = None
    return outcome


def _allocate(organization: Organization, day: date, mode: str, by: Staff | None, now: datetime) -> AllocationOutcome:
    laps = Laps()
    lap = laps.lap

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PLAN_LOCK, organization.pk])
        # Locked and re-read after the lock: a planner that ran meanwhile has set ``planned_at``; one
        # that is planning a campaign right now holds its row and waits for our lock, so that campaign
        # is left to it (skip_locked) rather than deadlocking.
        ids = [c.pk for c in day_campaigns(organization_id=organization.pk, day=day, now=now)]
        campaigns = list(
            Campaign.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("segment")
            .filter(pk__in=ids, planned_at__isnull=True, status=CampaignStatus.SCHEDULED)
            .order_by("-priority", "id")
        )
        if not campaigns:
            raise AllocationError(_("这一天没有待排期的客户群发或朋友圈活动：请先提交并排期活动，或换一天"))
        policies = {
            c.pk: policy_for(organization_id=organization.pk, channel_account_id=c.channel_account_id)
            for c in campaigns
        }
        send_after = {c.pk: _send_after(c, policies[c.pk], now) for c in campaigns}
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP_TABLES}, {ALLOC_TABLES}")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SELECT pg_get_serial_sequence('campaigns_delivery', 'id')")
        seq = cursor.fetchone()[0]
        _stage_all(cursor, campaigns, policies, seq)
        lap("stage")
        _meta(cursor, organization.pk, campaigns, policies)
        _candidates(cursor)
        lap("value")
        windows = _windows(campaigns, policies, day)
        for window, campaign_ids in windows:
            _simulate_window(cursor, window, campaign_ids)
        lap("rank")
        outcome = _summarise(cursor, day, mode, campaigns)
        column = ORDERS[AllocationMode(mode)][0]
        cursor.execute(f"UPDATE {CAND} SET reason = {column} WHERE reason <> {column}")
        # The chosen allocation's slots, for the candidates that won every window they need.
        cursor.execute(
            f"""
            INSERT INTO campaigns_quotaledger
                   (organization_id, kind, customer_id, window_start, slot_no, state, campaign_id, delivery_id,
                    priority, created_at)
            SELECT %s, s.kind, s.subject_id, s.window_start, s.slot_no, %s, j.campaign_id, j.delivery_id,
                   j.priority, now()
              FROM {SLOTS} s JOIN {CAND} j ON j.delivery_id = s.delivery_id
             WHERE s.mode = %s AND j.reason = ''
          ORDER BY s.subject_id
            """,
            [organization.pk, LedgerState.RESERVED, mode],
        )
        lap("reserve")
        run = AllocationRun.objects.create(
            organization=organization,
            day=day,
            mode=mode,
            campaign_ids=[c.pk for c in campaigns],
            candidates=outcome.candidates,
            contested=outcome.contested,
            moved=outcome.moved,
            planned=outcome.planned,
            value_priority=outcome.value_priority,
            value_joint=outcome.value_joint,
            details={str(row["id"]): row for row in outcome.campaigns},
            created_by=by,
            created_at=now,
        )
        outcome.run_id = run.pk
        for c in campaigns:
            _write_campaign(cursor, c, send_after[c.pk], now, mode, outcome)
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP_TABLES}, {ALLOC_TABLES}")
        lap("write")
    contact_services.audit_record(
        organization_id=organization.pk,
        action=AuditAction.CAMPAIGN_ALLOCATE,
        target_type="allocation_run",
        target_id=run.pk,
        actor_staff_id=by.pk if by else None,
        actor_user_id=by.user_id if by else None,
        fields=["planned_at"],
        details={
            "mode": mode,
            "day": day.isoformat(),
            "campaign_ids": [c.pk for c in campaigns],
            "value_priority": str(outcome.value_priority),
            "value_joint": str(outcome.value_joint),
        },
    )
    outcome.timings_ms = laps.ms
    return outcome


def _stage_all(cursor: Any, campaigns: list[Campaign], policies: dict[int, QuotaPolicy], seq: str) -> None:
    """Every campaign's audience staged by the planner itself (opt-outs, consent, exclusions, holdout)."""
    cursor.execute(
        f"""CREATE TEMP TABLE {CAND}_raw (campaign_id bigint, delivery_id bigint, subject_id bigint,
                                          sender_id bigint, reason varchar(20)) ON COMMIT DROP"""
    )
    for c in campaigns:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        stage_customers(cursor, c, policies[c.pk].require_consent, seq)
        cursor.execute(
            f"INSERT INTO {CAND}_raw SELECT %s, delivery_id, subject_id, sender_id, reason FROM {STAGE}", [c.pk]
        )
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")


def _meta(cursor: Any, organization_id: int, campaigns: list[Campaign], policies: dict[int, QuotaPolicy]) -> None:
    segment_ids = sorted({c.segment_id for c in campaigns if c.segment_id})
    rates = segment_response_rates(organization_id=organization_id, segment_ids=segment_ids)
    prior = {"rate": PRIOR_RATE, "source": "prior"}  # a campaign without a saved segment
    rows = []
    for c in campaigns:
        learned = rates[c.segment_id] if c.segment_id else prior
        days = policies[c.pk].attribution_days
        rows.append((c.pk, c.priority, c.value_per_conversion, days, learned["rate"], learned["source"]))
    cursor.execute(
        f"""CREATE TEMP TABLE {META} ON COMMIT DROP AS
            SELECT * FROM unnest(%s::bigint[], %s::int[], %s::numeric[], %s::int[], %s::float8[], %s::text[])
                       AS m(campaign_id, priority, value, window_days, rate, rate_source)""",
        [list(col) for col in zip(*rows, strict=True)],
    )


def _candidates(cursor: Any) -> None:
    """The staged rows with each pair's probability, its source and expected value (one statement)."""
    trusted = "c.expected_orders_30 IS NOT NULL AND c.expected_orders_90 IS NOT NULL"
    cursor.execute(
        f"""
        CREATE TEMP TABLE {CAND} ON COMMIT DROP AS
        SELECT r.campaign_id, r.delivery_id, r.subject_id, r.sender_id, r.reason,
               r.reason AS reason_prio, r.reason AS reason_ev, m.priority,
               CASE WHEN {trusted} THEN 'model' ELSE m.rate_source END AS p_source,
               p.p, (m.value::float8 * p.p) AS ev
          FROM {CAND}_raw r
          JOIN {META} m ON m.campaign_id = r.campaign_id
          LEFT JOIN contacts_customer c ON c.id = r.subject_id
          CROSS JOIN LATERAL (SELECT CASE WHEN {trusted} THEN {PROBABILITY_SQL} ELSE m.rate END AS p) p
        """
    )
    if cursor.rowcount > ANALYZE_ABOVE:  # a temp table has no statistics; tiny ones plan fine without
        cursor.execute(f"CREATE INDEX ON {CAND} (delivery_id)")
        cursor.execute(f"ANALYZE {CAND}")
    cursor.execute(
        f"""CREATE TEMP TABLE {SLOTS} (mode varchar(20), delivery_id bigint, subject_id bigint, kind varchar(20),
                                       window_start date, slot_no int) ON COMMIT DROP"""
    )


def _windows(campaigns: list[Campaign], policies: dict[int, QuotaPolicy], day: date) -> list[tuple[Window, list[int]]]:
    """The ledger windows of the day and the campaigns needing each: the kinds' own windows first,
    then the brand window that contains them. Campaigns with different policies sharing a window are
    held to the smallest limit among them."""
    found: dict[tuple[str, date], tuple[Window, list[int]]] = {}
    for c in campaigns:
        for w in windows_for(policy=policies[c.pk], kind=c.kind, day=day):
            key = (w.kind, w.start)
            if key in found:
                prev, ids = found[key]
                found[key] = (prev if prev.limit <= w.limit else w, [*ids, c.pk])
            else:
                found[key] = (w, [c.pk])
    return sorted(found.values(), key=lambda wi: (wi[0].kind == LedgerKind.BRAND, wi[0].kind, wi[0].start))


def _simulate_window(cursor: Any, window: Window, campaign_ids: list[int]) -> None:
    """Both allocations for one window: a customer's still-eligible candidates ranked per mode, the
    first ``free`` of them get the customer's free slots (in slot order), the rest the window's reason."""
    cursor.execute(f"DROP TABLE IF EXISTS {HELD}")
    cursor.execute(
        f"""CREATE TEMP TABLE {HELD} ON COMMIT DROP AS
            SELECT q.customer_id AS subject_id, q.slot_no FROM campaigns_quotaledger q
             WHERE q.kind = %s AND q.window_start = %s
               AND q.customer_id IN (SELECT subject_id FROM {CAND} WHERE reason = '' AND campaign_id = ANY(%s))""",
        [window.kind, window.start, campaign_ids],
    )
    if cursor.rowcount > ANALYZE_ABOVE:
        cursor.execute(f"ANALYZE {HELD}")
    for mode, (column, order) in ORDERS.items():
        # One statement per mode: rank, hand out the free slots, mark the losers, keep the winners' slots.
        cursor.execute(
            f"""
            WITH r AS (
                SELECT j.delivery_id, j.subject_id,
                       row_number() OVER (PARTITION BY j.subject_id ORDER BY {order}) AS rk
                  FROM {CAND} j WHERE j.{column} = '' AND j.campaign_id = ANY(%(ids)s)
            ),
            hs AS (SELECT DISTINCT subject_id FROM {HELD}),
            free AS (
                SELECT hs.subject_id, g AS slot_no, row_number() OVER (PARTITION BY hs.subject_id ORDER BY g) AS n
                  FROM hs CROSS JOIN generate_series(0, %(limit)s - 1) g
                 WHERE NOT EXISTS (SELECT 1 FROM {HELD} h WHERE h.subject_id = hs.subject_id AND h.slot_no = g)
            ),
            won AS MATERIALIZED (
                SELECT r.delivery_id, r.subject_id,
                       CASE WHEN hs.subject_id IS NULL THEN CASE WHEN r.rk <= %(limit)s THEN r.rk - 1 END
                            ELSE f.slot_no END AS slot_no
                  FROM r
                  LEFT JOIN hs ON hs.subject_id = r.subject_id
                  LEFT JOIN free f ON f.subject_id = r.subject_id AND f.n = r.rk
            ),
            lost AS (
                UPDATE {CAND} j SET {column} = %(reason)s FROM won w
                 WHERE w.delivery_id = j.delivery_id AND w.slot_no IS NULL
            )
            INSERT INTO {SLOTS}
            SELECT %(mode)s, w.delivery_id, w.subject_id, %(kind)s, %(start)s, w.slot_no
              FROM won w WHERE w.slot_no IS NOT NULL
            """,
            {
                "ids": campaign_ids,
                "limit": window.limit,
                "reason": window.reason,
                "mode": mode.value,
                "kind": window.kind,
                "start": window.start,
            },
        )


def _summarise(cursor: Any, day: date, mode: str, campaigns: list[Campaign]) -> AllocationOutcome:
    """Totals of both allocations over the same candidates, per campaign and overall."""
    cursor.execute(
        f"""
        SELECT campaign_id,
               count(*) FILTER (WHERE reason = ''),
               count(*) FILTER (WHERE reason_prio = ''), COALESCE(sum(ev) FILTER (WHERE reason_prio = ''), 0),
               count(*) FILTER (WHERE reason_ev = ''), COALESCE(sum(ev) FILTER (WHERE reason_ev = ''), 0),
               count(*) FILTER (WHERE reason = '' AND p_source = 'model'),
               max(p_source) FILTER (WHERE p_source <> 'model')
          FROM {CAND} GROUP BY campaign_id
        """
    )
    per = {int(r[0]): r for r in cursor.fetchall()}
    cursor.execute(
        f"""
        SELECT count(*) FILTER (WHERE reason = ''),
               (SELECT count(*) FROM (SELECT subject_id FROM {CAND} WHERE reason = ''
                                       GROUP BY subject_id HAVING count(*) > 1) x),
               count(DISTINCT subject_id) FILTER (WHERE (reason_prio = '') <> (reason_ev = '')),
               COALESCE(sum(ev) FILTER (WHERE reason_prio = ''), 0), COALESCE(sum(ev) FILTER (WHERE reason_ev = ''), 0)
          FROM {CAND}
        """
    )
    candidates, contested, moved, v_prio, v_ev = cursor.fetchone()
    column = "reason_prio" if mode == AllocationMode.PRIORITY else "reason_ev"
    cursor.execute(f"SELECT count(*) FROM {CAND} WHERE {column} = ''")
    planned = int(cursor.fetchone()[0])
    rows = []
    for c in campaigns:
        r = per.get(c.pk) or (c.pk, 0, 0, 0.0, 0, 0.0, 0, None)
        rows.append(
            {
                "id": c.pk,
                "name": c.name,
                "kind": c.kind,
                "priority": c.priority,
                "value_per_conversion": str(c.value_per_conversion),
                "eligible": int(r[1]),
                "priority_slots": int(r[2]),
                "priority_value": _money(r[3]),
                "joint_slots": int(r[4]),
                "joint_value": _money(r[5]),
                "predicted": int(r[6]),
                "fallback": r[7] or "",
            }
        )
    return AllocationOutcome(
        day=day,
        mode=mode,
        campaigns=rows,
        candidates=int(candidates),
        contested=int(contested),
        moved=int(moved),
        planned=planned,
        value_priority=Decimal(_money(v_prio)),
        value_joint=Decimal(_money(v_ev)),
    )


def _money(value: Any) -> str:
    return str(Decimal(str(float(value or 0))).quantize(Decimal("0.01")))


def _write_campaign(
    cursor: Any, campaign: Campaign, send_after: datetime, now: datetime, mode: str, outcome: AllocationOutcome
) -> None:
    """The campaign's deliveries and batches by the planner's own writer, from its candidates."""
    cursor.execute(f"DROP TABLE IF EXISTS {TEMP_TABLES}")
    cursor.execute(
        f"""CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS
            SELECT delivery_id, subject_id, sender_id, reason FROM {CAND} WHERE campaign_id = %s""",
        [campaign.pk],
    )
    cursor.execute(f"ANALYZE {STAGE}")
    write_deliveries(cursor, campaign, send_after)
    cursor.execute(f"SELECT reason, count(*) FROM {STAGE} GROUP BY reason")
    counts = {str(reason): int(n) for reason, n in cursor.fetchall()}
    planned = counts.pop("", 0)
    row = next(r for r in outcome.campaigns if r["id"] == campaign.pk)
    campaign.planned_at = now
    campaign.send_after = send_after
    campaign.stats = {
        **(campaign.stats or {}),
        "planned": planned,
        "excluded": counts,
        "allocation": {
            "run": outcome.run_id,
            "mode": mode,
            "value": row["joint_value"] if mode == AllocationMode.EXPECTED_VALUE else row["priority_value"],
            "priority_value": row["priority_value"],
            "joint_value": row["joint_value"],
        },
    }
    campaign.save(update_fields=["planned_at", "send_after", "stats", "updated_at"])
