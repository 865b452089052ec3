"""What users do in WeCom, for tests and the demo (also reachable over the control API)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from channels.sandbox.wecom.core import FakeCore
from channels.sandbox.wecom.state import (
    CAP_WINDOWS,
    WELCOME_TTL,
    ApiError,
    Corp,
    ExternalContact,
    FollowInfo,
)

TAG_NAME_MAX = 30  # add_corp_tag / edit_corp_tag: "最长为30个字符" (docs/platforms.md#wecom-corp-tags)


def _check_tag_name(name: str) -> None:
    if not name.strip() or len(name) > TAG_NAME_MAX:
        raise ApiError(40072, f"invalid tag name length: 1..{TAG_NAME_MAX} characters")


class Scenarios(FakeCore):
    """Seed data and play users: scan a 活码, delete a friend, confirm a group send, set faults."""

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

    def oauth_code(self, userid: str, corp_id: str = "") -> str:
        """What WeCom's 网页授权 hands our callback when ``userid`` opens the page (one use, 5 min)."""
        return self.issue_oauth_code(self.corp(corp_id), userid)

    def resign_member(self, userid: str, corp_id: str = "") -> None:
        with self.lock:
            self.corp(corp_id).members[userid]["status"] = 5

    def add_tag_group(self, group_name: str, tags: list[str], corp_id: str = "") -> dict[str, Any]:
        """An admin adds tags in the WeCom console (names already there are kept, not refused)."""
        with self.lock:
            corp = self.corp(corp_id)
            group = next((g for g in corp.tag_groups.values() if g["group_name"] == group_name), None)
            held = {t["name"] for t in group["tag"]} if group else set()
            fresh = [t for t in dict.fromkeys(tags) if t not in held]
            if not fresh:
                return {"tag_group": {**{k: v for k, v in (group or {}).items() if k != "tag"}, "tag": []}}
            return self._add_corp_tag(corp, {"group_name": group_name, "tag": [{"name": t} for t in fresh]})

    def _add_corp_tag(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        """添加企业客户标签 (docs/platforms.md#wecom-corp-tags): a name of 1..30 characters (else 40072), no
        second tag of a name in one group (40071), no empty group (40058), ``group_id`` unknown → 40068.
        Names repeated within one request make one tag. Nothing is written when anything is refused."""
        items = [item for item in p.get("tag") or [] if isinstance(item, dict)]
        if not items:
            raise ApiError(40058, "tag list is empty: an empty tag group cannot be created")
        names = [str(item.get("name") or "") for item in items]
        for name in names:
            _check_tag_name(name)
        group_id = p.get("group_id")
        group: dict[str, Any] | None
        if group_id:
            group = corp.tag_groups.get(group_id)
            if group is None:
                raise ApiError(40068, "invalid tagid")
        else:
            name = str(p.get("group_name") or "未分组")
            _check_tag_name(name)
            group = next((g for g in corp.tag_groups.values() if g["group_name"] == name), None)
        held = {t["name"] for t in group["tag"]} if group else set()
        if any(n in held for n in names):
            raise ApiError(40071, "invalid tag name: the name already exists in the group")
        total = sum(len(g["tag"]) for g in corp.tag_groups.values())
        if total + len(set(names)) > 3000:
            raise ApiError(40071, "too many tags")  # the 3,000 cap; WeCom's code for it is not documented
        if group is None:
            group_id = self._id("et")
            group = {
                "group_id": group_id,
                "group_name": str(p.get("group_name") or "未分组"),
                "create_time": int(self.now()),
                "order": int(p.get("order") or 0),
                "deleted": False,
                "tag": [],
            }
            corp.tag_groups[group_id] = group
        new_tags: list[dict[str, Any]] = []
        for item in items:
            if any(t["name"] == item["name"] for t in new_tags):
                continue
            tag = {
                "id": self._id("et"),
                "name": item["name"],
                "create_time": int(self.now()),
                "order": int(item.get("order") or 0),
                "deleted": False,
            }
            group["tag"].append(tag)
            new_tags.append(tag)
        return {"tag_group": {**{k: v for k, v in group.items() if k != "tag"}, "tag": new_tags}}

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
        remark_mobiles: list[str] | None = None,
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
                remark_mobiles=list(remark_mobiles or []),
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
        remark_mobiles: list[str] | None = None,
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
            return self._befriend(
                corp,
                userid,
                state=the_state,
                external_userid=external_userid,
                name=name,
                unionid=unionid,
                add_way=add_way,
                wechat_channels=wechat_channels,
                half=half,
                remark_mobiles=remark_mobiles,
            )

    def _befriend(
        self,
        corp: Corp,
        userid: str,
        *,
        state: str,
        external_userid: str = "",
        name: str = "",
        unionid: str = "",
        add_way: int = 1,
        wechat_channels: dict[str, Any] | None = None,
        half: bool = False,
        remark_mobiles: list[str] | None = None,
    ) -> dict[str, Any]:
        """The friend request is accepted: the follow exists, a WelcomeCode (20 s) is issued and
        ``add_external_contact`` (or ``add_half_external_contact``) is emitted with State."""
        ext = self.seed_customer(
            userid,
            external_userid=external_userid,
            name=name,
            unionid=unionid,
            state=state,
            add_way=add_way,
            corp_id=corp.corp_id,
            wechat_channels=wechat_channels,
            remark_mobiles=remark_mobiles,
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
            State=state,
            WelcomeCode=code,
        )
        return {"external_userid": ext, "userid": userid, "welcome_code": code, "state": state}

    def edit_customer(
        self,
        external_userid: str,
        userid: str,
        remark: str | None = None,
        description: str | None = None,
        add_tags: list[str] | None = None,
        remove_tags: list[str] | None = None,
        corp_id: str = "",
        remark_mobiles: list[str] | None = None,
    ) -> None:
        """The member edits the customer in the WeCom client (remark, tags, remark phones) →
        edit_external_contact."""
        with self.lock:
            corp = self.corp(corp_id)
            follow = corp.customers[external_userid].follows[userid]
            if remark_mobiles is not None:
                follow.remark_mobiles = list(remark_mobiles)
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

    def confirm(self, userid: str, msgid: str, corp_id: str = "") -> dict[int, int]:
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
                            u: {
                                "state": f.state,
                                "tags": sorted(f.tags),
                                "remark": f.remark,
                                "description": f.description,
                                "remark_mobiles": list(f.remark_mobiles),
                            }
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
                "media": {k: dict(v) for k, v in corp.media.items()},
                "moments": {
                    j: {k: v for k, v in m.items() if k in ("senders", "text", "attachments", "tag_list", "moment_id")}
                    for j, m in corp.moments.items()
                },
                "group_welcome_templates": json.loads(json.dumps(corp.group_welcome_templates)),
                "group_sends": {
                    m: {"creator": g.creator, "chat_type": g.chat_type, "cancelled": g.cancelled, "tasks": g.tasks}
                    for m, g in corp.group_sends.items()
                },
                "deliveries": len(corp.deliveries),
                "outbox": len(corp.outbox),
            }
