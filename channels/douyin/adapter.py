"""Ocean Engine leads and Douyin webhook bodies → typed lead/order events.

See docs/platforms.md#douyin-and-ocean-engine.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from channels import payload
from channels.leads.events import IgnoredEvent, LeadEvent, OrderEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
DIGIT_GAPS = re.compile(r"(?<=\d)[\s-]+(?=\d)")  # "138 0013 8000" as people type it

# Fields of a clue that arrive ~10 minutes after the lead (re-pulled by the moving window).
LATE_FIELDS = ("intention_estimation", "app_name", "convert_status")
AD_FIELDS = (
    "advertiser_id",
    "advertiser_name",
    "ad_id",
    "ad_name",
    "creative_id",
    "promotion_id",
    "promotion_name",
    "site_id",
    "site_name",
    "module_id",
    "module_name",
    "clue_type",
    "clue_source",
    "external_url",
)
GENDERS = {"男": 1, "女": 2, "MALE": 1, "FEMALE": 2}  # → Customer.gender
_PERSONAL = {"name", "telephone", "gender", "age", "email", "weixin", "qq", "address", "location"}


def parse_time(value: Any) -> datetime | None:
    """Ocean Engine times are Asia/Shanghai wall-clock strings; Douyin IM times are ms epochs."""
    if value in (None, "", 0):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        if number > 1e12:
            number /= 1000
        return datetime.fromtimestamp(number, tz=SHANGHAI)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(str(value), fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    return None


def clue_to_lead(clue: dict[str, Any], *, now: datetime) -> LeadEvent:
    """One lead of ``tools/clue/get``. ``clue_id`` is the dedupe key."""
    ad = {k: clue[k] for k in AD_FIELDS if clue.get(k) not in (None, "")}
    fields = {k: v for k, v in clue.items() if k not in _PERSONAL and k not in AD_FIELDS}
    return LeadEvent(
        source="ocean_engine",
        external_id=str(clue["clue_id"]),
        occurred_at=parse_time(clue.get("create_time_detail") or clue.get("create_time")) or now,
        name=str(clue.get("name") or "")[:100],
        phone=str(clue.get("telephone") or ""),
        platform_account=str(clue.get("advertiser_id") or ""),
        ad=ad,
        fields=fields,
        gender=GENDERS.get(str(clue.get("gender") or ""), 0),
        city=str(clue.get("city_name") or ""),
    )


# 本地推 / 抖音来客 (tools/clue/life/get): what brought the lead, kept as the lead's "ad".
LIFE_AD_FIELDS = (
    "local_account_id",
    "promotion_id",
    "promotion_name",
    "content_id",
    "tool_id",
    "flow_type",
    "action_type",
    "clue_type",
    "leads_page",
    "follow_life_account_id",
    "follow_life_account_name",
    "order_id",
)
_LIFE_PERSONAL = {"name", "telephone", "gender", "age", "address", "province_name", "city_name", "county_name"}


def life_clue_to_lead(clue: dict[str, Any], *, now: datetime) -> LeadEvent:
    """One lead of ``tools/clue/life/get``. ``clue_id`` is the dedupe key.

    After a 团购 order refund Douyin no longer returns the plaintext phone (an empty or masked
    ``telephone``): such a value is not a phone, and a lead that had one keeps it (``lead_ingest``).
    """
    ad = {k: clue[k] for k in LIFE_AD_FIELDS if clue.get(k) not in (None, "")}
    fields = {k: v for k, v in clue.items() if k not in _LIFE_PERSONAL and k not in LIFE_AD_FIELDS}
    telephone = str(clue.get("telephone") or "")
    return LeadEvent(
        source="ocean_engine_local",
        external_id=str(clue["clue_id"]),
        occurred_at=parse_time(clue.get("create_time_detail") or clue.get("create_time")) or now,
        name=str(clue.get("name") or "")[:100],
        phone=telephone if telephone.isdigit() else "",
        platform_account=str(clue.get("local_account_id") or ""),
        ad=ad,
        fields=fields,
        gender=GENDERS.get(str(clue.get("gender") or ""), 0),
        city=str(clue.get("city_name") or ""),
    )


def late_fields_present(clue_fields: dict[str, Any]) -> bool:
    return all(clue_fields.get(k) not in (None, "") for k in LATE_FIELDS)


def _content(body: dict[str, Any]) -> dict[str, Any]:
    """``content`` is an object for IM events and a JSON *string* for 生活服务 events."""
    content = body.get("content") or {}
    if isinstance(content, str):
        try:
            content = payload.json_loads(content, what="content")
        except payload.TooDeep:
            raise
        except payload.PayloadError:
            return {"text": content}
    if isinstance(content, list):
        raise payload.PayloadError("content 应为 JSON 对象，收到 list")
    return content if isinstance(content, dict) else {}


def webhook_to_event(body: dict[str, Any], *, msg_id: str, now: datetime) -> LeadEvent | OrderEvent | IgnoredEvent:
    """A verified Douyin webhook body → what it means for us."""
    event = body.get("event", "")
    content = _content(body)
    client_key = str(body.get("client_key") or "")
    if event == "im_enter_direct_msg":
        ad_info = payload.obj(content.get("ad_info"), "content.ad_info")
        users = {u.get("open_id"): u for u in payload.obj_list(content.get("user_infos"), "content.user_infos")}
        open_id = str(body.get("from_user_id") or "")
        return LeadEvent(
            source="douyin_im",
            external_id=f"im:{open_id}",  # one lead per person entering DMs; later entries refresh it
            occurred_at=parse_time(content.get("create_time")) or now,
            name=str((users.get(open_id) or {}).get("nick_name") or "")[:100],
            open_id=open_id,
            platform_account=client_key,
            ad={k: v for k, v in ad_info.items() if v not in (None, "")},
            fields={
                "conversation_short_id": content.get("conversation_short_id"),
                "to_user_id": body.get("to_user_id"),
                "msg_id": msg_id,
                "event": event,
            },
        )
    if event == "im_receive_msg":
        open_id = str(body.get("from_user_id") or "")
        text = DIGIT_GAPS.sub("", _message_text(content))
        match = PHONE_IN_TEXT.search(text)
        if not match:
            return IgnoredEvent(reason="私信内容不含手机号")
        return LeadEvent(
            source="douyin_im",
            external_id=f"im:{open_id}",
            occurred_at=parse_time(content.get("create_time")) or now,
            phone=match.group(1),
            open_id=open_id,
            platform_account=client_key,
            fields={"message_type": content.get("message_type"), "msg_id": msg_id, "event": event},
        )
    if event == "life_trade_order_notify":
        order = payload.obj(content.get("order"), "content.order")
        if content.get("action") != "pay_success" or not order.get("order_id"):
            return IgnoredEvent(reason=f"本地生活订单动作 {content.get('action') or '未知'} 无需处理")
        # Amounts are in fen (分) on Douyin's trade APIs.
        amount = (Decimal(int(order.get("pay_amount") or 0)) / 100).quantize(Decimal("0.01"))
        return OrderEvent(
            source="douyin",  # analytics OrderSource.DOUYIN (抖音团购)
            external_ref=str(order["order_id"]),
            amount=amount,
            paid_at=parse_time(order.get("pay_time")) or now,
            open_id=str(content.get("open_id") or order.get("open_id") or ""),
            platform_account=client_key or str(order.get("account_id") or ""),
            raw={"order": order, "action": content.get("action")},
        )
    return IgnoredEvent(reason=f"事件 {event} 无需处理")


def _message_text(content: dict[str, Any]) -> str:
    text = content.get("text")
    if isinstance(text, str):
        return text
    inner = content.get("content")
    if isinstance(inner, str):
        try:
            inner = payload.json_loads(inner, what="content.content")
        except payload.TooDeep:
            raise
        except payload.PayloadError:
            return inner
    if isinstance(inner, dict):
        return str(inner.get("text") or inner.get("phone") or inner.get("mobile") or "")
    return ""
