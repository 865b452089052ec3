"""A local fake of WeCom's 客户联系 API and its callback sender (PLATFORMS.md §7.1).

State is in memory, one :class:`Corp` per corp id. Served over real HTTP (``/cgi-bin/...``) plus a
JSON control API (``POST /sandbox/wecom/<method>`` with keyword arguments) that tests and the demo
use to play users: seed members and customers, scan a 渠道活码, delete a friend, confirm a group
send, set rate limits, inject errors, hold/reorder/drop callbacks.

Faithful where it matters to us: token lifetime and 40014/42001/41001, per-(corp, api) frequency
(45009, blocking for the rest of the window) and concurrency (45033) limits, ``state`` ≤ 30 chars,
welcome codes valid 20 s and once (41051), add_msg_template limits and tasks that wait for the
member's confirmation, per-customer receive caps (status 3), remind ≤ 3 per 24 h, Moments jobs,
transfers, and callbacks encrypted and signed with the production WXBizMsgCrypt.
"""

from __future__ import annotations

import hashlib
import json
import queue
import random
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import requests

from channels.sandbox.server import json_response
from channels.wecom.crypto import WXBizMsgCrypt

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
    transfers: list[dict[str, Any]] = field(default_factory=list)
    transfer_counts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outbox: list[str] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)


def _cdata(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return f"<![CDATA[{value}]]>"


class WeComFake:
    """The WeCom fake: state, the ``/cgi-bin`` API, the control API and the callback emitter."""

    def __init__(self, *, base_url: str = "", token_ttl: int = 7200, group_capacity: int = 200) -> None:
        self.base_url = base_url
        self.lock = threading.RLock()
        self.corps: dict[str, Corp] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.token_ttl = token_ttl
        self.same_token_while_valid = True
        self.group_capacity = group_capacity
        self.clock_offset = 0.0
        self.latency = 0.0
        # Extra seconds per api path (e.g. {"externalcontact/get": 8}) to hold a caller mid-call.
        self.slow_apis: dict[str, float] = {}
        # Rate limits per api path: {"per_minute": n, "per_hour": n, "concurrency": n}; "*" = every api.
        self.limits: dict[str, dict[str, int]] = {}
        self.hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.blocked_until: dict[tuple[str, str], float] = {}
        self.in_flight: dict[tuple[str, str], int] = defaultdict(int)
        self.fail_next: dict[str, list[int]] = defaultdict(list)
        self.receive_cap = {"mode": "daily", "limit": 1}
        self.moment_polls = 1
        self.hold_callbacks = False
        self.callback_timeout = 5.0
        self.callback_retries = 3
        self.calls: deque[tuple[str, dict[str, Any]]] = deque(maxlen=20000)
        self.gettoken_calls = 0
        self._seq = 0
        self.rng = random.Random(7)  # noqa: S311 - nonces of a fake, reproducible on purpose
        self._sendq: queue.Queue[tuple[str, str]] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._pending = 0

    # -- helpers ---------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def _id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:06d}{secrets.token_hex(4)}"

    def corp(self, corp_id: str = "") -> Corp:
        if not corp_id:
            if len(self.corps) != 1:
                raise KeyError("name the corp_id: the sandbox has several corps")
            return next(iter(self.corps.values()))
        return self.corps[corp_id]

    # -- control API (also exposed over HTTP) ------------------------------------------------------
    def add_corp(
        self, corp_id: str, secret: str, token: str = "", aes_key: str = "", callback_url: str = "", agent_id: str = ""
    ) -> dict[str, Any]:
        with self.lock:
            corp = self.corps.get(corp_id) or Corp(corp_id=corp_id, secret=secret)
            corp.secret = secret
            corp.token = token or corp.token
            corp.aes_key = aes_key or corp.aes_key
            corp.callback_url = callback_url or corp.callback_url
            corp.agent_id = agent_id or corp.agent_id
            self.corps[corp_id] = corp
            return {"corp_id": corp_id}

    def add_member(self, userid: str, name: str = "", corp_id: str = "", status: int = 1) -> dict[str, Any]:
        with self.lock:
            self.corp(corp_id).members[userid] = {"userid": userid, "name": name or userid, "status": status}
            return {"userid": userid}

    def resign_member(self, userid: str, corp_id: str = "") -> None:
        with self.lock:
            self.corp(corp_id).members[userid]["status"] = 5

    def add_tag_group(self, group_name: str, tags: list[str], corp_id: str = "") -> dict[str, Any]:
        with self.lock:
            return self._add_corp_tag(
                self.corp(corp_id), {"group_name": group_name, "tag": [{"name": t} for t in tags]}
            )

    def tag_id(self, tag_name: str, corp_id: str = "") -> str:
        for group in self.corp(corp_id).tag_groups.values():
            for tag in group["tag"]:
                if tag["name"] == tag_name:
                    return str(tag["id"])
        raise KeyError(tag_name)

    def seed_customer(
        self,
        userid: str,
        external_userid: str = "",
        name: str = "",
        unionid: str = "",
        state: str = "",
        add_way: int = 1,
        tags: list[str] | None = None,
        corp_id: str = "",
        createtime: int | None = None,
        wechat_channels: dict[str, Any] | None = None,
    ) -> str:
        """Make ``external_userid`` a friend of ``userid`` without any callback (pre-existing data)."""
        with self.lock:
            corp = self.corp(corp_id)
            ext = external_userid or self._id("wm")
            contact = corp.customers.get(ext) or ExternalContact(
                external_userid=ext, name=name or f"客户{ext[-4:]}", unionid=unionid
            )
            contact.follows[userid] = FollowInfo(
                userid=userid,
                createtime=createtime or int(self.now()),
                state=state,
                add_way=add_way,
                tags=set(tags or []),
                oper_userid=ext,
                wechat_channels=wechat_channels,
            )
            corp.customers[ext] = contact
            return ext

    def seed_bulk(
        self,
        corp_id: str = "",
        members: list[dict[str, Any]] | None = None,
        customers: list[dict[str, Any]] | None = None,
        groups: list[dict[str, Any]] | None = None,
    ) -> dict[str, int]:
        """Load existing data without callbacks (the demo mirrors its database into a fresh sandbox).

        members: {userid, name, status?}; customers: {external_userid, name, unionid?, follows: [{userid,
        createtime, state, add_way, remark, tags}]}; groups: {chat_id, name, owner, members: [ids]}.
        """
        with self.lock:
            corp = self.corp(corp_id)
            for m in members or []:
                corp.members[m["userid"]] = {
                    "userid": m["userid"],
                    "name": m.get("name") or m["userid"],
                    "status": int(m.get("status", 1)),
                }
            for c in customers or []:
                contact = corp.customers.get(c["external_userid"]) or ExternalContact(
                    external_userid=c["external_userid"], name=c.get("name", ""), unionid=c.get("unionid", "")
                )
                for f in c.get("follows") or []:
                    contact.follows[f["userid"]] = FollowInfo(
                        userid=f["userid"],
                        createtime=int(f.get("createtime") or self.now()),
                        state=f.get("state", ""),
                        add_way=int(f.get("add_way", 1)),
                        remark=f.get("remark", ""),
                        tags=set(f.get("tags") or []),
                        oper_userid=c["external_userid"],
                    )
                if contact.follows:
                    corp.customers[contact.external_userid] = contact
            for g in groups or []:
                now = int(self.now())
                member_list = [{"userid": g["owner"], "type": 1, "join_time": now, "join_scene": 1, "name": g["owner"]}]
                member_list += [
                    {
                        "userid": ext,
                        "type": 2,
                        "join_time": now,
                        "join_scene": 3,
                        "name": ext,
                        "unionid": "",
                        "state": "",
                    }
                    for ext in g.get("members") or []
                    if ext != g["owner"]
                ]
                corp.groups[g["chat_id"]] = {
                    "chat_id": g["chat_id"],
                    "name": g.get("name", ""),
                    "owner": g["owner"],
                    "create_time": now,
                    "notice": "",
                    "member_list": member_list,
                    "admin_list": [],
                    "member_version": "1",
                    "status": 0,
                }
            return {"members": len(corp.members), "customers": len(corp.customers), "groups": len(corp.groups)}

    def scan(
        self,
        state: str = "",
        config_id: str = "",
        external_userid: str = "",
        name: str = "",
        unionid: str = "",
        userid: str = "",
        add_way: int = 1,
        wechat_channels: dict[str, Any] | None = None,
        half: bool = False,
        corp_id: str = "",
    ) -> dict[str, Any]:
        """A WeChat user scans a 渠道活码 (found by ``state`` or ``config_id``) and adds the member.

        Emits ``add_external_contact`` (or ``add_half_external_contact``) with State and a
        WelcomeCode valid 20 s. Returns the ids used.
        """
        with self.lock:
            corp = self.corp(corp_id)
            way = None
            if config_id:
                way = corp.contact_ways[config_id]
            elif state:
                way = next((w for w in corp.contact_ways.values() if w.get("state") == state), None)
            if userid == "":
                if way is None:
                    raise ApiError(40058, "no contact way for that state/config_id; pass userid")
                users = list(way.get("user") or [])
                if not users:
                    raise ApiError(40058, "contact way has no user")
                way["_rr"] = way.get("_rr", -1) + 1
                userid = users[way["_rr"] % len(users)]
            the_state = way.get("state", "") if way else state
            ext = self.seed_customer(
                userid,
                external_userid=external_userid,
                name=name,
                unionid=unionid,
                state=the_state,
                add_way=add_way,
                corp_id=corp.corp_id,
                wechat_channels=wechat_channels,
            )
            code = self._id("WELCOME")
            corp.welcome_codes[code] = {
                "external_userid": ext,
                "userid": userid,
                "expires": self.now() + WELCOME_TTL,
                "used": False,
            }
            self._emit(
                corp,
                "change_external_contact",
                "add_half_external_contact" if half else "add_external_contact",
                UserID=userid,
                ExternalUserID=ext,
                State=the_state,
                WelcomeCode=code,
            )
            return {"external_userid": ext, "userid": userid, "welcome_code": code, "state": the_state}

    def edit_customer(
        self,
        external_userid: str,
        userid: str,
        remark: str | None = None,
        description: str | None = None,
        add_tags: list[str] | None = None,
        remove_tags: list[str] | None = None,
        corp_id: str = "",
    ) -> None:
        """The member edits the customer in the WeCom client (remark, tags) → edit_external_contact."""
        with self.lock:
            corp = self.corp(corp_id)
            follow = corp.customers[external_userid].follows[userid]
            if remark is not None:
                follow.remark = remark
            if description is not None:
                follow.description = description
            follow.tags |= set(add_tags or [])
            follow.tags -= set(remove_tags or [])
            self._emit(
                corp,
                "change_external_contact",
                "edit_external_contact",
                UserID=userid,
                ExternalUserID=external_userid,
            )

    def customer_deletes(self, external_userid: str, userid: str, corp_id: str = "") -> None:
        """The customer deletes the member (del_follow_user = churn)."""
        with self.lock:
            corp = self.corp(corp_id)
            corp.customers[external_userid].follows.pop(userid, None)
            self._drop_orphan(corp, external_userid)
            self._emit(
                corp, "change_external_contact", "del_follow_user", UserID=userid, ExternalUserID=external_userid
            )

    def member_deletes(self, userid: str, external_userid: str, corp_id: str = "") -> None:
        with self.lock:
            corp = self.corp(corp_id)
            corp.customers[external_userid].follows.pop(userid, None)
            self._drop_orphan(corp, external_userid)
            self._emit(
                corp, "change_external_contact", "del_external_contact", UserID=userid, ExternalUserID=external_userid
            )

    def _drop_orphan(self, corp: Corp, external_userid: str) -> None:
        if not corp.customers[external_userid].follows:
            del corp.customers[external_userid]

    def create_group(
        self, owner: str, name: str = "", members: list[str] | None = None, corp_id: str = "", chat_id: str = ""
    ) -> str:
        with self.lock:
            corp = self.corp(corp_id)
            chat = chat_id or self._id("wr")
            now = int(self.now())
            corp.groups[chat] = {
                "chat_id": chat,
                "name": name,
                "owner": owner,
                "create_time": now,
                "notice": "",
                "member_list": [{"userid": owner, "type": 1, "join_time": now, "join_scene": 1, "name": owner}],
                "admin_list": [],
                "member_version": "1",
                "status": 0,
            }
            for ext in members or []:
                self._join(corp, chat, ext, scene=1, emit=False)
            self._emit(corp, "change_external_chat", "create", ChatId=chat)
            return chat

    def join_group(
        self, chat_id: str, external_userid: str, scene: int = 3, state: str = "", corp_id: str = ""
    ) -> None:
        with self.lock:
            self._join(self.corp(corp_id), chat_id, external_userid, scene=scene, state=state)

    def _join(self, corp: Corp, chat_id: str, ext: str, *, scene: int, state: str = "", emit: bool = True) -> None:
        group = corp.groups[chat_id]
        if any(m["userid"] == ext for m in group["member_list"]):
            return
        contact = corp.customers.get(ext)
        group["member_list"].append(
            {
                "userid": ext,
                "type": 2,
                "join_time": int(self.now()),
                "join_scene": scene,
                "name": contact.name if contact else ext,
                "unionid": contact.unionid if contact else "",
                "state": state,
            }
        )
        group["member_version"] = str(int(group["member_version"]) + 1)
        if emit:
            self._emit(
                corp,
                "change_external_chat",
                "update",
                ChatId=chat_id,
                UpdateDetail="add_member",
                JoinScene=scene,
                MemChangeCnt=1,
            )

    def leave_group(self, chat_id: str, external_userid: str, corp_id: str = "") -> None:
        with self.lock:
            corp = self.corp(corp_id)
            group = corp.groups[chat_id]
            group["member_list"] = [m for m in group["member_list"] if m["userid"] != external_userid]
            group["member_version"] = str(int(group["member_version"]) + 1)
            self._emit(
                corp,
                "change_external_chat",
                "update",
                ChatId=chat_id,
                UpdateDetail="del_member",
                QuitScene=0,
                MemChangeCnt=1,
            )

    def dismiss_group(self, chat_id: str, corp_id: str = "") -> None:
        with self.lock:
            corp = self.corp(corp_id)
            corp.groups.pop(chat_id)
            self._emit(corp, "change_external_chat", "dismiss", ChatId=chat_id)

    def join_via(self, config_id: str, external_userid: str, corp_id: str = "") -> str:
        """A customer scans a 群活码: joins the first group with room, or a new one when all are full."""
        with self.lock:
            corp = self.corp(corp_id)
            way = corp.join_ways[config_id]
            for chat in way["chat_id_list"]:
                group = corp.groups.get(chat)
                if group and len(group["member_list"]) < self.group_capacity:
                    self._join(corp, chat, external_userid, scene=3, state=way.get("state", ""))
                    return str(chat)
            if not way.get("auto_create_room", 1) or not way["chat_id_list"]:
                raise ApiError(40058, "all groups are full")
            owner = corp.groups[way["chat_id_list"][0]]["owner"]
            way["_created"] = way.get("_created", 0) + 1
            number = int(way.get("room_base_id") or 1) + way["_created"]
            chat = self.create_group(owner, name=f"{way.get('room_base_name', '')}{number}", corp_id=corp.corp_id)
            way["chat_id_list"].append(chat)
            self._join(corp, chat, external_userid, scene=3, state=way.get("state", ""))
            return chat

    def confirm(self, userid: str, msgid: str, corp_id: str = "") -> dict[str, int]:
        """The member taps 发送 on a group-send task: apply receive caps and write send results."""
        with self.lock:
            corp = self.corp(corp_id)
            msg = corp.group_sends[msgid]
            task = msg.tasks[userid]
            counts: dict[int, int] = defaultdict(int)
            if msg.cancelled or task["status"] == 2:
                return dict(counts)
            now = self.now()
            for rid, row in task["recipients"].items():
                if row["status"] != 0:
                    counts[row["status"]] += 1
                    continue
                if msg.chat_type == "single" and not self._is_friend(corp, rid, userid):
                    row["status"] = 2
                elif self._over_cap(corp, rid, now):
                    row["status"] = 3
                else:
                    row["status"] = 1
                    row["send_time"] = int(now)
                    corp.received.append((rid, now))
                counts[row["status"]] += 1
            task["status"] = 2
            task["send_time"] = int(now)
            return dict(counts)

    def manual_send(self, recipient_ids: list[str], corp_id: str = "") -> None:
        """A member's own 个人群发: consumes the same per-customer receive budget."""
        with self.lock:
            corp = self.corp(corp_id)
            now = self.now()
            corp.received += [(rid, now) for rid in recipient_ids]

    def _over_cap(self, corp: Corp, rid: str, now: float) -> bool:
        window = CAP_WINDOWS[self.receive_cap["mode"]]
        used = sum(1 for r, t in corp.received if r == rid and now - t < window)
        return used >= int(self.receive_cap["limit"])

    def _is_friend(self, corp: Corp, ext: str, userid: str) -> bool:
        contact = corp.customers.get(ext)
        return bool(contact and userid in contact.follows)

    def complete_transfers(self, refuse: list[str] | None = None, corp_id: str = "") -> int:
        """24 h later: waiting transfers complete (status 1) or are refused (status 3 + transfer_fail)."""
        with self.lock:
            corp = self.corp(corp_id)
            done = 0
            for item in corp.transfers:
                if item["status"] != 2:
                    continue
                ext, old, new = item["external_userid"], item["handover_userid"], item["takeover_userid"]
                if ext in (refuse or []):
                    item["status"] = 3
                    self._emit(
                        corp,
                        "change_external_contact",
                        "transfer_fail",
                        UserID=new,
                        ExternalUserID=ext,
                        FailReason="customer_refused",
                    )
                    continue
                contact = corp.customers.get(ext)
                if contact is None or old not in contact.follows:
                    item["status"] = 5
                    continue
                follow = contact.follows.pop(old)
                already = new in contact.follows
                contact.follows[new] = FollowInfo(
                    userid=new, createtime=int(self.now()), state=follow.state, add_way=follow.add_way, tags=follow.tags
                )
                item["status"] = 1
                item["takeover_time"] = int(self.now())
                done += 1
                self._emit(
                    corp,
                    "change_external_contact",
                    "del_external_contact",
                    UserID=old,
                    ExternalUserID=ext,
                    Source="DELETE_BY_TRANSFER",
                )
                if not already:
                    self._emit(
                        corp,
                        "change_external_contact",
                        "add_external_contact",
                        UserID=new,
                        ExternalUserID=ext,
                        State=follow.state,
                    )
            return done

    def set_limits(self, api: str = "*", **limits: int) -> None:
        with self.lock:
            self.limits[api] = dict(limits)
            self.hits.clear()
            self.blocked_until.clear()

    def clear_limits(self) -> None:
        with self.lock:
            self.limits.clear()
            self.hits.clear()
            self.blocked_until.clear()

    def inject_error(self, api: str, errcode: int, times: int = 1) -> None:
        with self.lock:
            self.fail_next[api] += [errcode] * times

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: (c, 0.0) for t, (c, _) in self.tokens.items()}

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def set_options(self, **options: Any) -> None:
        """Tune behaviour: receive_cap, moment_polls, latency, hold_callbacks, group_capacity, token_ttl…"""
        with self.lock:
            for key, value in options.items():
                if not hasattr(self, key) or key.startswith("_"):
                    raise KeyError(key)
                setattr(self, key, value)

    def snapshot(self, corp_id: str = "") -> dict[str, Any]:
        """The truth, for tests comparing our database with the platform."""
        with self.lock:
            corp = self.corp(corp_id)
            return {
                "customers": {
                    ext: {
                        "name": c.name,
                        "unionid": c.unionid,
                        "follows": {
                            u: {"state": f.state, "tags": sorted(f.tags), "remark": f.remark}
                            for u, f in c.follows.items()
                        },
                    }
                    for ext, c in corp.customers.items()
                },
                "groups": {
                    chat: {
                        "name": g["name"],
                        "owner": g["owner"],
                        "members": sorted(m["userid"] for m in g["member_list"]),
                    }
                    for chat, g in corp.groups.items()
                },
                "welcomes": list(corp.welcomes),
                "tag_groups": json.loads(json.dumps(list(corp.tag_groups.values()))),
                "contact_ways": {
                    k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in corp.contact_ways.items()
                },
                "join_ways": {
                    k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in corp.join_ways.items()
                },
                "transfers": list(corp.transfers),
                "group_sends": {
                    m: {"creator": g.creator, "chat_type": g.chat_type, "cancelled": g.cancelled, "tasks": g.tasks}
                    for m, g in corp.group_sends.items()
                },
                "deliveries": len(corp.deliveries),
                "outbox": len(corp.outbox),
            }

    # -- callbacks -------------------------------------------------------------------------------
    def _emit(self, corp: Corp, event: str, change_type: str, **fields: Any) -> None:
        parts = [
            f"<ToUserName>{_cdata(corp.corp_id)}</ToUserName>",
            "<FromUserName><![CDATA[sys]]></FromUserName>",
            f"<CreateTime>{int(self.now())}</CreateTime>",
            "<MsgType><![CDATA[event]]></MsgType>",
            f"<Event>{_cdata(event)}</Event>",
            f"<ChangeType>{_cdata(change_type)}</ChangeType>",
        ]
        for key, value in fields.items():
            parts.append(f"<{key}>{_cdata(value if isinstance(value, int) else escape(str(value)))}</{key}>")
        self._queue(corp, "<xml>" + "".join(parts) + "</xml>")

    def _queue(self, corp: Corp, xml: str) -> None:
        """Hold the callback, or hand it to the sender thread (never deliver while holding the lock)."""
        if self.hold_callbacks:
            corp.outbox.append(xml)
            return
        self._pending += 1
        self._sendq.put((corp.corp_id, xml))
        if self._sender is None or not self._sender.is_alive():
            self._sender = threading.Thread(target=self._send_loop, daemon=True)
            self._sender.start()

    def _send_loop(self) -> None:
        while True:
            corp_id, xml = self._sendq.get()
            try:
                self.deliver(self.corps[corp_id], xml)
            finally:
                with self.lock:
                    self._pending -= 1

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every auto-delivered callback has been posted (in order, one at a time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._pending == 0:
                return True
            time.sleep(0.01)
        return False

    def emit_tag_change(
        self, tag_id: str, change_type: str = "update", tag_type: str = "tag", corp_id: str = ""
    ) -> None:
        with self.lock:
            corp = self.corp(corp_id)
            parts = [
                f"<ToUserName>{_cdata(corp.corp_id)}</ToUserName><FromUserName><![CDATA[sys]]></FromUserName>",
                f"<CreateTime>{int(self.now())}</CreateTime><MsgType><![CDATA[event]]></MsgType>",
                f"<Event><![CDATA[change_external_tag]]></Event><Id>{_cdata(tag_id)}</Id>",
                f"<TagType>{_cdata(tag_type)}</TagType><ChangeType>{_cdata(change_type)}</ChangeType>",
            ]
            self._queue(corp, "<xml>" + "".join(parts) + "</xml>")

    def flush(
        self,
        corp_id: str = "",
        order: str = "",
        drop: list[int] | None = None,
        duplicate: list[int] | None = None,
        seed: int = 1,
    ) -> list[int]:
        """Deliver the held callbacks: ``order`` "" | "reverse" | "shuffle"; ``drop``/``duplicate`` are
        indices into the held list. Returns the HTTP status of each delivery."""
        with self.lock:
            corp = self.corp(corp_id)
            events = list(enumerate(corp.outbox))
            corp.outbox.clear()
        if order == "reverse":
            events.reverse()
        elif order == "shuffle":
            random.Random(seed).shuffle(events)  # noqa: S311 - reproducible fault injection
        statuses = []
        for index, xml in events:
            if index in (drop or []):
                continue
            statuses += [self.deliver(corp, xml) for _ in range(2 if index in (duplicate or []) else 1)]
        return statuses

    def deliver(self, corp: Corp, xml: str) -> int:
        """POST one encrypted, signed callback; retry like WeCom (3 times) on timeouts and errors."""
        if not corp.callback_url:
            corp.deliveries.append({"xml": xml, "status": 0})
            return 0
        crypt = WXBizMsgCrypt(corp.token, corp.aes_key, corp.corp_id)
        status = 0
        for _attempt in range(1 + self.callback_retries):
            body, query = crypt.encrypt_message(xml, nonce=str(self.rng.randint(10**8, 10**9)), agent_id=corp.agent_id)
            try:
                response = requests.post(
                    corp.callback_url,
                    params=query,
                    data=body.encode(),
                    timeout=self.callback_timeout,
                    headers={"Content-Type": "text/xml"},
                )
                status = response.status_code
                if status == 200:
                    break
            except requests.RequestException:
                status = -1
        corp.deliveries.append({"xml": xml, "status": status})
        return status

    def verify_callback_url(self, corp_id: str = "") -> dict[str, Any]:
        """The GET handshake WeCom runs when the admin saves the callback URL."""
        corp = self.corp(corp_id)
        crypt = WXBizMsgCrypt(corp.token, corp.aes_key, corp.corp_id)
        plain = str(self.rng.randint(10**17, 10**18))
        echostr = crypt.encrypt(plain)
        ts, nonce = str(int(time.time())), str(self.rng.randint(10**8, 10**9))
        from channels.wecom.crypto import signature

        started = time.monotonic()
        response = requests.get(
            corp.callback_url,
            params={
                "msg_signature": signature(corp.token, ts, nonce, echostr),
                "timestamp": ts,
                "nonce": nonce,
                "echostr": echostr,
            },
            timeout=5,
        )
        return {
            "ok": response.status_code == 200 and response.text == plain,
            "status": response.status_code,
            "body": response.text,
            "seconds": time.monotonic() - started,
        }

    # -- the API ---------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return json_response(start_response, {"errcode": 47001, "errmsg": "data format error"})
        if path.startswith("/sandbox/wecom/qr/"):
            return self._qr(path.rsplit("/", 1)[-1], start_response)
        if path.startswith("/sandbox/wecom/"):
            return self._control(path.removeprefix("/sandbox/wecom/").strip("/"), body, start_response)
        if not path.startswith("/cgi-bin/"):
            return json_response(start_response, {"errcode": 404, "errmsg": "not found"}, 404)
        api = path.removeprefix("/cgi-bin/").strip("/")
        return json_response(start_response, self.handle(api, query, body))

    CONTROL = {
        "add_corp",
        "add_member",
        "resign_member",
        "add_tag_group",
        "seed_customer",
        "scan",
        "edit_customer",
        "customer_deletes",
        "member_deletes",
        "create_group",
        "join_group",
        "leave_group",
        "dismiss_group",
        "join_via",
        "confirm",
        "manual_send",
        "complete_transfers",
        "set_limits",
        "clear_limits",
        "inject_error",
        "expire_tokens",
        "revoke_tokens",
        "set_options",
        "snapshot",
        "flush",
        "emit_tag_change",
        "verify_callback_url",
        "wait_idle",
        "seed_bulk",
    }

    def _control(self, method: str, body: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if method not in self.CONTROL:
            return json_response(start_response, {"error": f"unknown control method {method}"}, 404)
        try:
            result = getattr(self, method)(**body)
        except (KeyError, TypeError, ApiError) as exc:
            return json_response(start_response, {"error": f"{type(exc).__name__}: {exc}"}, 400)
        return json_response(start_response, {"ok": True, "result": result})

    def _qr(self, config_id: str, start_response: Callable[..., Any]) -> list[bytes]:
        import io

        import segno

        buffer = io.BytesIO()
        segno.make(f"{self.base_url}/sandbox/wecom/way/{config_id}").save(buffer, kind="png", scale=6)
        data = buffer.getvalue()
        start_response("200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(data)))])
        return [data]

    def handle(self, api: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((api, {**query, **body}))
        try:
            if api == "gettoken":
                return self._gettoken(query)
            with self.lock:
                corp = self._auth(query)
                key = (corp.corp_id, api)
                self._check_limits(key)
                self.in_flight[key] += 1
            try:
                delay = self.latency + float(self.slow_apis.get(api, 0))
                if delay:
                    time.sleep(delay)
                with self.lock:
                    forced = self.fail_next.get(api)
                    if forced:
                        code = forced.pop(0)
                        raise ApiError(code, "injected error")
                    handler = getattr(self, "api_" + api.replace("/", "__"), None)
                    if handler is None:
                        raise ApiError(48002, f"api {api} not served by the sandbox")
                    result = handler(corp, {**query, **body})
            finally:
                with self.lock:
                    self.in_flight[key] -= 1
        except ApiError as exc:
            return {"errcode": exc.code, "errmsg": exc.message}
        return {"errcode": 0, "errmsg": "ok", **result}

    def _gettoken(self, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            self.gettoken_calls += 1
            key = (query.get("corpid", ""), "gettoken")
            self._check_limits(key)
            corp = self.corps.get(query.get("corpid", ""))
            if corp is None:
                raise ApiError(40013, "invalid corpid")
            if query.get("corpsecret") != corp.secret:
                raise ApiError(40001, "invalid credential")
            now = self.now()
            if self.same_token_while_valid:
                for token, (corp_id, expires) in self.tokens.items():
                    if corp_id == corp.corp_id and expires > now + 60:
                        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": int(expires - now)}
            token = secrets.token_urlsafe(48)
            self.tokens[token] = (corp.corp_id, now + self.token_ttl)
            return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_ttl}

    def _auth(self, query: dict[str, str]) -> Corp:
        token = query.get("access_token")
        if not token:
            raise ApiError(41001, "access_token missing")
        found = self.tokens.get(token)
        if found is None:
            raise ApiError(40014, "invalid access_token")
        corp_id, expires = found
        if expires <= self.now():
            raise ApiError(42001, "access_token expired")
        return self.corps[corp_id]

    def _check_limits(self, key: tuple[str, str]) -> None:
        limits = self.limits.get(key[1]) or self.limits.get("*")
        if not limits:
            return
        now = self.now()
        if self.blocked_until.get(key, 0) > now:
            raise ApiError(45009, "api freq out of limit")
        hits = self.hits[key]
        while hits and now - hits[0] > 3600:
            hits.popleft()
        per_minute, per_hour = limits.get("per_minute"), limits.get("per_hour")
        if per_minute and sum(1 for t in hits if now - t < 60) >= per_minute:
            self.blocked_until[key] = now + 60
            raise ApiError(45009, "api freq out of limit")
        if per_hour and len(hits) >= per_hour:
            self.blocked_until[key] = now + 3600
            raise ApiError(45009, "api freq out of limit")
        concurrency = limits.get("concurrency")
        if concurrency and self.in_flight[key] >= concurrency:
            raise ApiError(45033, "api concurrent out of limit")
        hits.append(now)

    # members
    def api_externalcontact__get_follow_user_list(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return {"follow_user": [u for u, m in corp.members.items() if m["status"] == 1]}

    def api_user__get(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        member = corp.members.get(p.get("userid", ""))
        if member is None:
            raise ApiError(60111, "userid not found")
        return {"userid": member["userid"], "name": member["name"], "status": member["status"]}

    # customers
    def _contact_json(self, contact: ExternalContact) -> dict[str, Any]:
        return {
            "external_userid": contact.external_userid,
            "name": contact.name,
            "avatar": contact.avatar,
            "type": contact.type,
            "gender": contact.gender,
            "unionid": contact.unionid,
        }

    def _follow_json(self, corp: Corp, follow: FollowInfo, *, batch: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "userid": follow.userid,
            "remark": follow.remark,
            "description": follow.description,
            "createtime": follow.createtime,
            "state": follow.state,
            "add_way": follow.add_way,
            "oper_userid": follow.oper_userid,
            "remark_mobiles": [],
        }
        if follow.wechat_channels:
            data["wechat_channels"] = follow.wechat_channels
        if batch:
            data["tag_id"] = sorted(follow.tags)
        else:
            data["tags"] = [
                {"group_name": g["group_name"], "tag_name": t["name"], "tag_id": t["id"], "type": 1}
                for g in corp.tag_groups.values()
                for t in g["tag"]
                if t["id"] in follow.tags
            ]
        return data

    def api_externalcontact__list(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        userid = p.get("userid", "")
        return {"external_userid": sorted(e for e, c in corp.customers.items() if userid in c.follows)}

    def api_externalcontact__get(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        contact = corp.customers.get(p.get("external_userid", ""))
        if contact is None:
            raise ApiError(84061, "not external contact")
        return {
            "external_contact": self._contact_json(contact),
            "follow_user": [self._follow_json(corp, f, batch=False) for f in contact.follows.values()],
            "next_cursor": "",
        }

    def api_externalcontact__batch__get_by_user(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        userids = list(p.get("userid_list") or ([p["userid"]] if p.get("userid") else []))
        if not userids or len(userids) > 100:
            raise ApiError(40058, "userid_list must have 1..100 members")
        limit = int(p.get("limit") or 50)
        if limit > 100:
            raise ApiError(40058, "limit > 100")
        rows = sorted((ext, u) for ext, c in corp.customers.items() for u in c.follows if u in set(userids))
        start = int(p.get("cursor") or 0)
        page = rows[start : start + limit]
        return {
            "external_contact_list": [
                {
                    "external_contact": self._contact_json(corp.customers[ext]),
                    "follow_info": self._follow_json(corp, corp.customers[ext].follows[u], batch=True),
                }
                for ext, u in page
            ],
            "next_cursor": str(start + limit) if start + limit < len(rows) else "",
        }

    def api_externalcontact__remark(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        follow = self._follow(corp, p.get("userid", ""), p.get("external_userid", ""))
        if "remark" in p:
            follow.remark = p["remark"]
        if "description" in p:
            follow.description = p["description"]
        return {}

    def _follow(self, corp: Corp, userid: str, ext: str) -> FollowInfo:
        contact = corp.customers.get(ext)
        if contact is None or userid not in contact.follows:
            raise ApiError(84061, "not external contact")
        return contact.follows[userid]

    # tags
    def _add_corp_tag(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        group_id = p.get("group_id")
        if group_id:
            group = corp.tag_groups.get(group_id)
            if group is None:
                raise ApiError(40068, "invalid tagid")
        else:
            name = p.get("group_name") or "未分组"
            group = next((g for g in corp.tag_groups.values() if g["group_name"] == name), None)
            if group is None:
                group_id = self._id("et")
                group = {
                    "group_id": group_id,
                    "group_name": name,
                    "create_time": int(self.now()),
                    "order": 0,
                    "deleted": False,
                    "tag": [],
                }
                corp.tag_groups[group_id] = group
        total = sum(len(g["tag"]) for g in corp.tag_groups.values())
        new_tags = []
        for item in p.get("tag") or []:
            if total >= 3000:
                raise ApiError(40071, "too many tags")
            existing = next((t for t in group["tag"] if t["name"] == item["name"]), None)
            if existing is None:
                existing = {
                    "id": self._id("et"),
                    "name": item["name"],
                    "create_time": int(self.now()),
                    "order": item.get("order", 0),
                    "deleted": False,
                }
                group["tag"].append(existing)
                total += 1
            new_tags.append(existing)
        return {"tag_group": {**{k: v for k, v in group.items() if k != "tag"}, "tag": new_tags}}

    def api_externalcontact__get_corp_tag_list(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return {"tag_group": json.loads(json.dumps(list(corp.tag_groups.values())))}

    def api_externalcontact__add_corp_tag(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return self._add_corp_tag(corp, p)

    def api_externalcontact__edit_corp_tag(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        for group in corp.tag_groups.values():
            if group["group_id"] == p.get("id"):
                group["group_name"] = p.get("name", group["group_name"])
                return {}
            for tag in group["tag"]:
                if tag["id"] == p.get("id"):
                    tag["name"] = p.get("name", tag["name"])
                    return {}
        raise ApiError(40068, "invalid tagid")

    def api_externalcontact__del_corp_tag(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        for gid in p.get("group_id") or []:
            corp.tag_groups.pop(gid, None)
        ids = set(p.get("tag_id") or [])
        for group in corp.tag_groups.values():
            group["tag"] = [t for t in group["tag"] if t["id"] not in ids]
        return {}

    def api_externalcontact__mark_tag(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        add, remove = list(p.get("add_tag") or []), list(p.get("remove_tag") or [])
        if not add and not remove:
            raise ApiError(40058, "add_tag and remove_tag are both empty")
        known = {t["id"] for g in corp.tag_groups.values() for t in g["tag"]}
        if any(t not in known for t in add + remove):
            raise ApiError(40068, "invalid tagid")
        follow = self._follow(corp, p.get("userid", ""), p.get("external_userid", ""))
        follow.tags |= set(add)
        follow.tags -= set(remove)
        return {}

    # contact ways (渠道活码) and join ways (群活码)
    def api_externalcontact__add_contact_way(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("type") not in (1, 2) or p.get("scene") not in (1, 2):
            raise ApiError(40058, "invalid type/scene")
        if len(p.get("state") or "") > 30:
            raise ApiError(40058, "state longer than 30 characters")
        users = list(p.get("user") or [])
        if p["type"] == 1 and len(users) != 1:
            raise ApiError(40058, "type 1 needs exactly one user")
        if not users and not p.get("party"):
            raise ApiError(40058, "user or party required")
        for u in users:
            if u not in corp.members:
                raise ApiError(60111, f"userid {u} not found")
        if len(corp.contact_ways) + len(corp.join_ways) >= 500_000:
            raise ApiError(41054, "contact way quota exhausted")
        config_id = self._id("cw")
        way = {key: p.get(key) for key in ("type", "scene", "style", "remark", "skip_verify", "state", "user", "party")}
        way.update({"config_id": config_id, "qr_code": f"{self.base_url}/sandbox/wecom/qr/{config_id}"})
        corp.contact_ways[config_id] = way
        return {"config_id": config_id, "qr_code": way["qr_code"] if p["scene"] == 2 else ""}

    def api_externalcontact__get_contact_way(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        way = corp.contact_ways.get(p.get("config_id", ""))
        if way is None:
            raise ApiError(41044, "invalid config_id")
        return {"contact_way": {k: v for k, v in way.items() if not k.startswith("_")}}

    def api_externalcontact__update_contact_way(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        way = corp.contact_ways.get(p.get("config_id", ""))
        if way is None:
            raise ApiError(41044, "invalid config_id")
        if len(p.get("state") or "") > 30:
            raise ApiError(40058, "state longer than 30 characters")
        for key in ("style", "remark", "skip_verify", "state", "user", "party"):
            if key in p:
                way[key] = p[key]
        return {}

    def api_externalcontact__del_contact_way(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        if corp.contact_ways.pop(p.get("config_id", ""), None) is None:
            raise ApiError(41044, "invalid config_id")
        return {}

    def api_externalcontact__groupchat__add_join_way(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        chats = list(p.get("chat_id_list") or [])
        if not chats or len(chats) > 5:
            raise ApiError(40058, "chat_id_list must have 1..5 groups")
        if len(p.get("state") or "") > 30:
            raise ApiError(40058, "state longer than 30 characters")
        if len(p.get("room_base_name") or "") > 40:
            raise ApiError(40058, "room_base_name too long")
        for chat in chats:
            if chat not in corp.groups:
                raise ApiError(40050, f"chat {chat} not found")
        config_id = self._id("jw")
        corp.join_ways[config_id] = {
            "config_id": config_id,
            "scene": p.get("scene", 2),
            "remark": p.get("remark", ""),
            "auto_create_room": p.get("auto_create_room", 1),
            "room_base_name": p.get("room_base_name", ""),
            "room_base_id": p.get("room_base_id", 1),
            "chat_id_list": chats,
            "state": p.get("state", ""),
            "qr_code": f"{self.base_url}/sandbox/wecom/qr/{config_id}",
        }
        return {"config_id": config_id}

    def api_externalcontact__groupchat__get_join_way(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        way = corp.join_ways.get(p.get("config_id", ""))
        if way is None:
            raise ApiError(41044, "invalid config_id")
        return {"join_way": {k: v for k, v in way.items() if not k.startswith("_")}}

    def api_externalcontact__groupchat__update_join_way(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        way = corp.join_ways.get(p.get("config_id", ""))
        if way is None:
            raise ApiError(41044, "invalid config_id")
        chats = list(p.get("chat_id_list") or way["chat_id_list"])
        if not chats or len(chats) > 5 or any(c not in corp.groups for c in chats):
            raise ApiError(40058, "chat_id_list must have 1..5 existing groups")
        if len(p.get("state") or "") > 30:
            raise ApiError(40058, "state longer than 30 characters")
        for key in ("scene", "remark", "auto_create_room", "room_base_name", "room_base_id", "state"):
            if key in p:
                way[key] = p[key]
        way["chat_id_list"] = chats
        return {}

    def api_externalcontact__groupchat__del_join_way(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        corp.join_ways.pop(p.get("config_id", ""), None)
        return {}

    # groups
    def api_externalcontact__groupchat__list(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        limit = int(p.get("limit") or 100)
        if not 1 <= limit <= 1000:
            raise ApiError(40058, "limit must be 1..1000")
        owners = set((p.get("owner_filter") or {}).get("userid_list") or [])
        chats = sorted(c for c, g in corp.groups.items() if not owners or g["owner"] in owners)
        start = int(p.get("cursor") or 0)
        page = chats[start : start + limit]
        return {
            "group_chat_list": [{"chat_id": c, "status": corp.groups[c]["status"]} for c in page],
            "next_cursor": str(start + limit) if start + limit < len(chats) else "",
        }

    def api_externalcontact__groupchat__get(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        group = corp.groups.get(p.get("chat_id", ""))
        if group is None:
            raise ApiError(40050, "chat not found")
        return {"group_chat": json.loads(json.dumps({k: v for k, v in group.items() if k != "status"}))}

    # welcome
    def api_externalcontact__send_welcome_msg(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        code = corp.welcome_codes.get(p.get("welcome_code", ""))
        if code is None or code["expires"] < self.now():
            raise ApiError(40058, "invalid welcome_code (unknown or older than 20 s)")
        if code["used"]:
            raise ApiError(41051, "externaluser has started chatting")
        if not p.get("text") and not p.get("attachments"):
            raise ApiError(40058, "text or attachments required")
        if len(p.get("attachments") or []) > 9:
            raise ApiError(40058, "at most 9 attachments")
        code["used"] = True
        corp.welcomes.append(
            {
                "external_userid": code["external_userid"],
                "userid": code["userid"],
                "text": (p.get("text") or {}).get("content", ""),
                "attachments": p.get("attachments") or [],
                "at": self.now(),
            }
        )
        return {}

    # group sends
    def api_externalcontact__add_msg_template(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        chat_type = p.get("chat_type", "single")
        sender = p.get("sender", "")
        text = p.get("text")
        attachments = list(p.get("attachments") or [])
        if text and len(str(text.get("content", "")).encode()) > 4000:
            raise ApiError(40058, "text longer than 4000 bytes")
        if len(attachments) > 9:
            raise ApiError(40058, "at most 9 attachments")
        if not text and not attachments:
            raise ApiError(40058, "text or attachments required")
        msgid = self._id("msg")
        msg = GroupSend(
            msgid=msgid,
            chat_type=chat_type,
            creator=sender,
            create_time=int(self.now()),
            text=text,
            attachments=attachments,
        )
        fail_list: list[str] = []
        if chat_type == "single":
            ids = list(p.get("external_userid") or [])
            if len(ids) > 10000:
                raise ApiError(40058, "external_userid over 10000")
            if not ids and not sender:
                raise ApiError(40058, "external_userid and sender both empty")
            if not ids:
                ids = sorted(e for e, c in corp.customers.items() if sender in c.follows)
            for ext in ids:
                contact = corp.customers.get(ext)
                if contact is None or (sender and sender not in contact.follows):
                    fail_list.append(ext)
                    continue
                owner = sender or sorted(contact.follows)[0]
                msg.tasks.setdefault(owner, {"userid": owner, "status": 0, "send_time": 0, "recipients": {}})
                msg.tasks[owner]["recipients"][ext] = {"status": 0, "send_time": 0}
        elif chat_type == "group":
            if not sender:
                raise ApiError(40058, "sender required for group send")
            chats = list(p.get("chat_id_list") or [])
            if len(chats) > 2000:
                raise ApiError(40058, "chat_id_list over 2000")
            if not chats:
                chats = sorted(c for c, g in corp.groups.items() if g["owner"] == sender)
            task = {"userid": sender, "status": 0, "send_time": 0, "recipients": {}}
            for chat in chats:
                if chat not in corp.groups or corp.groups[chat]["owner"] != sender:
                    fail_list.append(chat)
                else:
                    task["recipients"][chat] = {"status": 0, "send_time": 0}
            msg.tasks[sender] = task
        else:
            raise ApiError(40058, "chat_type must be single or group")
        corp.group_sends[msgid] = msg
        return {"msgid": msgid, "fail_list": fail_list}

    def api_externalcontact__get_groupmsg_list_v2(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        start, end = int(p.get("start_time", 0)), int(p.get("end_time", 0))
        if end - start > 31 * 86400 or end < start:
            raise ApiError(40058, "time range over one month")
        limit = min(int(p.get("limit") or 50), 100)
        rows = [
            m
            for m in corp.group_sends.values()
            if m.chat_type == p.get("chat_type", "single")
            and start <= m.create_time <= end
            and (not p.get("creator") or m.creator == p["creator"])
        ]
        offset = int(p.get("cursor") or 0)
        page = rows[offset : offset + limit]
        return {
            "group_msg_list": [
                {
                    "msgid": m.msgid,
                    "creator": m.creator,
                    "create_time": str(m.create_time),
                    "create_type": m.create_type,
                    "text": m.text,
                    "attachments": m.attachments,
                }
                for m in page
            ],
            "next_cursor": str(offset + limit) if offset + limit < len(rows) else "",
        }

    def _msg(self, corp: Corp, p: dict[str, Any]) -> GroupSend:
        msg = corp.group_sends.get(p.get("msgid", ""))
        if msg is None:
            raise ApiError(41065, "invalid msgid")
        return msg

    def api_externalcontact__get_groupmsg_task(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        msg = self._msg(corp, p)
        rows = [{"userid": t["userid"], "status": t["status"], "send_time": t["send_time"]} for t in msg.tasks.values()]
        limit = min(int(p.get("limit") or 500), 1000)
        offset = int(p.get("cursor") or 0)
        return {
            "task_list": rows[offset : offset + limit],
            "next_cursor": str(offset + limit) if offset + limit < len(rows) else "",
        }

    def api_externalcontact__get_groupmsg_send_result(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        msg = self._msg(corp, p)
        task = msg.tasks.get(p.get("userid", ""))
        rows = []
        if task:
            key = "external_userid" if msg.chat_type == "single" else "chat_id"
            for rid, row in task["recipients"].items():
                if msg.chat_type == "group" and row["status"] != 1:
                    continue  # group sends list only what was sent
                rows.append(
                    {key: rid, "userid": task["userid"], "status": row["status"], "send_time": row["send_time"]}
                )
        limit = min(int(p.get("limit") or 500), 1000)
        offset = int(p.get("cursor") or 0)
        return {
            "send_list": rows[offset : offset + limit],
            "next_cursor": str(offset + limit) if offset + limit < len(rows) else "",
        }

    def api_externalcontact__remind_groupmsg_send(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        msg = self._msg(corp, p)
        now = self.now()
        msg.reminds = [t for t in msg.reminds if now - t < 86400]
        if len(msg.reminds) >= 3:
            raise ApiError(41063, "remind at most 3 times in 24 hours")
        msg.reminds.append(now)
        return {}

    def api_externalcontact__cancel_groupmsg_send(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        self._msg(corp, p).cancelled = True
        return {}

    # moments
    def api_externalcontact__add_moment_task(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        text = (p.get("text") or {}).get("content", "")
        if len(text) > 2000:
            raise ApiError(40058, "text longer than 2000 characters")
        attachments = p.get("attachments") or []
        if len(attachments) > 9:
            raise ApiError(40058, "at most 9 attachments")
        if not text and not attachments:
            raise ApiError(40058, "text or attachments required")
        senders = list(((p.get("visible_range") or {}).get("sender_list") or {}).get("user_list") or [])
        jobid = self._id("job")
        corp.moments[jobid] = {
            "jobid": jobid,
            "senders": senders,
            "polls": 0,
            "moment_id": self._id("mom"),
            "text": text,
            "attachments": attachments,
            "create_time": int(self.now()),
        }
        return {"jobid": jobid}

    def api_externalcontact__get_moment_task_result(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        job = corp.moments.get(p.get("jobid", ""))
        if job is None:
            raise ApiError(40058, "invalid jobid")
        job["polls"] += 1
        if job["polls"] <= self.moment_polls:
            return {"status": 2, "type": "add_moment_task", "result": {}}
        invalid = [u for u in job["senders"] if u not in corp.members]
        return {
            "status": 3,
            "type": "add_moment_task",
            "result": {
                "errcode": 0,
                "errmsg": "ok",
                "moment_id": job["moment_id"],
                "invalid_sender_list": {"user_list": invalid},
                "invalid_external_contact_list": {},
            },
        }

    def api_externalcontact__get_moment_customer_list(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        job = next((j for j in corp.moments.values() if j["moment_id"] == p.get("moment_id")), None)
        if job is None:
            raise ApiError(40058, "invalid moment_id")
        userid = p.get("userid", "")
        rows = [
            {"userid": userid, "external_userid": e} for e, c in sorted(corp.customers.items()) if userid in c.follows
        ]
        return {"customer_list": rows, "next_cursor": ""}

    # transfers
    def _transfer(self, corp: Corp, p: dict[str, Any], *, resigned: bool) -> dict[str, Any]:
        ids = list(p.get("external_userid") or [])
        if not ids or len(ids) > 100:
            raise ApiError(40058, "external_userid must have 1..100 customers")
        if len(p.get("transfer_success_msg") or "") > 200:
            raise ApiError(40058, "transfer_success_msg over 200 characters")
        old, new = p.get("handover_userid", ""), p.get("takeover_userid", "")
        if new not in corp.members:
            raise ApiError(60111, "takeover userid not found")
        if resigned and corp.members.get(old, {}).get("status") != 5:
            raise ApiError(40098, "handover member has not resigned")
        now = self.now()
        out = []
        for ext in ids:
            contact = corp.customers.get(ext)
            recent = [t for t in corp.transfer_counts[ext] if now - t < 90 * 86400]
            if contact is None or old not in contact.follows:
                out.append({"external_userid": ext, "errcode": 84061})
            elif len(recent) >= 2:
                out.append({"external_userid": ext, "errcode": 40129})
            else:
                corp.transfer_counts[ext] = [*recent, now]
                corp.transfers.append(
                    {
                        "external_userid": ext,
                        "handover_userid": old,
                        "takeover_userid": new,
                        "status": 2,
                        "takeover_time": 0,
                        "resigned": resigned,
                    }
                )
                out.append({"external_userid": ext, "errcode": 0})
        return {"customer": out}

    def api_externalcontact__transfer_customer(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return self._transfer(corp, p, resigned=False)

    def api_externalcontact__resigned__transfer_customer(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return self._transfer(corp, p, resigned=True)

    def _transfer_result(self, corp: Corp, p: dict[str, Any], *, resigned: bool) -> dict[str, Any]:
        rows = [
            {"external_userid": t["external_userid"], "status": t["status"], "takeover_time": t["takeover_time"]}
            for t in corp.transfers
            if t["handover_userid"] == p.get("handover_userid")
            and t["takeover_userid"] == p.get("takeover_userid")
            and t["resigned"] == resigned
        ]
        return {"customer": rows, "next_cursor": ""}

    def api_externalcontact__transfer_result(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return self._transfer_result(corp, p, resigned=False)

    def api_externalcontact__resigned__transfer_result(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return self._transfer_result(corp, p, resigned=True)

    def api_externalcontact__get_unassigned_list(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        resigned = {u for u, m in corp.members.items() if m["status"] == 5}
        info = [
            {"handover_userid": u, "external_userid": e, "dimission_time": int(self.now())}
            for e, c in sorted(corp.customers.items())
            for u in c.follows
            if u in resigned
        ]
        return {"info": info, "is_last": True, "next_cursor": ""}

    # statistics
    def api_externalcontact__get_user_behavior_data(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        start, end = int(p.get("start_time", 0)), int(p.get("end_time", 0))
        if end - start > 30 * 86400 or end < start:
            raise ApiError(40058, "range over 30 days")
        users = list(p.get("userid") or [])
        rows = []
        day = start - start % 86400
        while day <= end:
            for u in users:
                seed = int(hashlib.sha256(f"{u}:{day}".encode()).hexdigest()[:8], 16)
                rows.append(
                    {
                        "stat_time": day,
                        "userid": u,
                        "chat_cnt": seed % 40,
                        "message_cnt": seed % 200,
                        "reply_percentage": float(60 + seed % 40),
                        "avg_reply_time": seed % 30,
                        "negative_feedback_cnt": seed % 3,
                        "new_apply_cnt": seed % 10,
                        "new_contact_cnt": seed % 8,
                    }
                )
            day += 86400
        return {"behavior_data": rows}
