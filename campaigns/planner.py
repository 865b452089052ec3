"""The planner: who receives a campaign, through which staff member, in which batch — set-based SQL.

``campaign_plan`` runs a handful of statements, none of them a loop over recipients:

1. **Stage the audience** (one ``CREATE TEMP TABLE … AS SELECT``): the segment
   (``contacts.segments.compile_sql``) or the chosen groups, each member with a delivery id drawn
   from the deliveries' sequence, its sender and the first exclusion reason that applies: opted out
   → no consent → exclusion segment → holdout (a deterministic hash of campaign and customer) → no
   WeCom identity → no sender. The sender is the active follower who last served the customer
   (``last_interaction_at``, else ``added_at``), else the home store's primary staff member (its
   earliest active staff member with a WeCom account); for groups, the owner.
2. **Quota** (per ledger window): read the slots the window already holds for the audience (one
   range scan), then reserve the rest in customer order with one plain ``INSERT``. A slot held by a
   lower-priority campaign whose send has not started is taken over and that delivery becomes
   ``excluded/preempted``; a recipient without a free slot is excluded (``quota`` / ``brand_cap``).
   The unique constraint, not Python, guarantees the cap: a slot written meanwhile makes the INSERT
   fail and the plan is redone.
3. **Write**: batches per sender (≤ 10,000 customers / 2,000 groups, ``not_before`` = the end of quiet
   hours when the send time falls inside them; the quota is charged to that platform day), then every
   delivery row — planned or excluded with its reason — in one ``INSERT … SELECT``.

Staging keeps the expensive table (deliveries, with its indexes) written exactly once per row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from campaigns.models import (
    MAX_CUSTOMERS_PER_CALL,
    MAX_GROUPS_PER_CALL,
    Campaign,
    CampaignKind,
    DeliveryStatus,
    ExclusionReason,
    LedgerState,
)
from campaigns.quota import Window, next_allowed, platform_day, policy_for, windows_for
from contacts.segments import compile_sql, compile_where
from scrm.stopwatch import Laps

logger = logging.getLogger(__name__)


class PlanError(ValueError):
    """The campaign cannot be planned; the message (Chinese) says what to fix."""


@dataclass
class PlanResult:
    planned: int
    excluded: dict[str, int]
    preempted_others: int
    batches: int
    send_after: datetime
    timings_ms: dict[str, float] = field(default_factory=dict)


def audience_stores(campaign: Campaign) -> frozenset[int] | None:
    """The stores a campaign's audience is limited to (``None``: the whole brand).

    ``audience_store_ids`` is the creator's scope; a row without it (made before it existed, or by
    hand) falls back to its ``store``.
    """
    if campaign.audience_store_ids is not None:
        return frozenset(campaign.audience_store_ids)
    return frozenset({campaign.store_id}) if campaign.store_id else None


def _customer_audience(campaign: Campaign) -> tuple[dict[str, Any], frozenset[int] | None]:
    """The segment expression and store scope of a customer campaign."""
    store_ids = audience_stores(campaign)
    expression = campaign.segment.expression if campaign.segment_id and campaign.segment else campaign.expression
    if campaign.group_ids and not campaign.segment_id:
        expression = {**(expression or {}), "groups": list(campaign.group_ids)}
    if campaign.kind == CampaignKind.MOMENT and campaign.moment_tag_ids:
        # Only holders of the visibility tags see the post (campaign_create refused a segment that
        # already filters by "any" tags, so this is the whole "any" part).
        tags = dict((expression or {}).get("tags") or {})
        tags["any"] = list(campaign.moment_tag_ids)
        expression = {**(expression or {}), "tags": {"all": [], "none": [], **tags}}
    return expression or {}, store_ids


def audience_sql(campaign: Campaign) -> tuple[str, list[Any]]:
    """SQL selecting ``id`` of the campaign's audience (customers, or groups for a group broadcast)."""
    if campaign.kind == CampaignKind.BROADCAST_GROUP:
        sql = (
            "SELECT g.id FROM contacts_customergroup g WHERE g.organization_id = %s AND g.dismissed_at IS NULL"
            " AND g.id = ANY(%s::bigint[])"
        )
        params: list[Any] = [campaign.organization_id, list(campaign.group_ids or [])]
        group_stores = audience_stores(campaign)
        if group_stores is not None:
            sql += " AND g.store_id = ANY(%s::bigint[])"
            params.append(sorted(group_stores))
        return sql, params
    expression, store_ids = _customer_audience(campaign)
    return compile_sql(organization_id=campaign.organization_id, expression=expression, store_ids=store_ids)


def exclusion_sql(campaign: Campaign) -> tuple[str, list[Any]] | None:
    parts: list[str] = []
    params: list[Any] = []
    for segment in campaign.exclusion_segments.all():
        sql, p = compile_sql(organization_id=campaign.organization_id, expression=segment.expression)
        parts.append(sql)
        params.extend(p)
    if not parts:
        return None
    return " UNION ".join(f"({p})" for p in parts), params


# Deterministic per (campaign, subject): Postgres' own 64-bit hash, seeded with the campaign id.
HOLDOUT_SQL = "((hashint8extended({col}, %s::bigint) & 2147483647) %% 100) < %s"
PLAN_LOCK = 5_105  # advisory lock class of the planner (with the organization id)
STAGE = "_campaign_plan_rows"
# The staged audience and the planner's helper tables (all temporary, dropped on commit at the latest).
TEMP_TABLES = ", ".join(f"{STAGE}{suffix}" for suffix in ("", "_n", "_b", "_x", "_d", "_t"))
# What makes a plan start again: a deadlock between two planners, or a slot a dispatcher wrote after
# the window was read (the ledger's unique constraints).
RETRY_PGCODES = {"40P01"}
RETRY_CONSTRAINTS = {"ledger_customer_slot_unique", "ledger_group_slot_unique"}


def stage_customers(
    cursor: Any, campaign: Campaign, require_consent: bool, seq: str, customer_ids: list[int] | None = None
) -> None:
    """Stage every audience member (delivery id from the sequence, sender, exclusion reason).

    The audience is read straight from the segment facts (consent, opt-out and home store are there),
    so the plan never touches the wide customer rows.
    """
    expression, store_ids = _customer_audience(campaign)
    aud_where, aud_params = compile_where(
        organization_id=campaign.organization_id, expression=expression, store_ids=store_ids
    )
    if customer_ids is not None:
        # An explicit audience (a journey step's customers), still filtered by the expression.
        aud_where = f"({aud_where}) AND c.id = ANY(%s::bigint[])"
        aud_params = [*aud_params, customer_ids]
    excl = exclusion_sql(campaign)
    excl_case = f"WHEN c.id IN ({excl[0]}) THEN '{ExclusionReason.EXCLUDED_SEGMENT.value}'" if excl else ""
    needs_wecom = campaign.kind in (CampaignKind.BROADCAST_SINGLE, CampaignKind.MOMENT)
    holdout = HOLDOUT_SQL.format(col="c.id")
    sql = f"""
        CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS
        WITH aud AS MATERIALIZED (
            SELECT c.id, c.home_store_id, c.opted_out, c.marketing_consent
              FROM contacts_segmentfact c WHERE {aud_where}
        ),
        fs AS (
            SELECT DISTINCT ON (f.customer_id) f.customer_id, f.staff_id
              FROM contacts_follow f
              JOIN aud ON aud.id = f.customer_id
              JOIN contacts_staff st ON st.id = f.staff_id AND st.is_active AND st.wecom_userid <> ''
             WHERE f.deleted_at IS NULL
          ORDER BY f.customer_id, COALESCE(f.last_interaction_at, f.added_at) DESC, f.id DESC
        ),
        ps AS (
            SELECT DISTINCT ON (st.store_id) st.store_id, st.id AS staff_id
              FROM contacts_staff st
             WHERE st.organization_id = %s AND st.is_active AND st.wecom_userid <> '' AND st.store_id IS NOT NULL
          ORDER BY st.store_id, st.id
        )
        SELECT nextval('{seq}') AS delivery_id, c.id AS subject_id,
               COALESCE(fs.staff_id, ps.staff_id) AS sender_id,
               CASE
                 WHEN c.opted_out THEN '{ExclusionReason.OPTED_OUT.value}'
                 WHEN %s AND NOT c.marketing_consent THEN '{ExclusionReason.NO_CONSENT.value}'
                 {excl_case}
                 WHEN {holdout} THEN '{ExclusionReason.HOLDOUT.value}'
                 WHEN %s AND NOT EXISTS (
                   SELECT 1 FROM contacts_identity i WHERE i.customer_id = c.id AND i.platform = 'wecom'
                 ) THEN '{ExclusionReason.NO_WECOM.value}'
                 WHEN COALESCE(fs.staff_id, ps.staff_id) IS NULL THEN '{ExclusionReason.NO_SENDER.value}'
                 ELSE ''
               END::varchar(20) AS reason
          FROM aud c
          LEFT JOIN fs ON fs.customer_id = c.id
          LEFT JOIN ps ON ps.store_id = c.home_store_id
    """
    params: list[Any] = [*aud_params, campaign.organization_id, require_consent]
    if excl:
        params.extend(excl[1])
    params.extend([campaign.holdout_seed, campaign.holdout_percent, needs_wecom])
    cursor.execute(sql, params)


def _stage_groups(cursor: Any, campaign: Campaign, seq: str) -> None:
    aud_sql, aud_params = audience_sql(campaign)
    holdout = HOLDOUT_SQL.format(col="g.id")
    sql = f"""
        CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS
        SELECT nextval('{seq}') AS delivery_id, g.id AS subject_id, st.id AS sender_id,
               CASE WHEN {holdout} THEN '{ExclusionReason.HOLDOUT.value}'
                    WHEN st.id IS NULL THEN '{ExclusionReason.NO_SENDER.value}' ELSE '' END::varchar(20) AS reason
          FROM contacts_customergroup g
          JOIN ({aud_sql}) aud ON aud.id = g.id
          LEFT JOIN contacts_staff st ON st.id = g.owner_id AND st.is_active AND st.wecom_userid <> ''
    """
    cursor.execute(sql, [campaign.holdout_seed, campaign.holdout_percent, *aud_params])


def _reserve(cursor: Any, campaign: Campaign, window: Window) -> tuple[int, list[int]]:
    """Reserve one slot of ``window`` per staged recipient; returns (lost, preempted delivery ids).

    The slots the window already holds for our recipients are read with one range scan of the
    window (index ``ledger_window``); usually there are none, and every recipient gets slot 0 in one
    plain ``INSERT`` (no per-row ``ON CONFLICT`` probe, which doubles the cost of the write). Where
    slots are held: the first free slot; else the lowest-priority slot still only reserved by a
    campaign of lower priority is taken over; else the recipient is excluded with the window's
    reason. Planners of one organization run one at a time (``_plan`` takes an advisory lock), and
    should a dispatcher have written a slot since the read, the unique constraint refuses our INSERT
    and :func:`campaign_plan` plans again.
    """
    subject = "group_id" if campaign.kind == CampaignKind.BROADCAST_GROUP else "customer_id"
    if window.limit <= 0:
        cursor.execute(f"UPDATE {STAGE} SET reason = %s WHERE reason = ''", [window.reason])
        return cursor.rowcount, []
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}_x, {STAGE}_d, {STAGE}_t")
    cursor.execute(
        f"""CREATE TEMP TABLE {STAGE}_x ON COMMIT DROP AS
            SELECT q.id, q.{subject} AS subject_id, q.slot_no, q.state, q.priority
              FROM campaigns_quotaledger q JOIN {STAGE} p ON p.subject_id = q.{subject} AND p.reason = ''
             WHERE q.kind = %s AND q.window_start = %s""",
        [window.kind, window.start],
    )
    lost = 0
    preempted: list[int] = []
    held = cursor.rowcount > 0
    if held:
        cursor.execute(f"CREATE INDEX ON {STAGE}_x (subject_id, slot_no)")
        cursor.execute(f"ANALYZE {STAGE}_x")
        # Per recipient already holding slots: the first free slot, else a slot to take over.
        cursor.execute(
            f"""CREATE TEMP TABLE {STAGE}_d ON COMMIT DROP AS
                SELECT h.subject_id,
                       (SELECT s FROM generate_series(0, %s) s
                         WHERE NOT EXISTS (SELECT 1 FROM {STAGE}_x x
                                            WHERE x.subject_id = h.subject_id AND x.slot_no = s)
                         ORDER BY s LIMIT 1) AS slot_no,
                       (SELECT x.id FROM {STAGE}_x x
                         WHERE x.subject_id = h.subject_id AND x.state = %s AND x.priority < %s
                         ORDER BY x.priority, x.slot_no LIMIT 1) AS take_id
                  FROM (SELECT DISTINCT subject_id FROM {STAGE}_x) h""",
            [window.limit - 1, LedgerState.RESERVED, campaign.priority],
        )
        cursor.execute(f"CREATE TEMP TABLE {STAGE}_t (delivery_id bigint, prev_delivery_id bigint) ON COMMIT DROP")
        # Take over; the conditions are checked again on the locked row (a dispatcher may have
        # started sending it meanwhile).
        cursor.execute(
            f"""WITH taken AS (
                    UPDATE campaigns_quotaledger q
                       SET prev_delivery_id = q.delivery_id, delivery_id = p.delivery_id, campaign_id = %s,
                           priority = %s, created_at = now()
                      FROM {STAGE}_d d JOIN {STAGE} p ON p.subject_id = d.subject_id
                     WHERE d.slot_no IS NULL AND q.id = d.take_id AND q.state = %s AND q.priority < %s
                 RETURNING q.delivery_id, q.prev_delivery_id
                )
                INSERT INTO {STAGE}_t SELECT delivery_id, prev_delivery_id FROM taken""",
            [campaign.pk, campaign.priority, LedgerState.RESERVED, campaign.priority],
        )
        cursor.execute(
            f"""UPDATE {STAGE} p SET reason = %s FROM {STAGE}_d d
                 WHERE p.reason = '' AND d.subject_id = p.subject_id AND d.slot_no IS NULL
                   AND NOT EXISTS (SELECT 1 FROM {STAGE}_t t WHERE t.delivery_id = p.delivery_id)""",
            [window.reason],
        )
        lost = cursor.rowcount
        cursor.execute(f"SELECT prev_delivery_id FROM {STAGE}_t WHERE prev_delivery_id IS NOT NULL")
        taken = [r[0] for r in cursor.fetchall()]
        if taken:
            # A separate statement: the taken deliveries may have been committed by their planner
            # after our statement's snapshot was taken.
            cursor.execute(
                """UPDATE campaigns_delivery SET status = %s, reason = %s, batch_id = NULL
                    WHERE id = ANY(%s::bigint[]) AND status = %s RETURNING id""",
                [DeliveryStatus.EXCLUDED, ExclusionReason.PREEMPTED, taken, DeliveryStatus.PLANNED],
            )
            preempted = [r[0] for r in cursor.fetchall()]
        slot_sql = f"COALESCE((SELECT d.slot_no FROM {STAGE}_d d WHERE d.subject_id = p.subject_id), 0)"
        skip = f"AND NOT EXISTS (SELECT 1 FROM {STAGE}_t t WHERE t.delivery_id = p.delivery_id)"
    else:
        slot_sql, skip = "0", ""
    cursor.execute(
        f"""
        INSERT INTO campaigns_quotaledger
               (organization_id, kind, {subject}, window_start, slot_no, state, campaign_id, delivery_id,
                priority, created_at)
        SELECT %s, %s, p.subject_id, %s, {slot_sql}, %s, %s, p.delivery_id, %s, now()
          FROM {STAGE} p
         WHERE p.reason = '' {skip}
      ORDER BY p.subject_id
        """,
        [campaign.organization_id, window.kind, window.start, LedgerState.RESERVED, campaign.pk, campaign.priority],
    )
    return lost, preempted


def _release(cursor: Any, campaign_id: int, preempted: list[int], several_windows: bool) -> None:
    """Give back slots held by recipients that ended up excluded (ours, and preempted deliveries)."""
    if several_windows:
        cursor.execute(
            f"""DELETE FROM campaigns_quotaledger l USING {STAGE} p
                 WHERE l.delivery_id = p.delivery_id AND p.reason <> '' AND l.campaign_id = %s""",
            [campaign_id],
        )
    if preempted:
        cursor.execute(
            "DELETE FROM campaigns_quotaledger WHERE delivery_id = ANY(%s::bigint[]) AND state = %s",
            [preempted, LedgerState.RESERVED],
        )


def write_deliveries(cursor: Any, campaign: Campaign, not_before: datetime) -> int:
    """Batches per sender (≤ 10,000 customers / 2,000 groups), then every delivery row in one INSERT.

    Most senders have fewer recipients than one call takes, so their batch is ``seq`` 0 without any
    sort; only the rare larger senders are numbered with a window function.
    """
    subject = "group_id" if campaign.kind == CampaignKind.BROADCAST_GROUP else "customer_id"
    per_call = MAX_GROUPS_PER_CALL if campaign.kind == CampaignKind.BROADCAST_GROUP else MAX_CUSTOMERS_PER_CALL
    cursor.execute(
        f"""
        CREATE TEMP TABLE {STAGE}_n ON COMMIT DROP AS
        WITH big AS (
            SELECT sender_id FROM {STAGE} WHERE reason = '' GROUP BY sender_id HAVING count(*) > %s
        )
        SELECT p.delivery_id,
               ((row_number() OVER (PARTITION BY p.sender_id ORDER BY p.subject_id) - 1) / %s)::int AS seq
          FROM {STAGE} p JOIN big ON big.sender_id = p.sender_id WHERE p.reason = ''
        """,
        [per_call, per_call],
    )
    cursor.execute(f"ANALYZE {STAGE}_n")
    cursor.execute(
        f"""
        INSERT INTO campaigns_batch (organization_id, campaign_id, sender_id, seq, size, status, not_before,
                                     attempts, msgid, reminders, last_error, created_at, updated_at)
        SELECT %s, %s, p.sender_id, COALESCE(n.seq, 0), count(*), 'pending', %s, 0, '', '{{}}', '', now(), now()
          FROM {STAGE} p LEFT JOIN {STAGE}_n n ON n.delivery_id = p.delivery_id
         WHERE p.reason = ''
      GROUP BY p.sender_id, COALESCE(n.seq, 0)
        """,
        [campaign.organization_id, campaign.pk, not_before],
    )
    # A small analysed table so the big INSERT below hash-joins instead of probing per row.
    cursor.execute(
        f"""CREATE TEMP TABLE {STAGE}_b ON COMMIT DROP AS
            SELECT id, sender_id, seq FROM campaigns_batch WHERE campaign_id = %s""",
        [campaign.pk],
    )
    cursor.execute(f"ANALYZE {STAGE}_b")
    cursor.execute(
        f"""
        INSERT INTO campaigns_delivery
               (id, organization_id, campaign_id, {subject}, sender_id, batch_id, status, reason)
        SELECT p.delivery_id, %s, %s, p.subject_id, p.sender_id, b.id,
               CASE WHEN p.reason = '' THEN %s ELSE %s END, p.reason
          FROM {STAGE} p
          LEFT JOIN {STAGE}_n n ON n.delivery_id = p.delivery_id
          LEFT JOIN {STAGE}_b b ON p.reason = '' AND b.sender_id = p.sender_id AND b.seq = COALESCE(n.seq, 0)
        """,
        [campaign.organization_id, campaign.pk, DeliveryStatus.PLANNED, DeliveryStatus.EXCLUDED],
    )
    cursor.execute("SELECT count(*) FROM campaigns_batch WHERE campaign_id = %s", [campaign.pk])
    return int(cursor.fetchone()[0])


def exclusion_counts(campaign_id: int) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reason, count(*) FROM campaigns_delivery WHERE campaign_id = %s AND reason <> '' GROUP BY reason",
            [campaign_id],
        )
        return {reason: int(n) for reason, n in cursor.fetchall()}


def campaign_plan(
    *, campaign_id: int, now: datetime | None = None, retries: int = 3, customer_ids: list[int] | None = None
) -> PlanResult:
    """Plan a campaign (idempotent: a campaign already planned is left as it is).

    ``customer_ids`` limits the audience to those customers (journeys plan their step's customers);
    every exclusion, cap, quiet hour and opt-out applies as for any campaign.
    """
    for attempt in range(retries):
        try:
            return _plan(campaign_id, now or timezone.now(), customer_ids)
        except (OperationalError, IntegrityError) as exc:
            cause = exc.__cause__
            constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
            retry = getattr(cause, "pgcode", None) in RETRY_PGCODES or constraint in RETRY_CONSTRAINTS
            if not retry or attempt == retries - 1:
                raise
            logger.warning("planner conflict on campaign %s, retrying: %s", campaign_id, type(exc).__name__)
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


@transaction.atomic
def _plan(campaign_id: int, now: datetime, customer_ids: list[int] | None = None) -> PlanResult:
    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("segment").get(pk=campaign_id)
    if campaign.planned_at is not None:
        return PlanResult(
            planned=campaign.deliveries.filter(status=DeliveryStatus.PLANNED).count(),
            excluded=exclusion_counts(campaign.pk),
            preempted_others=0,
            batches=campaign.batches.count(),
            send_after=campaign.send_after or now,
        )
    if campaign.kind == CampaignKind.WELCOME_TEMPLATE:
        raise PlanError("欢迎语模板无需排期发送：它会在客户通过渠道活码添加员工时自动发送")
    if campaign.kind == CampaignKind.BROADCAST_GROUP and not campaign.group_ids:
        raise PlanError("请至少选择一个客户群")
    policy = policy_for(organization_id=campaign.organization_id, channel_account_id=campaign.channel_account_id)
    start = max(now, campaign.due_at) if campaign.due_at else now
    send_after = next_allowed(policy=policy, at=start)
    day = platform_day(send_after)
    preempted_all: list[int] = []
    windows = windows_for(policy=policy, kind=campaign.kind, day=day)
    laps = Laps()
    lap = laps.lap

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP_TABLES}")
        # One planner per organization at a time (two would only race for the same slots), and the
        # memory for the set-based joins to stay in memory; JIT compiles for longer than it saves here.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [PLAN_LOCK, campaign.organization_id])
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SELECT pg_get_serial_sequence('campaigns_delivery', 'id')")
        seq = cursor.fetchone()[0]
        if campaign.kind == CampaignKind.BROADCAST_GROUP:
            _stage_groups(cursor, campaign, seq)
        else:
            stage_customers(cursor, campaign, policy.require_consent, seq, customer_ids)
        cursor.execute(f"ANALYZE {STAGE}")  # a temp table has no statistics otherwise
        lap("stage")
        for window in windows:
            _, preempted = _reserve(cursor, campaign, window)
            preempted_all.extend(preempted)
        _release(cursor, campaign.pk, preempted_all, len(windows) > 1)
        lap("reserve")
        batches = write_deliveries(cursor, campaign, send_after)
        lap("write")
        # The counts from the staged rows (the same rows as the deliveries just written, smaller).
        cursor.execute(f"SELECT reason, count(*) FROM {STAGE} GROUP BY reason")
        counts = {str(reason): int(n) for reason, n in cursor.fetchall()}
        planned = counts.pop("", 0)
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP_TABLES}")
    campaign.planned_at = now
    campaign.send_after = send_after
    campaign.stats = {**(campaign.stats or {}), "planned": planned, "excluded": counts}
    campaign.save(update_fields=["planned_at", "send_after", "stats", "updated_at"])
    lap("count")
    return PlanResult(
        planned=planned,
        excluded=counts,
        preempted_others=len(preempted_all),
        batches=batches,
        send_after=send_after,
        timings_ms=laps.ms,
    )
