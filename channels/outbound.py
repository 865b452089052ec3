"""Outbound operations other apps call (campaigns): broadcasts, Moments, welcome messages, tags.

Each function takes the ``ChannelAccount`` id and speaks WeCom through :class:`WeComClient`, which
paces every call (Redis token bucket per (account, api) + concurrency cap) and refreshes the token
once on 40014/42001. Errors: :class:`channels.errors.PlatformError` (``code``, ``message``),
:class:`~channels.errors.RateLimited` (``retry_after``), :class:`~channels.errors.TransientError`.
Attachments name library materials; ``channels.wecom.media`` turns them into media ids (uploading and
caching them, recorded before each upload) and retries once with fresh ids when WeCom answers 40007.
Apart from that media cache no database writes happen here: callers record their attempt before
calling (docs/architecture.md#outbound-sends).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from channels.errors import PlatformError
from channels.models import ChannelAccount, ChannelPlatform, MediaPurpose
from channels.wecom import media
from channels.wecom.client import WeComClient

T = TypeVar("T")

MAX_SINGLE_RECIPIENTS = 10_000
MAX_GROUP_RECIPIENTS = 2_000
# How long an outbound call may wait for our own rate budget before raising RateLimited.
MAX_WAIT_SECONDS = 2.0


@dataclass
class GroupMsgCreated:
    msgid: str
    fail_list: list[str]


def _account(account_id: int) -> ChannelAccount:
    account = ChannelAccount.objects.filter(pk=account_id, platform=ChannelPlatform.WECOM).first()
    if account is None:
        raise PlatformError(0, f"企业微信账号 #{account_id} 不存在")
    if not account.is_active:
        raise PlatformError(0, f"企业微信账号「{account.name}」已停用，请在渠道账号页重新启用")
    return account


def _client(account_id: int) -> WeComClient:
    return WeComClient.for_account(_account(account_id), max_wait=MAX_WAIT_SECONDS)


def _with_media(
    account_id: int,
    attachments: list[dict[str, Any]] | None,
    purpose: str,
    call: Callable[[WeComClient, list[dict[str, Any]]], T],
) -> T:
    """Run ``call(client, attachments in WeCom's shape)``: materials become media ids (channels.wecom.media)."""
    account = _account(account_id)
    client = WeComClient.for_account(account, max_wait=MAX_WAIT_SECONDS)
    return media.with_media(
        account=account, attachments=attachments, purpose=purpose, call=lambda atts: call(client, atts), client=client
    )


def _content(text: str, attachments: list[dict[str, Any]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if text:
        body["text"] = {"content": text}
    if attachments:
        body["attachments"] = attachments
    return body


# -- 企业群发 -------------------------------------------------------------------------------------
def broadcast_create(
    *,
    account_id: int,
    chat_type: Literal["single", "group"],
    sender: str,
    external_userids: list[str] | None = None,
    chat_ids: list[str] | None = None,
    text: str = "",
    attachments: list[dict[str, Any]] | None = None,
    allow_select: bool = False,
) -> GroupMsgCreated:
    """``externalcontact/add_msg_template``: creates a task the member confirms in WeCom."""
    body: dict[str, Any] = {"chat_type": chat_type, "sender": sender}
    if chat_type == "single":
        ids = list(external_userids or [])
        if len(ids) > MAX_SINGLE_RECIPIENTS:
            raise ValueError(f"一次群发最多 {MAX_SINGLE_RECIPIENTS} 位客户")
        if ids:
            body["external_userid"] = ids
    else:
        chats = list(chat_ids or [])
        if len(chats) > MAX_GROUP_RECIPIENTS:
            raise ValueError(f"一次群发最多 {MAX_GROUP_RECIPIENTS} 个客户群")
        if chats:
            body["chat_id_list"] = chats
        body["allow_select"] = allow_select

    def create(client: WeComClient, resolved: list[dict[str, Any]]) -> dict[str, Any]:
        return client.post("externalcontact/add_msg_template", {**body, **_content(text, resolved)})

    data = _with_media(account_id, attachments, MediaPurpose.MESSAGE, create)
    return GroupMsgCreated(msgid=str(data.get("msgid", "")), fail_list=list(data.get("fail_list") or []))


def broadcast_list(
    *, account_id: int, start: datetime, end: datetime, creator: str | None = None
) -> list[dict[str, Any]]:
    """``get_groupmsg_list_v2`` (企业 and 个人 sends), all pages, both chat types."""
    client = _client(account_id)
    out: list[dict[str, Any]] = []
    for chat_type in ("single", "group"):
        body: dict[str, Any] = {
            "chat_type": chat_type,
            "start_time": int(start.timestamp()),
            "end_time": int(end.timestamp()),
            "filter_type": 2,
            "limit": 100,
        }
        if creator:
            body["creator"] = creator
        out += [
            {**m, "chat_type": chat_type}
            for m in client.paginate("externalcontact/get_groupmsg_list_v2", body, "group_msg_list")
        ]
    return out


def broadcast_task(*, account_id: int, msgid: str) -> list[dict[str, Any]]:
    body = {"msgid": msgid, "limit": 1000}
    return list(_client(account_id).paginate("externalcontact/get_groupmsg_task", body, "task_list"))


def broadcast_send_result(*, account_id: int, msgid: str, userid: str) -> list[dict[str, Any]]:
    body = {"msgid": msgid, "userid": userid, "limit": 1000}
    return list(_client(account_id).paginate("externalcontact/get_groupmsg_send_result", body, "send_list"))


def broadcast_remind(*, account_id: int, msgid: str) -> None:
    _client(account_id).post("externalcontact/remind_groupmsg_send", {"msgid": msgid})


def broadcast_cancel(*, account_id: int, msgid: str) -> None:
    _client(account_id).post("externalcontact/cancel_groupmsg_send", {"msgid": msgid})


# -- 客户朋友圈 -----------------------------------------------------------------------------------
def moment_create(
    *,
    account_id: int,
    text: str,
    attachments: list[dict[str, Any]] | None,
    sender_list: list[str],
    tag_list: list[str] | None = None,
) -> str:
    """``add_moment_task``; ``tag_list`` (WeCom corp tag ids): only customers with one of them see it."""
    visible: dict[str, Any] = {"sender_list": {"user_list": sender_list}}
    if tag_list:
        visible["external_contact_list"] = {"tag_list": list(tag_list)}

    def create(client: WeComClient, resolved: list[dict[str, Any]]) -> str:
        body = {**_content(text, resolved), "visible_range": visible}
        return str(client.post("externalcontact/add_moment_task", body)["jobid"])

    return _with_media(account_id, attachments, MediaPurpose.MOMENT, create)


def moment_result(*, account_id: int, jobid: str) -> dict[str, Any]:
    """``get_moment_task_result``: ``{status, type, result{moment_id, …}}``; poll until ``moment_id``."""
    data = _client(account_id).get("externalcontact/get_moment_task_result", jobid=jobid)
    return {k: v for k, v in data.items() if k not in ("errcode", "errmsg")}


def moment_send_results(*, account_id: int, moment_id: str, userid: str) -> list[dict[str, Any]]:
    body = {"moment_id": moment_id, "userid": userid, "limit": 1000}
    return list(_client(account_id).paginate("externalcontact/get_moment_customer_list", body, "customer_list"))


def moment_comments(*, account_id: int, moment_id: str, userid: str) -> dict[str, list[dict[str, Any]]]:
    """``get_moment_comments``: ``{comment_list, like_list}`` of rows ``{external_userid | userid, create_time}``."""
    return _client(account_id).moment_comments(moment_id=moment_id, userid=userid)


# -- 欢迎语 / 标签 --------------------------------------------------------------------------------
def welcome_send(
    *, account_id: int, welcome_code: str, text: str, attachments: list[dict[str, Any]] | None = None
) -> None:
    """``send_welcome_msg``; the code lives 20 s and works once (41051 for the second caller)."""

    def send(client: WeComClient, resolved: list[dict[str, Any]]) -> None:
        client.post("externalcontact/send_welcome_msg", {"welcome_code": welcome_code, **_content(text, resolved)})

    _with_media(account_id, attachments, MediaPurpose.MESSAGE, send)


def tag_mark(*, account_id: int, userid: str, external_userid: str, add: list[str], remove: list[str]) -> None:
    if not add and not remove:
        return
    _client(account_id).mark_tag(userid=userid, external_userid=external_userid, add=add, remove=remove)
