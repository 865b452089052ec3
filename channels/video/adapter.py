"""视频号 lead rows and 微信小店 orders → typed events (docs/platforms.md#video-accounts-and-wechat-shop)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from channels.leads.events import LeadEvent, OrderEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
NAME_TITLES = ("姓名", "称呼", "名字", "联系人")
PHONE_TITLES = ("手机号", "手机", "电话", "联系电话", "手机号码")
# 微信小店 order status → ours. 10 待付款, 20 待发货, 21 部分发货, 30 待收货, 100 完成, 200/250 取消.
PAID_STATUSES = {20, 21, 30, 100}
CANCELLED_STATUSES = {200, 250}


def live_lead_to_event(row: dict[str, Any], *, component_id: str, finder: str, now: datetime) -> LeadEvent:
    answers = {str(a.get("title") or ""): str(a.get("value") or "") for a in row.get("leads_data") or []}
    name = next((answers[t] for t in NAME_TITLES if answers.get(t)), "")
    phone = next((answers[t] for t in PHONE_TITLES if answers.get(t)), "")
    # The API gives no lead id: the identity is the component, the live session and the answers.
    identity = json.dumps([component_id, row.get("live_start_time"), sorted(answers.items())], ensure_ascii=False)
    started = row.get("live_start_time")
    occurred = datetime.fromtimestamp(int(started), tz=SHANGHAI) if started else now
    return LeadEvent(
        source="video_live",
        external_id="vl:" + hashlib.sha256(identity.encode()).hexdigest()[:40],
        occurred_at=occurred,
        name=name[:100],
        phone=phone,
        platform_account=finder,
        ad={
            "leads_component_id": component_id,
            "anchor_nickname": row.get("anchor_nickname", ""),
            "live_description": row.get("live_description", ""),
            "live_start_time": started,
        },
        fields={"answers": answers},
    )


def order_to_event(order: dict[str, Any], *, appid: str) -> OrderEvent:
    detail = order.get("order_detail") or {}
    price = detail.get("price_info") or {}
    pay_info = detail.get("pay_info") or {}
    status_code = int(order.get("status") or 0)
    status = (
        "refunded" if status_code in CANCELLED_STATUSES else ("paid" if status_code in PAID_STATUSES else "pending")
    )
    paid = pay_info.get("pay_time") or order.get("update_time") or order.get("create_time") or 0
    items = [
        {
            "sku": str(p.get("sku_id") or ""),
            "name": str(p.get("title") or ""),
            "quantity": int(p.get("sku_cnt") or 1),
            "price": str((Decimal(int(p.get("sale_price") or 0)) / 100).quantize(Decimal("0.01"))),
        }
        for p in detail.get("product_infos") or []
    ]
    return OrderEvent(
        source="wechat_shop",
        external_ref=str(order.get("order_id")),
        amount=(Decimal(int(price.get("order_price") or 0)) / 100).quantize(Decimal("0.01")),
        paid_at=datetime.fromtimestamp(int(paid), tz=SHANGHAI),
        status=status,
        open_id=str(order.get("openid") or ""),
        platform_account=appid,
        items=items,
        raw={"status": status_code, "unionid": order.get("unionid", "")},
    )
