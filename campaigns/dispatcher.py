"""The dispatcher: claims batches, records the attempt, calls WeCom once, and recovers from crashes.

Per batch (``batch_dispatch``):

1. **Claim** in a short transaction: ``SELECT … FOR UPDATE SKIP LOCKED`` on the batch, check the
   campaign is sending and the clock is outside quiet hours, take a session advisory lock on the
   batch (held only while we call out; a dead worker's connection releases it), mark the
   batch's ledger slots ``sending`` (no longer preemptable), write a ``DispatchAttempt(started)``
   and the batch ``attempting`` — and commit, all **before** the outbound call.
2. **Call** ``channels.outbound.broadcast_create`` (≤ 10,000 customers / 2,000 groups, one sender).
   Pacing is the channels client's token bucket and concurrency cap; ``RateLimited`` puts the
   batch back with ``not_before = now + retry_after`` (no retry storm).
3. **Record** the outcome. A timeout or a crash leaves the batch ``attempting``.
4. **Reconcile** an ``attempting`` batch whose advisory lock is free (its worker is gone, or lost its
   Postgres connection) once the unfinished call cannot still be in flight
   (``CAMPAIGNS_RECONCILE_AFTER_SECONDS``, longer than the outbound timeout): ``broadcast_list``
   (get_groupmsg_list_v2) from the attempt's start, same creator and text,
   not adopted by another batch; one candidate → adopt its msgid; several → compare recipients
   with ``broadcast_send_result``; none → the call never created a task, so it is safe to call again;
   anything WeCom cannot tell → ``needs_operator`` (a duplicate would burn the customer's slot).

Tracking (``batch_track``): member confirmation (``broadcast_task``), reminders (≤ 3 per 24 h),
per-recipient results (``broadcast_send_result``; status 3 marks the slot used elsewhere), the
customer timeline through ``contacts.services.timeline_add``.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns import moments
from campaigns.models import (
    AttemptOutcome,
    Batch,
    BatchStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    DispatchAttempt,
    ExclusionReason,
    LedgerState,
    QuotaLedger,
)
from campaigns.quota import in_quiet_hours, next_allowed, platform_day, policy_for, windows_for
from campaigns.services import campaign_finish_if_complete
from channels import errors, outbound
from channels.selectors import wecom_account_for
from contacts.models import Tag, TimelineKind
from contacts.services import timeline_add
from scrm.celery import enqueue

logger = logging.getLogger(__name__)

LOCK_NAMESPACE = 7_305_001  # pg advisory lock key space for batches (two-int form: namespace, id)
REMIND_AFTER = timedelta(hours=1)
REMIND_GAP = timedelta(hours=4)
MAX_REMINDERS_PER_DAY = 3
GIVE_UP_UNCONFIRMED = timedelta(days=3)
RECONCILE_SLACK = timedelta(seconds=60)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _account_id(campaign: Campaign) -> int | None:
    if campaign.channel_account_id:
        return campaign.channel_account_id
    account = wecom_account_for(organization=campaign.organization)
    return account.pk if account else None


@contextmanager
def _batch_lock(batch_id: int) -> Iterator[bool]:
    """Session advisory lock: held while this process may be calling WeCom for the batch."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, batch_id])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, batch_id])


# -- enqueueing ----------------------------------------------------------------------------------


def _enqueue(batch_ids: list[int], countdown: float | None = None) -> None:
    for batch_id in batch_ids:
        if countdown:
            enqueue("campaigns.dispatch.batch", batch_id, countdown=min(max(countdown, 0.5), 300))
        else:
            enqueue("campaigns.dispatch.batch", batch_id)


def dispatch_campaign_batches(*, campaign_id: int, now: datetime | None = None) -> int:
    """Enqueue the campaign's due batches (one task per batch; workers claim them)."""
    now = now or timezone.now()
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return 0
    if campaign.kind == CampaignKind.MOMENT:
        moment_dispatch(campaign_id=campaign_id, now=now)
        return 1
    ids = list(
        campaign.batches.filter(status__in=[BatchStatus.PENDING, BatchStatus.ATTEMPTING])
        .exclude(not_before__gt=now)
        .values_list("pk", flat=True)
    )
    _enqueue(ids)
    if not ids:
        campaign_finish_if_complete(campaign_id=campaign_id)
    return len(ids)


def dispatch_tick(*, now: datetime | None = None) -> int:
    """Beat: every sending campaign's due batches, including ones a dead worker left ``attempting``."""
    now = now or timezone.now()
    n = 0
    for campaign_id in Campaign.objects.filter(status=CampaignStatus.SENDING).values_list("pk", flat=True):
        n += dispatch_campaign_batches(campaign_id=campaign_id, now=now)
    return n


# -- one batch -----------------------------------------------------------------------------------


def _recipients(batch: Batch, campaign: Campaign, account_id: int) -> dict[str, int]:
    """``{external_userid or chat_id: delivery_id}`` for the batch's still-planned deliveries."""
    with connection.cursor() as cursor:
        if campaign.kind == CampaignKind.BROADCAST_GROUP:
            cursor.execute(
                """
                SELECT g.wecom_chat_id, d.id FROM campaigns_delivery d
                  JOIN contacts_customergroup g ON g.id = d.group_id
                 WHERE d.batch_id = %s AND d.status = ANY(%s) AND g.wecom_chat_id <> ''
                """,
                [batch.pk, [DeliveryStatus.PLANNED, DeliveryStatus.TASK_CREATED]],
            )
        else:
            cursor.execute(
                """
                SELECT DISTINCT ON (d.id) i.external_id, d.id
                  FROM campaigns_delivery d
                  JOIN contacts_identity i ON i.customer_id = d.customer_id AND i.platform = 'wecom'
                  LEFT JOIN channels_channelaccount a ON a.id = %s
                 WHERE d.batch_id = %s AND d.status = ANY(%s)
              ORDER BY d.id, (i.account = COALESCE(a.external_id, '')) DESC, i.id
                """,
                [account_id, batch.pk, [DeliveryStatus.PLANNED, DeliveryStatus.TASK_CREATED]],
            )
        return dict(cursor.fetchall())


@transaction.atomic
def _drop_opted_out(batch: Batch) -> int:
    """An opt-out (or an erasure) between the plan and the send still wins: those deliveries leave the
    batch as excluded, with their quota slots released, before anything reaches WeCom."""
    ids = list(
        Delivery.objects.filter(
            batch=batch, status=DeliveryStatus.PLANNED, customer__opted_out_at__isnull=False
        ).values_list("pk", flat=True)
    )
    if ids:
        Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.EXCLUDED, reason=ExclusionReason.OPTED_OUT)
        QuotaLedger.objects.filter(delivery_id__in=ids).delete()
    return len(ids)


def batch_dispatch(*, batch_id: int, now: datetime | None = None, requeue: bool = True) -> str:
    """Claim and send one batch; returns what happened (for tests and logs).

    A batch that must be tried again (``rate_limited``, ``unknown``, a failed reconciliation) is
    enqueued again with a countdown. ``requeue=False`` leaves that to the caller, which then retries
    on those outcomes itself: the dispatch benchmark's worker threads, which stand in for Celery.
    """
    now = now or timezone.now()
    with _batch_lock(batch_id) as locked:
        if not locked:
            return "busy"
        claim = _claim(batch_id, now)
        if claim in ("reconcile",):
            return _reconcile(batch_id, requeue=requeue)
        if claim != "claimed":
            return claim
        return _call(batch_id, requeue=requeue)


@transaction.atomic
def _claim(batch_id: int, now: datetime) -> str:
    batch = Batch.objects.select_for_update(skip_locked=True).filter(pk=batch_id).first()
    if batch is None:
        return "gone"
    if batch.status == BatchStatus.ATTEMPTING:
        return "reconcile"  # we hold the advisory lock, so the worker that started it is gone
    if batch.status != BatchStatus.PENDING:
        return batch.status
    campaign = Campaign.objects.get(pk=batch.campaign_id)
    if campaign.status != CampaignStatus.SENDING:
        return f"campaign_{campaign.status}"
    if batch.not_before and batch.not_before > now:
        return "not_yet"
    policy = policy_for(organization_id=campaign.organization_id, channel_account_id=campaign.channel_account_id)
    if in_quiet_hours(policy=policy, at=now):
        batch.not_before = next_allowed(policy=policy, at=now)
        batch.save(update_fields=["not_before", "updated_at"])
        return "quiet_hours"
    day = platform_day(now)
    if campaign.send_after and platform_day(campaign.send_after) != day:
        # Sent on another platform day than planned (paused overnight, long backoff): the slots must
        # be those of today's windows, or a customer could exceed today's cap.
        _rewindow(batch, campaign, policy, day)
    # From here on no other campaign may take these slots.
    QuotaLedger.objects.filter(
        delivery__batch_id=batch.pk, delivery__status=DeliveryStatus.PLANNED, state=LedgerState.RESERVED
    ).update(state=LedgerState.SENDING)
    if not batch.deliveries.filter(status=DeliveryStatus.PLANNED).exists():
        batch.status = BatchStatus.DONE
        batch.save(update_fields=["status", "updated_at"])
        return "empty"
    DispatchAttempt.objects.create(batch=batch, worker=_worker_name())
    batch.status = BatchStatus.ATTEMPTING
    batch.attempts += 1
    batch.save(update_fields=["status", "attempts", "updated_at"])
    return "claimed"


def _rewindow(batch: Batch, campaign: Campaign, policy: Any, day: Any) -> None:
    """Move the batch's reservations to the windows of ``day``; recipients without a free slot there
    are excluded (``quota``) and give their other slots back."""
    subject = "group_id" if campaign.kind == CampaignKind.BROADCAST_GROUP else "customer_id"
    with connection.cursor() as cursor:
        for window in windows_for(policy=policy, kind=campaign.kind, day=day):
            free = f"""(SELECT s FROM generate_series(0, %s) s WHERE NOT EXISTS (
                          SELECT 1 FROM campaigns_quotaledger x WHERE x.organization_id = old.organization_id
                             AND x.{subject} = old.{subject} AND x.kind = old.kind AND x.window_start = %s
                             AND x.slot_no = s) ORDER BY s LIMIT 1)"""
            cursor.execute(
                f"""
                WITH old AS (
                    DELETE FROM campaigns_quotaledger l USING campaigns_delivery d
                     WHERE l.delivery_id = d.id AND d.batch_id = %s AND d.status = %s
                       AND l.kind = %s AND l.window_start <> %s
                 RETURNING l.*
                ),
                ins AS (
                    INSERT INTO campaigns_quotaledger (organization_id, kind, customer_id, group_id, window_start,
                                                       slot_no, state, campaign_id, delivery_id, priority, created_at)
                    SELECT old.organization_id, old.kind, old.customer_id, old.group_id, %s, {free},
                           old.state, old.campaign_id, old.delivery_id, old.priority, now()
                      FROM old WHERE {free} IS NOT NULL
                    ON CONFLICT DO NOTHING
                 RETURNING delivery_id
                )
                UPDATE campaigns_delivery d SET status = %s, reason = %s
                  FROM old WHERE d.id = old.delivery_id AND NOT EXISTS (SELECT 1 FROM ins WHERE ins.delivery_id = d.id)
                """,
                [
                    batch.pk,
                    DeliveryStatus.PLANNED,
                    window.kind,
                    window.start,
                    window.start,
                    window.limit - 1,
                    window.start,
                    window.limit - 1,
                    window.start,
                    DeliveryStatus.EXCLUDED,
                    window.reason,
                ],
            )
        cursor.execute(
            """DELETE FROM campaigns_quotaledger l USING campaigns_delivery d
                WHERE l.delivery_id = d.id AND d.batch_id = %s AND d.status = %s""",
            [batch.pk, DeliveryStatus.EXCLUDED],
        )


def _call(batch_id: int, *, requeue: bool) -> str:
    batch = Batch.objects.select_related("sender", "campaign", "campaign__organization").get(pk=batch_id)
    campaign = batch.campaign
    account_id = _account_id(campaign)
    if account_id is None:
        _fail(batch, 0, "未连接企业微信账号：请先在「渠道账号」中连接企业微信")
        return "failed"
    dropped = _drop_opted_out(batch) if campaign.kind != CampaignKind.BROADCAST_GROUP else 0
    recipients = _recipients(batch, campaign, account_id)
    if not recipients:
        if dropped and not batch.deliveries.filter(status=DeliveryStatus.PLANNED).exists():
            _fail(batch, 0, "批次中的客户在计划后都已退订，未发送", reason=ExclusionReason.OPTED_OUT)
        else:
            _fail(batch, 0, "批次中没有可发送的企业微信客户", reason=ExclusionReason.NO_WECOM)
        return "failed"
    group = campaign.kind == CampaignKind.BROADCAST_GROUP
    try:
        created = outbound.broadcast_create(
            account_id=account_id,
            chat_type="group" if group else "single",
            sender=batch.sender.wecom_userid,
            external_userids=None if group else sorted(recipients),
            chat_ids=sorted(recipients) if group else None,
            text=campaign.text,
            attachments=campaign.attachments or None,
        )
    except errors.RateLimited as exc:
        _rate_limited(batch, exc, requeue=requeue)
        return "rate_limited"
    except errors.PlatformError as exc:
        _fail(batch, exc.code, exc.message)
        return "failed"
    except Exception as exc:  # timeout/transient/bug: WeCom may or may not have created the task
        logger.warning("batch %s: outcome unknown (%s); will reconcile", batch.pk, type(exc).__name__)
        DispatchAttempt.objects.filter(batch=batch, outcome=AttemptOutcome.STARTED).update(
            outcome=AttemptOutcome.UNKNOWN, error=str(exc)[:300], finished_at=timezone.now()
        )
        if requeue:
            _enqueue([batch.pk], countdown=5)
        return "unknown"
    _created(batch, created.msgid, created.fail_list, recipients, AttemptOutcome.OK)
    return "created"


@transaction.atomic
def _created(
    batch: Batch, msgid: str, fail_list: list[str], recipients: dict[str, int], outcome: str = AttemptOutcome.OK
) -> None:
    now = timezone.now()
    DispatchAttempt.objects.filter(batch=batch, outcome__in=[AttemptOutcome.STARTED, AttemptOutcome.UNKNOWN]).update(
        outcome=outcome, msgid=msgid, finished_at=now
    )
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.CREATED, msgid=msgid, task_created_at=now, last_error="", updated_at=now
    )
    failed_ids = [recipients[x] for x in fail_list if x in recipients]
    Delivery.objects.filter(batch=batch, status=DeliveryStatus.PLANNED).exclude(pk__in=failed_ids).update(
        status=DeliveryStatus.TASK_CREATED
    )
    if failed_ids:
        Delivery.objects.filter(pk__in=failed_ids).update(
            status=DeliveryStatus.FAILED, reason=ExclusionReason.NOT_FRIEND
        )
        QuotaLedger.objects.filter(delivery_id__in=failed_ids).delete()
    # The slot is charged once the task exists (conservative: the member may still send it today).
    QuotaLedger.objects.filter(delivery__batch=batch, state=LedgerState.SENDING).update(state=LedgerState.USED)


@transaction.atomic
def _rate_limited(batch: Batch, exc: Any, *, requeue: bool = True) -> None:
    now = timezone.now()
    retry = max(float(getattr(exc, "retry_after", 1.0) or 1.0), 0.5)
    DispatchAttempt.objects.filter(batch=batch, outcome=AttemptOutcome.STARTED).update(
        outcome=AttemptOutcome.RATE_LIMITED, error_code=exc.code, error=str(exc.message)[:300], finished_at=now
    )
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.PENDING, not_before=now + timedelta(seconds=retry), last_error=f"限流，{retry:.0f} 秒后重试"
    )
    if requeue:
        transaction.on_commit(lambda: _enqueue([batch.pk], countdown=retry))


@transaction.atomic
def _fail(batch: Batch, code: int, message: str, reason: str = ExclusionReason.PLATFORM_ERROR) -> None:
    now = timezone.now()
    DispatchAttempt.objects.filter(batch=batch, outcome=AttemptOutcome.STARTED).update(
        outcome=AttemptOutcome.ERROR, error_code=code, error=message[:300], finished_at=now
    )
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.FAILED, last_error=message[:300])
    ids = list(batch.deliveries.filter(status=DeliveryStatus.PLANNED).values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.FAILED, reason=reason)
    QuotaLedger.objects.filter(delivery_id__in=ids).delete()
    transaction.on_commit(lambda: _finish(batch.campaign_id))


def _finish(campaign_id: int) -> None:
    campaign_finish_if_complete(campaign_id=campaign_id)


def _reconcile(batch_id: int, *, requeue: bool) -> str:
    """The batch was left ``attempting``: find the task WeCom may already have, never create a second."""
    batch = Batch.objects.select_related("sender", "campaign", "campaign__organization").get(pk=batch_id)
    campaign = batch.campaign
    attempt = batch.dispatch_attempts.order_by("-started_at", "-id").first()
    account_id = _account_id(campaign)
    if attempt is None or account_id is None:
        _needs_operator(batch, "调用记录缺失，无法确认是否已创建群发任务，请人工核对企业微信后台")
        return "needs_operator"
    if attempt.finished_at is None:
        # The worker that made this call went away before it recorded the outcome — killed, or its
        # Postgres connection dropped (which frees the advisory lock while the process may still be
        # waiting on WeCom). Until the call's own timeout has passed it may still be in flight and
        # WeCom's list would not show its task yet: looking now could send a second task.
        wait = attempt.started_at + timedelta(seconds=settings.CAMPAIGNS_RECONCILE_AFTER_SECONDS) - timezone.now()
        if wait > timedelta(0):
            if requeue:
                _enqueue([batch.pk], countdown=wait.total_seconds() + 1)
            return "reconcile_later"
    try:
        found = outbound.broadcast_list(
            account_id=account_id,
            start=attempt.started_at - RECONCILE_SLACK,
            end=timezone.now() + RECONCILE_SLACK,
            creator=batch.sender.wecom_userid,
        )
    except Exception as exc:
        logger.warning("batch %s: reconciliation list failed (%s); will retry", batch.pk, exc)
        if requeue:
            _enqueue([batch.pk], countdown=10)
        return "reconcile_later"
    chat_type = "group" if campaign.kind == CampaignKind.BROADCAST_GROUP else "single"
    adopted = set(
        Batch.objects.filter(organization_id=batch.organization_id).exclude(msgid="").values_list("msgid", flat=True)
    )
    started = int((attempt.started_at - timedelta(seconds=5)).timestamp())

    def text_of(m: dict[str, Any]) -> str:
        text = m.get("text")
        return str(text.get("content", "")) if isinstance(text, dict) else str(text or "")

    candidates = [
        m
        for m in found
        if m.get("chat_type", chat_type) == chat_type
        and m.get("msgid") not in adopted
        and int(m.get("create_time") or 0) >= started
        and text_of(m) == campaign.text
    ]
    recipients = _recipients(batch, campaign, account_id)
    if len(candidates) > 1:
        # Several look alike (e.g. two batches of one sender): match on the exact recipients.
        exact = []
        for m in candidates:
            try:
                rows = outbound.broadcast_send_result(
                    account_id=account_id, msgid=m["msgid"], userid=batch.sender.wecom_userid
                )
            except Exception:
                rows = None
            if rows is None:
                _needs_operator(batch, "无法核对已存在的群发任务，请人工在企业微信后台确认后处理")
                return "needs_operator"
            ids = {r.get("external_userid") or r.get("chat_id") for r in rows}
            if ids and ids <= set(recipients):
                exact.append(m)
        candidates = exact
    if len(candidates) == 1:
        msgid = str(candidates[0]["msgid"])
        logger.info("batch %s: adopted existing WeCom task %s", batch.pk, msgid)
        _created(batch, msgid, [], recipients, AttemptOutcome.RECONCILED)
        return "adopted"
    if len(candidates) > 1:
        _needs_operator(batch, "企业微信中有多个可能对应的群发任务，无法确定，请人工核对")
        return "needs_operator"
    # WeCom lists no such task: the earlier call never created one; calling again cannot duplicate.
    with transaction.atomic():
        DispatchAttempt.objects.filter(
            batch=batch, outcome__in=[AttemptOutcome.STARTED, AttemptOutcome.UNKNOWN]
        ).update(outcome=AttemptOutcome.UNKNOWN, finished_at=timezone.now(), error="未创建任务，重新发送")
        DispatchAttempt.objects.create(batch=batch, worker=_worker_name())
        Batch.objects.filter(pk=batch.pk).update(attempts=batch.attempts + 1)
    return _call(batch.pk, requeue=requeue)


@transaction.atomic
def _needs_operator(batch: Batch, message: str) -> None:
    DispatchAttempt.objects.filter(batch=batch, outcome=AttemptOutcome.STARTED).update(
        outcome=AttemptOutcome.UNKNOWN, finished_at=timezone.now(), error=message[:300]
    )
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.NEEDS_OPERATOR, last_error=message[:300])


def batch_cancel_remote(*, batch_id: int) -> None:
    batch = Batch.objects.select_related("campaign").filter(pk=batch_id).first()
    if batch is None or not batch.msgid:
        return
    account_id = _account_id(batch.campaign)
    if account_id is None:
        return
    try:
        outbound.broadcast_cancel(account_id=account_id, msgid=batch.msgid)
    except Exception as exc:
        logger.warning("batch %s: cancel failed: %s", batch.pk, exc)
        return
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.CANCELLED)
        ids = list(batch.deliveries.filter(status=DeliveryStatus.TASK_CREATED).values_list("pk", flat=True))
        Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.CANCELLED)
        QuotaLedger.objects.filter(delivery_id__in=ids).delete()


# -- tracking ------------------------------------------------------------------------------------


def track_tick(*, now: datetime | None = None) -> int:
    ids = list(Batch.objects.filter(status=BatchStatus.CREATED).values_list("pk", flat=True)[:500])
    for batch_id in ids:
        enqueue("campaigns.dispatch.track_batch", batch_id)
    for campaign_id in Campaign.objects.filter(status=CampaignStatus.SENDING, kind=CampaignKind.MOMENT).values_list(
        "pk", flat=True
    ):
        moment_track(campaign_id=campaign_id)
    # Likes and comments keep coming after the post is visible (campaigns.moments).
    moments.interactions_tick(account_for=_account_id, now=now)
    return len(ids)


def batch_track(*, batch_id: int, now: datetime | None = None) -> str:
    """Confirmation, reminders and per-recipient results of one created WeCom task."""
    now = now or timezone.now()
    batch = Batch.objects.select_related("sender", "campaign", "campaign__organization").filter(pk=batch_id).first()
    if batch is None or batch.status != BatchStatus.CREATED or not batch.msgid:
        return "skip"
    account_id = _account_id(batch.campaign)
    if account_id is None:
        return "skip"
    userid = batch.sender.wecom_userid
    if batch.confirmed_at is None:
        tasks = outbound.broadcast_task(account_id=account_id, msgid=batch.msgid)
        mine = next((t for t in tasks if t.get("userid") == userid), None)
        if mine and int(mine.get("status") or 0) == 2:
            sent = int(mine.get("send_time") or 0)
            batch.confirmed_at = datetime.fromtimestamp(sent, tz=UTC) if sent else now
            Batch.objects.filter(pk=batch.pk).update(confirmed_at=batch.confirmed_at)
        else:
            created = batch.task_created_at or batch.created_at
            if now - created > GIVE_UP_UNCONFIRMED:
                _unconfirmed(batch)
                return "unconfirmed"
            recent = [r for r in batch.reminders if now - r < timedelta(hours=24)]
            last = max(batch.reminders) if batch.reminders else None
            if (
                now - created >= REMIND_AFTER
                and len(recent) < MAX_REMINDERS_PER_DAY
                and (last is None or now - last >= REMIND_GAP)
            ):
                # Recorded before the call: a crash costs a reminder, never a fourth one.
                Batch.objects.filter(pk=batch.pk).update(reminders=[*batch.reminders, now])
                try:
                    outbound.broadcast_remind(account_id=account_id, msgid=batch.msgid)
                except Exception as exc:
                    logger.warning("batch %s: remind failed: %s", batch.pk, exc)
                return "reminded"
            return "waiting"
    rows = outbound.broadcast_send_result(account_id=account_id, msgid=batch.msgid, userid=userid)
    _apply_results(batch, rows, account_id)
    return "synced"


def _apply_results(batch: Batch, rows: list[dict[str, Any]], account_id: int) -> None:
    campaign = batch.campaign
    recipients = _recipients(batch, campaign, account_id)
    group = campaign.kind == CampaignKind.BROADCAST_GROUP
    delivered: dict[int, datetime] = {}
    failed: dict[str, list[int]] = {ExclusionReason.NOT_FRIEND: [], ExclusionReason.QUOTA_ELSEWHERE: []}
    pending = 0
    for row in rows:
        rid = row.get("chat_id") if group else row.get("external_userid")
        delivery_id = recipients.get(str(rid))
        if delivery_id is None:
            continue
        status = int(row.get("status") or 0)
        if status == 1:
            sent = int(row.get("send_time") or 0)
            delivered[delivery_id] = datetime.fromtimestamp(sent, tz=UTC) if sent else timezone.now()
        elif status == 2:
            failed[ExclusionReason.NOT_FRIEND].append(delivery_id)
        elif status == 3:
            failed[ExclusionReason.QUOTA_ELSEWHERE].append(delivery_id)
        else:
            pending += 1
    if group:
        # Group results list only what was sent; the rest was refused (receive cap) once confirmed.
        seen = set(delivered)
        failed[ExclusionReason.QUOTA_ELSEWHERE] += [d for d in recipients.values() if d not in seen]
        pending = 0
    with transaction.atomic():
        for delivery_id, at in delivered.items():
            Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.TASK_CREATED).update(
                status=DeliveryStatus.DELIVERED, delivered_at=at
            )
        for reason, ids in failed.items():
            Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.TASK_CREATED).update(
                status=DeliveryStatus.FAILED, reason=reason
            )
        if failed[ExclusionReason.NOT_FRIEND]:
            QuotaLedger.objects.filter(delivery_id__in=failed[ExclusionReason.NOT_FRIEND]).delete()
        if failed[ExclusionReason.QUOTA_ELSEWHERE]:
            # WeCom status 3: another broadcast (e.g. a member's manual send) consumed the slot.
            QuotaLedger.objects.filter(delivery_id__in=failed[ExclusionReason.QUOTA_ELSEWHERE]).update(
                state=LedgerState.USED_ELSEWHERE
            )
        if not pending:
            Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.DONE, results_synced_at=timezone.now())
        else:
            Batch.objects.filter(pk=batch.pk).update(results_synced_at=timezone.now())
        transaction.on_commit(lambda: _timeline(list(delivered), campaign))
        transaction.on_commit(lambda: _finish(campaign.pk))


def _timeline(delivery_ids: list[int], campaign: Campaign) -> None:
    if not delivery_ids:
        return
    kind = TimelineKind.MOMENT if campaign.kind == CampaignKind.MOMENT else TimelineKind.MESSAGED
    for d in Delivery.objects.filter(pk__in=delivery_ids, customer__isnull=False).select_related("customer", "sender"):
        if d.customer is None:
            continue
        timeline_add(
            customer=d.customer,
            kind=kind,
            summary=f"收到{campaign.get_kind_display()}「{campaign.name}」",
            data={"campaign_id": campaign.pk, "delivery_id": d.pk},
            actor=d.sender,
            occurred_at=d.delivered_at,
        )


@transaction.atomic
def _unconfirmed(batch: Batch) -> None:
    ids = list(batch.deliveries.filter(status=DeliveryStatus.TASK_CREATED).values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.FAILED, reason=ExclusionReason.NOT_CONFIRMED)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.DONE, last_error="员工 3 天内未确认发送")
    transaction.on_commit(lambda: _finish(batch.campaign_id))


# -- Moments -------------------------------------------------------------------------------------


def moment_dispatch(*, campaign_id: int, now: datetime | None = None) -> str:
    """One ``add_moment_task`` for all senders. WeCom cannot list jobs by caller, so an attempt
    left unfinished by a crash is never repeated: the operator checks it."""
    now = now or timezone.now()
    with _batch_lock(-campaign_id) as locked:
        if not locked:
            return "busy"
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
            if campaign.status != CampaignStatus.SENDING or campaign.moment_jobid:
                return "skip"
            policy = policy_for(
                organization_id=campaign.organization_id, channel_account_id=campaign.channel_account_id
            )
            if in_quiet_hours(policy=policy, at=now) or (campaign.send_after and campaign.send_after > now):
                return "not_yet"
            batches = list(campaign.batches.select_for_update().select_related("sender"))
            if any(b.status == BatchStatus.ATTEMPTING for b in batches):
                for b in batches:
                    if b.status == BatchStatus.ATTEMPTING:
                        _needs_operator(b, "朋友圈任务发布结果未知，请在企业微信后台确认是否已发布")
                return "needs_operator"
            pending = [b for b in batches if b.status == BatchStatus.PENDING]
            if not pending:
                return "empty"
            QuotaLedger.objects.filter(delivery__batch__in=pending, state=LedgerState.RESERVED).update(
                state=LedgerState.SENDING
            )
            for b in pending:
                DispatchAttempt.objects.create(batch=b, worker=_worker_name())
            Batch.objects.filter(pk__in=[b.pk for b in pending]).update(status=BatchStatus.ATTEMPTING, attempts=1)
        account_id = _account_id(campaign)
        senders = sorted({b.sender.wecom_userid for b in pending})
        try:
            if account_id is None:
                raise errors.PlatformError(0, "未连接企业微信账号")
            jobid = outbound.moment_create(
                account_id=account_id,
                text=campaign.text,
                attachments=campaign.attachments or None,
                sender_list=senders,
                tag_list=_wecom_tag_ids(campaign),
            )
        except errors.RateLimited as exc:
            for b in pending:
                _rate_limited(b, exc)
            return "rate_limited"
        except errors.PlatformError as exc:
            for b in pending:
                _fail(b, exc.code, exc.message)
            return "failed"
        except Exception as exc:
            for b in pending:
                _needs_operator(b, f"朋友圈任务发布结果未知（{type(exc).__name__}），请人工确认")
            return "needs_operator"
        with transaction.atomic():
            Campaign.objects.filter(pk=campaign_id).update(moment_jobid=jobid)
            DispatchAttempt.objects.filter(batch__in=pending, outcome=AttemptOutcome.STARTED).update(
                outcome=AttemptOutcome.OK, msgid=jobid, finished_at=timezone.now()
            )
            Batch.objects.filter(pk__in=[b.pk for b in pending]).update(
                status=BatchStatus.CREATED, task_created_at=timezone.now()
            )
            Delivery.objects.filter(batch__in=pending, status=DeliveryStatus.PLANNED).update(
                status=DeliveryStatus.TASK_CREATED
            )
            QuotaLedger.objects.filter(delivery__batch__in=pending, state=LedgerState.SENDING).update(
                state=LedgerState.USED
            )
        return "created"


def _wecom_tag_ids(campaign: Campaign) -> list[str]:
    """The corp tag ids of the Moments visibility tags (checked to exist in WeCom when the campaign was made)."""
    if not campaign.moment_tag_ids:
        return []
    ids = Tag.objects.filter(organization_id=campaign.organization_id, pk__in=campaign.moment_tag_ids)
    return sorted(ids.exclude(wecom_tag_id="").values_list("wecom_tag_id", flat=True))


def moment_track(*, campaign_id: int) -> str:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or not campaign.moment_jobid:
        return "skip"
    account_id = _account_id(campaign)
    if account_id is None:
        return "skip"
    if not campaign.moment_id:
        result = outbound.moment_result(account_id=account_id, jobid=campaign.moment_jobid)
        moment_id = str((result.get("result") or {}).get("moment_id") or "")
        if not moment_id:
            return "waiting"
        Campaign.objects.filter(pk=campaign.pk).update(moment_id=moment_id)
        campaign.moment_id = moment_id
    for batch in campaign.batches.filter(status=BatchStatus.CREATED).select_related("sender"):
        rows = outbound.moment_send_results(
            account_id=account_id, moment_id=campaign.moment_id, userid=batch.sender.wecom_userid
        )
        visible = {str(r.get("external_userid")) for r in rows}
        recipients = _recipients(batch, campaign, account_id)
        now = timezone.now()
        ids = [d for ext, d in recipients.items() if ext in visible]
        with transaction.atomic():
            Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.TASK_CREATED).update(
                status=DeliveryStatus.DELIVERED, delivered_at=now
            )
            if rows:
                Batch.objects.filter(pk=batch.pk).update(
                    status=BatchStatus.DONE, confirmed_at=now, results_synced_at=now
                )
            transaction.on_commit(functools.partial(_timeline, ids, campaign))
    _finish(campaign.pk)
    return "synced"


def stale_attempting(*, older_than: timedelta | None = None) -> list[int]:
    """Batches left ``attempting`` (for the operator page)."""
    limit = timezone.now() - (older_than or timedelta(seconds=getattr(settings, "CAMPAIGNS_STALE_SECONDS", 120)))
    return list(Batch.objects.filter(status=BatchStatus.ATTEMPTING, updated_at__lt=limit).values_list("pk", flat=True))
