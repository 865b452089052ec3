"""The typed events the lead-source adapters produce (Douyin, Ocean Engine, Video Accounts, forms,
Meituan, WeChat shop). Platform payloads never travel past an adapter; services take these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass
class LeadEvent:
    """Someone left their details (an ad form, a DM, a live-room form, our own H5 form)."""

    source: str  # LeadSource value
    external_id: str  # clue_id, Msg-Id of the DM entry, request id… — unique per source
    occurred_at: datetime
    name: str = ""
    phone: str = ""  # as given; normalized (or dropped) by the service
    open_id: str = ""  # the platform user id when the platform gives one (Douyin open_id)
    platform_account: str = ""  # advertiser id / client_key / finder id the open_id is relative to
    ad: dict[str, Any] = field(default_factory=dict)  # advertiser/campaign/ad/creative ids and names
    fields: dict[str, Any] = field(default_factory=dict)  # everything else, as the platform named it
    gender: int = 0
    city: str = ""


@dataclass
class OrderEvent:
    """A paid order or redemption from a platform (WeChat shop, Douyin local life)."""

    source: str  # analytics order source
    external_ref: str
    amount: Decimal
    paid_at: datetime
    status: str = "paid"
    open_id: str = ""
    platform_account: str = ""
    phone: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class IgnoredEvent:
    """An event we acknowledge and keep but do nothing with (says why, for the inbox)."""

    reason: str
