"""The inbound event inbox: store raw before acknowledging, process in Celery, replay on failure.

1. ``inbox_store`` inserts the verified events with ``ON CONFLICT DO NOTHING`` on
   (account, event_key): a platform retry or a replayed request adds nothing and enqueues nothing.
2. New rows are enqueued on commit (``channels.inbox.process``). If the broker is down the rows stay
   ``pending`` and ``inbox_sweep`` (beat) enqueues them later, so the webhook still answers fast.
3. ``inbox_process`` claims the row with a conditional UPDATE (pending/failed, or processing with a
   heartbeat older than ``INBOX_STALE_SECONDS`` — a worker killed mid-event), runs the platform's
   ``process`` inside a transaction and records done/ignored, or failed with the error and the
   attempt count. While it works a heartbeat thread (its own connection) refreshes ``heartbeat_at``
   every ``INBOX_HEARTBEAT_SECONDS``.
4. The attempt count is the claim's fencing token: the worker writes the outcome only while the row
   is still its claim (processing, same attempt). A worker that was presumed dead and lost its claim
   to another one rolls its transaction back instead of recording a second outcome.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import kombu.exceptions
import redis
from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from channels.errors import RateLimited, TransientError
from channels.models import ChannelAccount, InboxEvent, InboxStatus
from channels.registry import IGNORED_PREFIX, IncomingEvent, plugin_for
from contacts import services as contact_services
from scrm.celery import enqueue

log = logging.getLogger(__name__)

PENDING_GRACE = timedelta(seconds=30)
INTEGRITY_RETRIES = 3  # attempts at an event whose writes lost a race on a unique constraint
# Our own services failing under the event (a Postgres or Redis restart), not the event or the platform.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    kombu.exceptions.OperationalError,
)


def stale_after() -> timedelta:
    """A row "processing" whose heartbeat is older than this was abandoned by a dead worker."""
    return timedelta(seconds=settings.INBOX_STALE_SECONDS)


def _abandoned(now: datetime) -> Q:
    return Q(status=InboxStatus.PROCESSING, heartbeat_at__lt=now - stale_after())


class ClaimLost(Exception):
    """The event was claimed by another worker while this one worked on it (its heartbeat had gone stale)."""


class Retry(Exception):
    """Processing hit a transient error; the task should retry after ``countdown`` seconds."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


def inbox_store(*, account: ChannelAccount, events: list[IncomingEvent]) -> list[int]:
    """Insert events (duplicates ignored) and enqueue the new ones on commit. Returns the new ids."""
    if not events:
        return []
    now = timezone.now()
    rows: list[Any] = []
    for event in events:
        rows += [
            account.organization_id,
            account.pk,
            account.platform,
            event.event_key[:200],
            event.event_type[:80],
            event.body,
            _json(event.meta),
            InboxStatus.PENDING,
            0,
            "",
            now,
        ]
    placeholders = ",".join(["(%s,%s,%s,%s,%s,%s,%s::jsonb,%s,%s,%s,%s)"] * len(events))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO channels_inboxevent
                (organization_id, account_id, platform, event_key, event_type, body, meta, status, attempts,
                 error, received_at)
            VALUES {placeholders}
            ON CONFLICT (account_id, event_key) DO NOTHING
            RETURNING id
            """,
            rows,
        )
        new_ids = [row[0] for row in cursor.fetchall()]
        if new_ids:
            transaction.on_commit(lambda: _enqueue(new_ids), robust=True)
    return new_ids


def _json(value: object) -> str:
    return json.dumps(value or {}, ensure_ascii=False)


def _enqueue(ids: list[int]) -> None:
    # No publish retries: if the broker is down the rows stay pending and the sweeper enqueues them,
    # so a webhook never waits on Redis.
    for event_id in ids:
        enqueue("channels.inbox.process", event_id, retry=False)


def inbox_enqueue(*, event_ids: list[int]) -> None:
    """Queue stored events for processing now, as the webhook does after storing them (no broker
    retries: what fails to enqueue stays pending for the sweep). For callers outside the webhook,
    such as the ingest benchmark draining a known set of events."""
    _enqueue(event_ids)


def _claim(event_id: int) -> InboxEvent | None:
    now = timezone.now()
    claimable = Q(status__in=[InboxStatus.PENDING, InboxStatus.FAILED]) | _abandoned(now)
    updated = (
        InboxEvent.objects.filter(claimable, pk=event_id)
        .exclude(status=InboxStatus.DONE)
        .update(status=InboxStatus.PROCESSING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1)
    )
    if not updated:
        return None
    return InboxEvent.objects.select_related("account", "organization").get(pk=event_id)


def _ours(event: InboxEvent) -> Any:
    """The row, while it is still this worker's claim (the attempt count is the fencing token)."""
    return InboxEvent.objects.filter(pk=event.pk, status=InboxStatus.PROCESSING, attempts=event.attempts)


@contextlib.contextmanager
def _heartbeat(event: InboxEvent) -> Iterator[None]:
    """Refresh the claim's heartbeat from a thread with its own connection while the body runs.

    A failed refresh (Postgres restarting) is logged and retried on the next beat with a new
    connection; the processing itself is never interrupted by the heartbeat."""
    stop = threading.Event()
    every = max(float(settings.INBOX_HEARTBEAT_SECONDS), 0.05)

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    _ours(event).update(heartbeat_at=timezone.now())
                except DatabaseError as exc:
                    log.warning("inbox event %s: heartbeat failed (%s)", event.pk, type(exc).__name__)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"inbox-heartbeat-{event.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def inbox_process(*, event_id: int) -> str:
    """Process one stored event. Returns its final status. Raises :class:`Retry` for transient errors."""
    event = _claim(event_id)
    if event is None:
        log.info("inbox event %s not claimable (done, gone or being processed)", event_id)
        return "skipped"
    plugin = plugin_for(event.platform)
    try:
        if plugin is None or plugin.process is None:
            raise LookupError(f"no processor registered for platform {event.platform}")
        # ``atomic=False`` processors open their own transactions, because they call the platform
        # between writes (a transaction is never held across a network call).
        with _heartbeat(event), transaction.atomic() if plugin.atomic else contextlib.nullcontext():
            note = plugin.process(event) or ""
            status = InboxStatus.IGNORED if note.startswith(IGNORED_PREFIX) else InboxStatus.DONE
            if not _ours(event).update(status=status, processed_at=timezone.now(), error=note[:2000]):
                raise ClaimLost(event.pk)  # rolls back what this (presumed dead) worker did
        return status
    except ClaimLost:
        log.warning("inbox event %s: claim taken over by another worker; this attempt rolled back", event.pk)
        return "superseded"
    except INFRASTRUCTURE_ERRORS as exc:
        # Postgres or Redis went away mid-event (a restart): nothing about the event is wrong. It goes
        # back to pending, so the sweep requeues it even if this retry cannot reach the broker; if even
        # that cannot be written, it stays "processing" and is requeued once its heartbeat is stale.
        with contextlib.suppress(DatabaseError):
            _release(event, exc)
        log.warning("inbox event %s: %s mid-event; will retry", event.pk, type(exc).__name__)
        raise Retry(float(min(30, 2 ** min(event.attempts, 5)))) from exc
    except IntegrityError as exc:
        # Two events creating the same row at once (e.g. a new member's Staff from two callbacks):
        # the loser's transaction rolled back; run it again and it finds the row. A constraint that
        # still fails after a few tries is a real error and stays failed for the operator.
        if event.attempts >= INTEGRITY_RETRIES:
            _fail(event, exc)
            return InboxStatus.FAILED
        with contextlib.suppress(DatabaseError):
            _release(event, exc)
        raise Retry(float(event.attempts)) from exc
    except (RateLimited, TransientError) as exc:
        _fail(event, exc)
        countdown = getattr(exc, "retry_after", None) or min(300, 2 ** min(event.attempts, 8))
        raise Retry(min(float(countdown), 300.0)) from exc
    except Exception as exc:
        _fail(event, exc)
        log.warning("inbox event %s failed: %s", event.pk, type(exc).__name__)
        return InboxStatus.FAILED


def _release(event: InboxEvent, exc: BaseException) -> None:
    _ours(event).update(status=InboxStatus.PENDING, error=f"{type(exc).__name__}: {exc}"[:2000])


def _fail(event: InboxEvent, exc: BaseException) -> None:
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    tail = "".join(traceback.format_tb(exc.__traceback__)[-3:])
    _ours(event).update(status=InboxStatus.FAILED, error=f"{detail}\n{tail}"[:4000])


def inbox_replay(*, event: InboxEvent) -> bool:
    """Operator replay: put a failed (or abandoned) event back in the queue. Returns False if not replayable."""
    now = timezone.now()
    replayable = Q(status__in=[InboxStatus.FAILED, InboxStatus.PENDING]) | _abandoned(now)
    with transaction.atomic():
        updated = InboxEvent.objects.filter(replayable, pk=event.pk).update(status=InboxStatus.PENDING)
        if updated:
            transaction.on_commit(lambda: _enqueue([event.pk]), robust=True)
    return bool(updated)


def inbox_sweep(*, limit: int = 1000) -> int:
    """Beat job (every 15 s): enqueue pending events the webhook could not enqueue, and events whose
    worker stopped beating (died, or lost Postgres) — picked up again within a minute."""
    now = timezone.now()
    ids = list(
        InboxEvent.objects.filter(Q(status=InboxStatus.PENDING, received_at__lt=now - PENDING_GRACE) | _abandoned(now))
        .order_by("received_at")
        .values_list("id", flat=True)[:limit]
    )
    _enqueue(ids)
    return len(ids)


def customer_inbox_erase(customer_id: int) -> dict[str, int]:
    """Erasure handler: stored webhook bodies that name the person (their platform ids, unionid or phone,
    however it is written) are emptied, and those ids are taken out of the events' keys and errors.
    Runs before contacts deletes the identities. An event not processed yet is set aside as ignored,
    since there is nothing left to process. The name is not a needle here: another person's waiting
    event with the same name must still be processed."""
    identifiers = contact_services.customer_identifiers(customer_id)
    if identifiers is None:
        return {"inbox_events": 0}
    needles = identifiers.needles(with_name=False)
    if not needles:
        return {"inbox_events": 0}
    match = Q()
    for needle in needles:
        match |= Q(body__contains=needle) | Q(event_key__contains=needle) | Q(error__contains=needle)
    events = InboxEvent.objects.filter(match, organization_id=identifiers.organization_id)
    ids = list(events.values_list("id", flat=True))
    if not ids:
        return {"inbox_events": 0}
    now = timezone.now()
    InboxEvent.objects.filter(pk__in=ids, status__in=[InboxStatus.PENDING, InboxStatus.FAILED]).update(
        status=InboxStatus.IGNORED, error="已应本人要求删除个人信息", processed_at=now
    )
    # The key stays unique per account (it is the retry guard): a key naming the person becomes the
    # row's own id. A retry of the same callback after this is stored as a new event.
    key_named = Q()
    for needle in needles:
        key_named |= Q(event_key__contains=needle)
    InboxEvent.objects.filter(key_named, pk__in=ids).update(event_key=Concat(Value("erased:"), Cast("id", CharField())))
    InboxEvent.objects.filter(pk__in=ids).update(body="", meta={"erased": True})
    contact_services.scrub_columns(
        table=InboxEvent._meta.db_table, columns=["error"], where="id = ANY(%s)", where_params=[ids], needles=needles
    )
    return {"inbox_events": len(ids)}
