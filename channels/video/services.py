"""Video Accounts live-room lead forms (pulled) and WeChat shop order pushes (processed from the inbox)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from channels import payload
from channels.leads.services import lead_ingest, platform_order_ingest
from channels.models import ChannelAccount, ChannelPlatform, LeadSyncCursor
from channels.video.adapter import live_lead_to_event, order_to_event
from channels.video.client import ChannelsClient, WeChatApiError, WeChatTransient
from channels.video.crypto import ORDER_EVENTS, ShopCrypto

logger = logging.getLogger(__name__)
CURSOR_KIND = "video_live_leads"
OVERLAP = timedelta(minutes=30)  # rows are deduped by identity, so re-reading is harmless
FIRST_LOOKBACK = timedelta(days=3)


def channels_client(account: ChannelAccount) -> ChannelsClient:
    creds = account.credentials()
    kwargs: dict[str, Any] = {
        "appid": account.external_id or str(creds.get("appid") or ""),
        "secret": str(creds.get("secret") or ""),
    }
    if account.api_base:
        kwargs["base_url"] = account.api_base
    return ChannelsClient(**kwargs)


def shop_crypto(account: ChannelAccount) -> ShopCrypto:
    creds = account.credentials()
    return ShopCrypto(
        token=str(creds.get("token") or ""),
        aes_key=str(creds.get("aes_key") or ""),
        appid=account.external_id or str(creds.get("appid") or ""),
    )


def video_live_leads_sync(*, account_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Pull every lead component's rows on a moving window; each row is one lead (deduped by identity)."""
    account = ChannelAccount.objects.select_related("organization", "default_store").get(pk=account_id)
    now = now or timezone.now()
    cursor, _ = LeadSyncCursor.objects.get_or_create(
        account=account, kind=CURSOR_KIND, defaults={"organization": account.organization}
    )
    start = (cursor.position or now - FIRST_LOOKBACK) - OVERLAP
    client = channels_client(account)
    stats = {"seen": 0, "created": 0}
    try:
        for component_id in client.leads_component_ids():
            for row in client.leads_by_component(
                component_id=component_id, start_time=int(start.timestamp()), end_time=int(now.timestamp())
            ):
                stats["seen"] += 1
                event = live_lead_to_event(row, component_id=component_id, finder=account.external_id, now=now)
                _lead, created = lead_ingest(organization=account.organization, account=account, event=event)
                stats["created"] += int(created)
    except WeChatApiError as exc:
        LeadSyncCursor.objects.filter(pk=cursor.pk).update(last_error=str(exc)[:300])
        if isinstance(exc, WeChatTransient):
            return {**stats, "error": exc.code}
        raise
    LeadSyncCursor.objects.filter(pk=cursor.pk).update(position=now, last_error="", state=stats)
    ChannelAccount.objects.filter(pk=account.pk).update(last_synced_at=now)
    return stats


def video_accounts() -> list[int]:
    active = ChannelAccount.objects.filter(platform=ChannelPlatform.VIDEO, is_active=True)
    return list(active.values_list("pk", flat=True))


def shop_event_process(*, account: ChannelAccount, body: dict[str, Any] | str) -> str:
    """A stored, decrypted 微信小店 push: fetch the order (the push has ids only) and record it."""
    try:
        body = payload.json_loads(body, what="事件内容") if isinstance(body, str) else body
        if not isinstance(body, dict):
            raise payload.PayloadError("事件内容应为 JSON 对象")
        order_id = str(payload.obj(body.get("order_info"), "order_info").get("order_id") or "")
    except payload.PayloadError as exc:
        return f"ignored: 事件内容格式错误：{exc}"
    event = body.get("Event", "")
    if event not in ORDER_EVENTS or not order_id:
        return f"ignored: 事件 {event or '未知'} 无需处理"
    order = channels_client(account).order_get(order_id=order_id)  # network: never inside a transaction
    if not order.get("openid") and body.get("FromUserName"):
        order["openid"] = body["FromUserName"]
    typed = order_to_event(order, appid=account.external_id)
    result = platform_order_ingest(
        organization=account.organization, account=account, event=typed, platform="wechat_shop", channel="wechat_shop"
    )
    if result is None:
        return f"ignored: 订单 {order_id} 未支付或无买家标识，暂不记账"
    recorded, created = result
    return f"order {recorded.pk} {'created' if created else 'updated'}"
