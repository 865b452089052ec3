"""WeCom payloads ↔ our typed events (docs/platforms.md#wecom-callback-events). No I/O, no database.

Callbacks may arrive late, twice, out of order or never (§1.5): handlers treat them as hints and
re-read the truth (``externalcontact/get``, ``groupchat/get``) before writing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

from contacts.models import ChurnedBy, SourceChannel

UTC = ZoneInfo("UTC")

ADD_WAY_VIDEO = 10  # 视频号 (WeChat Channels): follow_user.wechat_channels.source says where
VIDEO_SOURCES = {0: "未知", 1: "视频号主页", 2: "视频号直播间", 3: "视频号留资服务"}
CONTACT_ADDS = {"add_external_contact", "add_half_external_contact"}


def ts(value: Any) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


@dataclass
class ContactEvent:
    change_type: str
    userid: str
    external_userid: str
    occurred_at: datetime | None
    state: str = ""
    welcome_code: str = ""
    source: str = ""
    fail_reason: str = ""

    @property
    def churned_by(self) -> str:
        if self.change_type == "del_follow_user":
            return ChurnedBy.CUSTOMER
        return ChurnedBy.TRANSFER if self.source == "DELETE_BY_TRANSFER" else ChurnedBy.STAFF


@dataclass
class ChatEvent:
    change_type: str  # create | update | dismiss
    chat_id: str
    occurred_at: datetime | None
    update_detail: str = ""


@dataclass
class TagEvent:
    change_type: str  # create | update | delete | shuffle
    tag_id: str
    tag_type: str  # tag | tag_group
    occurred_at: datetime | None


@dataclass
class AcquisitionEvent:
    """获客助手: quota (balance_low / balance_exhausted / balance_increased / quota_expire_soon) or a
    link (link_unavailable / delete_link, with LinkId)."""

    change_type: str
    link_id: str
    occurred_at: datetime | None


@dataclass
class Ignored:
    reason: str


def to_event(fields: dict[str, str]) -> ContactEvent | ChatEvent | TagEvent | AcquisitionEvent | Ignored:
    event = fields.get("Event", "")
    when = ts(fields.get("CreateTime"))
    if event == "change_external_contact":
        return ContactEvent(
            change_type=fields.get("ChangeType", ""),
            userid=fields.get("UserID", ""),
            external_userid=fields.get("ExternalUserID", ""),
            occurred_at=when,
            state=fields.get("State", ""),
            welcome_code=fields.get("WelcomeCode", ""),
            source=fields.get("Source", ""),
            fail_reason=fields.get("FailReason", ""),
        )
    if event == "change_external_chat":
        return ChatEvent(
            change_type=fields.get("ChangeType", ""),
            chat_id=fields.get("ChatId", ""),
            occurred_at=when,
            update_detail=fields.get("UpdateDetail", ""),
        )
    if event == "change_external_tag":
        return TagEvent(
            change_type=fields.get("ChangeType", ""),
            tag_id=fields.get("Id", ""),
            tag_type=fields.get("TagType", ""),
            occurred_at=when,
        )
    if event == "customer_acquisition":
        return AcquisitionEvent(
            change_type=fields.get("ChangeType", ""), link_id=fields.get("LinkId", ""), occurred_at=when
        )
    return Ignored(f"not a 客户联系 event: {fields.get('MsgType', '')}/{event}")


@dataclass
class FollowData:
    """One follow_user / follow_info entry, normalized from ``get`` or ``batch/get_by_user``."""

    userid: str
    added_at: datetime | None
    state: str = ""
    add_way: int = 0
    remark: str = ""
    description: str = ""
    wecom_tag_ids: list[str] = field(default_factory=list)
    wechat_channels: dict[str, Any] | None = None
    # The member's remark phones (备注手机号), as typed in WeCom; the person's phone for OneID.
    remark_mobiles: list[str] = field(default_factory=list)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> FollowData:
        if "tag_id" in data:
            tag_ids = [str(t) for t in data.get("tag_id") or []]
        else:
            tag_ids = [
                str(t.get("tag_id")) for t in data.get("tags") or [] if t.get("type", 1) == 1 and t.get("tag_id")
            ]
        return cls(
            userid=str(data.get("userid", "")),
            added_at=ts(data.get("createtime")),
            state=str(data.get("state") or ""),
            add_way=int(data.get("add_way") or 0),
            remark=str(data.get("remark") or ""),
            description=str(data.get("description") or ""),
            wecom_tag_ids=tag_ids,
            wechat_channels=data.get("wechat_channels") or None,
            remark_mobiles=[str(m).strip() for m in data.get("remark_mobiles") or [] if str(m).strip()],
        )


@dataclass
class ContactData:
    external_userid: str
    name: str
    unionid: str
    gender: int
    avatar: str
    follows: list[FollowData]

    @classmethod
    def from_api(cls, contact: dict[str, Any], follows: list[dict[str, Any]]) -> ContactData:
        return cls(
            external_userid=str(contact.get("external_userid", "")),
            name=str(contact.get("name") or ""),
            unionid=str(contact.get("unionid") or ""),
            gender=int(contact.get("gender") or 0),
            avatar=str(contact.get("avatar") or ""),
            follows=[FollowData.from_api(f) for f in follows],
        )

    def remark_phones(self) -> list[str]:
        """Every remark phone of every follow, earliest friendship first, without repeats."""
        ordered = sorted(self.follows, key=lambda f: (f.added_at is None, f.added_at or 0))
        return list(dict.fromkeys(m for f in ordered for m in f.remark_mobiles))

    def first_follow(self) -> FollowData | None:
        """The earliest friendship: it decides first-touch attribution."""
        dated = [f for f in self.follows if f.added_at]
        if dated:
            return min(dated, key=lambda f: f.added_at)  # type: ignore[arg-type,return-value]
        return self.follows[0] if self.follows else None


def source_channel(follow: FollowData, way_channel: str | None) -> str:
    """Where the person came from: the 活码's channel, 视频号 for add_way 10, else WeCom."""
    if follow.add_way == ADD_WAY_VIDEO or follow.wechat_channels:
        return SourceChannel.VIDEO
    return way_channel or SourceChannel.WECOM


def first_touch(follow: FollowData, *, channel: str, contact_way_id: int | None) -> dict[str, Any]:
    touch: dict[str, Any] = {"channel": channel, "platform": "wecom", "staff": follow.userid, "add_way": follow.add_way}
    if follow.state:
        touch["state"] = follow.state
    if contact_way_id:
        touch["contact_way_id"] = contact_way_id
    if follow.wechat_channels:
        source = int(follow.wechat_channels.get("source") or 0)
        touch["video"] = {
            "nickname": follow.wechat_channels.get("nickname", ""),
            "source": source,
            "source_label": VIDEO_SOURCES.get(source, "未知"),
        }
    return touch


_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>", re.S)
_DECLARATION = re.compile(r"<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.I)


def parse_event(xml: bytes | str) -> dict[str, str]:
    """Flat dict of the event's child elements (WeCom events are one level deep).

    WeCom never sends a DTD: a document type or entity declaration (outside CDATA text) is refused
    before parsing — no entity expansion, no external DTD — and so is a document with no ``MsgType``
    (not an event at all). Raises ``ValueError``."""
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    if _DECLARATION.search(_CDATA.sub("", text)):
        raise ValueError("DTD or entity declaration in a callback event")
    root = ElementTree.fromstring(text)  # noqa: S314 - signed, decrypted, and without DTD (checked above)
    fields = {child.tag: (child.text or "").strip() for child in root}
    if not fields.get("MsgType"):
        raise ValueError("not a WeCom event: no MsgType")
    return fields
