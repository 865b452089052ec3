"""State of the WeCom fake: corps, members, customers, group sends (plain dataclasses)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

WELCOME_TTL = 20.0
CAP_WINDOWS = {"daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400}


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class FollowInfo:
    userid: str
    createtime: int
    state: str = ""
    add_way: int = 1
    remark: str = ""
    description: str = ""
    tags: set[str] = field(default_factory=set)
    oper_userid: str = ""
    wechat_channels: dict[str, Any] | None = None
    remark_mobiles: list[str] = field(default_factory=list)


@dataclass
class ExternalContact:
    external_userid: str
    name: str
    unionid: str = ""
    gender: int = 0
    avatar: str = ""
    type: int = 1
    follows: dict[str, FollowInfo] = field(default_factory=dict)


@dataclass
class GroupSend:
    msgid: str
    chat_type: str
    creator: str
    create_time: int
    text: dict[str, Any] | None
    attachments: list[dict[str, Any]]
    create_type: int = 0
    # userid -> {"status": 0|2, "send_time": int, "recipients": {id: {"status": int, "send_time": int}}}
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancelled: bool = False
    reminds: list[float] = field(default_factory=list)


@dataclass
class Corp:
    corp_id: str
    secret: str
    token: str = ""
    aes_key: str = ""
    callback_url: str = ""
    agent_id: str = "1000002"
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, ExternalContact] = field(default_factory=dict)
    tag_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    contact_ways: dict[str, dict[str, Any]] = field(default_factory=dict)
    join_ways: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    welcome_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    welcomes: list[dict[str, Any]] = field(default_factory=list)
    group_sends: dict[str, GroupSend] = field(default_factory=dict)
    # (recipient id, timestamp) of every delivered group message, from any source (企业 or 个人).
    received: list[tuple[str, float]] = field(default_factory=list)
    moments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # media_id -> {type, purpose ("message" | "moment" | "album"), created_at, size, filename}
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_welcome_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    transfer_counts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # new owner userid → times groups were handed to them (groupchat/transfer, onjob_transfer)
    group_handovers: dict[str, list[float]] = field(default_factory=dict)
    outbox: list[str] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    # JS-SDK tickets (corp for wx.config, agent for agentConfig) and one-time OAuth codes → userid.
    tickets: dict[str, str] = field(default_factory=dict)
    oauth_codes: dict[str, tuple[str, float]] = field(default_factory=dict)
    # 获客助手: links by link_id, the customers each brought (customer_acquisition/customer), and the
    # corp's usage quota (customer_acquisition_quota: total ever bought, balance left).
    acquisition_links: dict[str, dict[str, Any]] = field(default_factory=dict)
    acquisition_customers: list[dict[str, Any]] = field(default_factory=list)
    # message/send: what members received (text / textcard), and each member's receive times (30 per minute).
    app_messages: list[dict[str, Any]] = field(default_factory=list)
    app_message_times: dict[str, list[float]] = field(default_factory=dict)
    acquisition_quota: dict[str, int] = field(default_factory=lambda: {"total": 1000, "balance": 1000})


def _cdata(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return f"<![CDATA[{value}]]>"
