"""Douyin services: the Ocean Engine moving-window pull and the processing of verified webhooks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from channels import payload
from channels.douyin.adapter import SHANGHAI, clue_to_lead, life_clue_to_lead, webhook_to_event
from channels.douyin.client import OceanEngineClient, OceanEngineError, OceanEngineTransient
from channels.leads.events import IgnoredEvent, LeadEvent, OrderEvent
from channels.leads.services import lead_ingest, platform_order_ingest
from channels.models import ChannelAccount, ChannelPlatform, Lead, LeadSource, LeadSyncCursor

logger = logging.getLogger(__name__)

CURSOR_KIND = "ocean_engine_leads"
LIFE_CURSOR_KIND = "ocean_engine_life_leads"
# Late fields arrive ~10 min after the lead; every pull re-reads this much before the last window end.
OVERLAP = timedelta(minutes=20)
FIRST_LOOKBACK = timedelta(days=1)
# Leads still missing late fields are re-pulled for this long, however far the cursor moved.
LATE_FIELDS_HORIZON = timedelta(hours=2)
MAX_RETRY_WINDOW = timedelta(days=1)


def ocean_engine_client(account: ChannelAccount) -> OceanEngineClient:
    creds = account.credentials()
    kwargs: dict[str, Any] = {"access_token": str(creds.get("access_token") or "")}
    if account.api_base:
        kwargs["base_url"] = account.api_base
    return OceanEngineClient(**kwargs)


def advertiser_ids(account: ChannelAccount) -> list[int]:
    ids = account.settings.get("advertiser_ids") or ([account.external_id] if account.external_id else [])
    return [int(i) for i in ids]


def local_account_ids(account: ChannelAccount) -> list[int]:
    """本地推 / 抖音来客 accounts whose leads this account also pulls (``clue/life/get``)."""
    return [int(i) for i in (account.settings or {}).get("local_account_ids") or []]


def ocean_engine_leads_sync(*, account_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Pull one account's ad leads, and its 本地推 leads when local accounts are set.

    Each kind has its own moving window (``LeadSyncCursor``); see :func:`_pull_window`. The 本地推
    figures are under ``"local"`` in the returned stats.
    """
    account = ChannelAccount.objects.select_related("organization", "default_store").get(pk=account_id)
    now = now or timezone.now()
    client = ocean_engine_client(account)
    ads, local = advertiser_ids(account), local_account_ids(account)
    stats: dict[str, Any] = {}
    if ads or not local:
        stats = _pull_window(
            account,
            kind=CURSOR_KIND,
            source=LeadSource.OCEAN_ENGINE,
            now=now,
            fetch=lambda start, end: client.clues(advertiser_ids=ads, start=start, end=end),
            convert=clue_to_lead,
        )
    if local:
        stats["local"] = _pull_window(
            account,
            kind=LIFE_CURSOR_KIND,
            source=LeadSource.OCEAN_ENGINE_LOCAL,
            now=now,
            fetch=lambda start, end: client.life_clues(local_account_ids=local, start=start, end=end),
            convert=life_clue_to_lead,
        )
    return stats


def _pull_window(
    account: ChannelAccount,
    *,
    kind: str,
    source: str,
    now: datetime,
    fetch: Callable[[datetime, datetime], Iterable[dict[str, Any]]],
    convert: Callable[..., LeadEvent],
) -> dict[str, Any]:
    """Read one moving window of leads; dedupe by ``clue_id``; re-pull for late fields.

    Window = [cursor − overlap, now], widened back to the oldest recent lead still missing its late
    fields. Each lead is its own transaction (``lead_ingest``); the cursor moves only after the whole
    window was read, so a failure mid-way re-reads the window next tick (idempotent by ``clue_id``).
    """
    cursor, _ = LeadSyncCursor.objects.get_or_create(
        account=account, kind=kind, defaults={"organization": account.organization}
    )
    start = (cursor.position or now - FIRST_LOOKBACK) - OVERLAP
    unfilled = (
        Lead.objects.filter(
            account=account, source=source, late_fields_filled=False, occurred_at__gte=now - LATE_FIELDS_HORIZON
        )
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if unfilled is not None and unfilled < start:
        start = unfilled
    stats: dict[str, Any] = {"seen": 0, "created": 0, "updated": 0}
    failed: list[str] = []
    try:
        for clue in fetch(start.astimezone(SHANGHAI), now.astimezone(SHANGHAI)):
            stats["seen"] += 1
            try:
                _lead, created = lead_ingest(
                    organization=account.organization, account=account, event=convert(clue, now=now)
                )
            except Exception:  # one bad lead must not hold back the others; it is retried below
                logger.exception("ocean engine lead failed", extra={"account": account.pk})
                failed.append(str(clue.get("clue_id")))
                continue
            stats["created" if created else "updated"] += 1
    except OceanEngineError as exc:
        LeadSyncCursor.objects.filter(pk=cursor.pk).update(last_error=str(exc)[:300])
        if isinstance(exc, OceanEngineTransient):
            logger.warning("ocean engine pull deferred", extra={"account": account.pk, "code": exc.code})
            return {**stats, "error": exc.code}
        raise
    if failed:
        stats["failed"] = failed[:50]
        error = f"{len(failed)} 条线索处理失败（clue_id {', '.join(failed[:5])}…），将在下次同步重试"
        # Keep the window start so the failed leads are read again, but not for ever: after
        # MAX_RETRY_WINDOW the cursor moves on and the error stays visible on the account.
        if now - start < MAX_RETRY_WINDOW:
            LeadSyncCursor.objects.filter(pk=cursor.pk).update(last_error=error[:300], state=stats)
            return stats
        LeadSyncCursor.objects.filter(pk=cursor.pk).update(position=now, last_error=error[:300], state=stats)
        ChannelAccount.objects.filter(pk=account.pk).update(last_synced_at=now, last_error=error[:300])
        return stats
    LeadSyncCursor.objects.filter(pk=cursor.pk).update(position=now, last_error="", state=stats)
    ChannelAccount.objects.filter(pk=account.pk).update(last_synced_at=now)
    return stats


def ocean_engine_accounts() -> list[int]:
    active = ChannelAccount.objects.filter(platform=ChannelPlatform.OCEAN_ENGINE, is_active=True)
    return list(active.values_list("pk", flat=True))


# ---- Douyin open-platform webhooks -------------------------------------------------------------


def douyin_client_secret(account: ChannelAccount) -> str:
    return str(account.credentials().get("client_secret") or "")


@transaction.atomic
def douyin_event_process(*, account: ChannelAccount, body: dict[str, Any] | str, event_key: str) -> str:
    """Process one stored, verified webhook body. Returns what happened (for the inbox row)."""
    # A stored body is signed but may still be malformed (or stored before the receiver's checks): its
    # shape errors are permanent, so the event is ignored with the reason instead of failing on every replay.
    try:
        body = payload.json_loads(body, what="事件内容") if isinstance(body, str) else body
        if not isinstance(body, dict):
            raise payload.PayloadError("事件内容应为 JSON 对象")
        event = webhook_to_event(body, msg_id=event_key, now=timezone.now())
    except (ValueError, TypeError, ArithmeticError) as exc:
        return f"ignored: 事件内容格式错误：{exc}"
    if isinstance(event, IgnoredEvent):
        return f"ignored: {event.reason}"
    if isinstance(event, LeadEvent):
        lead, created = lead_ingest(organization=account.organization, account=account, event=event)
        return f"lead {lead.pk} {'created' if created else 'updated'}"
    if isinstance(event, OrderEvent):
        result = platform_order_ingest(
            organization=account.organization, account=account, event=event, platform="douyin", channel="douyin"
        )
        if result is None:
            return "ignored: 订单无买家标识，未记入客户"
        order, created = result
        return f"order {order.pk} {'created' if created else 'exists'}"
    return "unhandled"
