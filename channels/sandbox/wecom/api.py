"""The ``/cgi-bin`` endpoints of the WeCom fake: one ``api_<path>`` method per WeCom API."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from channels.sandbox.wecom.acquisition import Acquisition
from channels.sandbox.wecom.media import MediaApi
from channels.sandbox.wecom.scenarios import _check_tag_name
from channels.sandbox.wecom.state import (
    ApiError,
    Corp,
    ExternalContact,
    FollowInfo,
    GroupSend,
)

# message/send's message types (WeCom serves them all; the sandbox serves text and textcard).
APP_MESSAGE_TYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "file",
        "textcard",
        "news",
        "mpnews",
        "markdown",
        "miniprogram_notice",
        "template_card",
    }
)


class WeComFake(MediaApi, Acquisition):
    """The WeCom fake: state, scenarios, media, 获客助手, and the 客户联系 API."""

    def api_externalcontact__get_follow_user_list(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return {"follow_user": [u for u, m in corp.members.items() if m["status"] == 1]}

    def api_user__get(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        member = corp.members.get(p.get("userid", ""))
        if member is None:
            raise ApiError(60111, "userid not found")
        return {"userid": member["userid"], "name": member["name"], "status": member["status"]}

    # JS-SDK tickets and web login (网页授权)
    def _ticket(self, corp: Corp, kind: str) -> dict[str, Any]:
        ticket = corp.tickets.setdefault(kind, f"sandbox-{kind}-ticket-{corp.corp_id}-{len(corp.tickets)}")
        return {"ticket": ticket, "expires_in": 7200}

    def api_get_jsapi_ticket(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return self._ticket(corp, "corp")

    def api_ticket__get(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("type") != "agent_config":
            raise ApiError(40058, "type must be agent_config")
        return self._ticket(corp, "agent")

    def api_auth__getuserinfo(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        """A code is good once, for 5 minutes; a member gets ``userid``, anyone else ``openid``."""
        entry = corp.oauth_codes.pop(str(p.get("code") or ""), None)
        if entry is None or self.now() - entry[1] > 300:
            raise ApiError(40029, "invalid code")
        who = entry[0]
        if who in corp.members and corp.members[who]["status"] == 1:
            return {"userid": who}
        return {"openid": f"o-{who}"}

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
            "remark_mobiles": list(follow.remark_mobiles),
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
        """修改客户备注信息: remark ≤ 20, description ≤ 150, remark_company ≤ 20 characters, at most
        ``remark_mobiles_max`` phones (docs/platforms.md#wecom-remarks); over a bound → 40058, nothing
        changed. ``remark_mobiles: [""]`` clears the phones; an absent key leaves a field as it is."""
        follow = self._follow(corp, p.get("userid", ""), p.get("external_userid", ""))
        for key, limit in (("remark", 20), ("description", 150), ("remark_company", 20)):
            if len(str(p.get(key) or "")) > limit:
                raise ApiError(40058, f"{key} exceed max length {limit}")
        mobiles = [str(m) for m in p.get("remark_mobiles") or []]
        if len(mobiles) > self.remark_mobiles_max:
            raise ApiError(40058, f"remark_mobiles exceed max count {self.remark_mobiles_max}")
        if any(m and not m.replace("+", "").replace("-", "").isdigit() for m in mobiles):
            raise ApiError(40058, "invalid remark_mobiles")
        if "remark" in p:
            follow.remark = p["remark"]
        if "description" in p:
            follow.description = p["description"]
        if "remark_mobiles" in p:
            follow.remark_mobiles = [m for m in mobiles if m]
        return {}

    def _follow(self, corp: Corp, userid: str, ext: str) -> FollowInfo:
        contact = corp.customers.get(ext)
        if contact is None or userid not in contact.follows:
            raise ApiError(84061, "not external contact")
        return contact.follows[userid]

    # tags
    def api_externalcontact__get_corp_tag_list(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        """Groups and their tags, larger ``order`` first (WeCom: "order值大的排序靠前")."""
        groups = sorted(corp.tag_groups.values(), key=lambda g: (-int(g["order"]), g["create_time"]))
        out = [{**g, "tag": sorted(g["tag"], key=lambda t: (-int(t["order"]), t["create_time"]))} for g in groups]
        return {"tag_group": json.loads(json.dumps(out))}

    def api_externalcontact__add_corp_tag(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return self._add_corp_tag(corp, p)

    def api_externalcontact__edit_corp_tag(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        """Rename or reorder a tag or a group: unknown id 40068, a name of 1..30 characters (40072), not the
        name of another group or of another tag of the same group (40071), order in [0, 2^32) (40058)."""
        target_id = p.get("id")
        if not target_id:
            raise ApiError(41017, "missing tag id")
        name = p.get("name")
        order = p.get("order")
        if order is not None and not (isinstance(order, int) and 0 <= order < 2**32):
            raise ApiError(40058, "order must be in [0, 2^32)")
        for group in corp.tag_groups.values():
            if group["group_id"] == target_id:
                if name is not None:
                    _check_tag_name(str(name))
                    if any(g["group_name"] == name and g is not group for g in corp.tag_groups.values()):
                        raise ApiError(40071, "invalid tag name: another tag group has this name")
                    group["group_name"] = name
                if order is not None:
                    group["order"] = order
                return {}
            for tag in group["tag"]:
                if tag["id"] == target_id:
                    if name is not None:
                        _check_tag_name(str(name))
                        if any(t["name"] == name and t is not tag for t in group["tag"]):
                            raise ApiError(40071, "invalid tag name: the name already exists in the group")
                        tag["name"] = name
                    if order is not None:
                        tag["order"] = order
                    return {}
        raise ApiError(40068, "invalid tagid")

    def api_externalcontact__del_corp_tag(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        group_ids, ids = list(p.get("group_id") or []), set(p.get("tag_id") or [])
        if not group_ids and not ids:
            raise ApiError(40058, "tag_id and group_id are both empty")
        known = {t["id"] for g in corp.tag_groups.values() for t in g["tag"]}
        if any(g not in corp.tag_groups for g in group_ids) or ids - known:
            raise ApiError(40068, "invalid tagid")  # like WeCom: an unknown (or another corp's) id
        for gid in group_ids:
            corp.tag_groups.pop(gid, None)
        for gid, group in list(corp.tag_groups.items()):
            group["tag"] = [t for t in group["tag"] if t["id"] not in ids]
            if not group["tag"]:
                corp.tag_groups.pop(gid)  # "如果一个标签组下所有的标签均被删除，则标签组会被自动删除"
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
        if "user" in p:
            users = list(p.get("user") or [])
            if not users and not p.get("party", way.get("party")):
                raise ApiError(40058, "user or party required")
            if way.get("type") == 1 and len(users) != 1:
                raise ApiError(40058, "type 1 needs exactly one user")
            for u in users:
                if u not in corp.members:
                    raise ApiError(60111, f"userid {u} not found")
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
    def _group_status(self, corp: Corp, group: dict[str, Any]) -> int:
        """0 正常, 1 跟进人离职 (owner resigned, not yet handed over), 3 离职继承完成."""
        if group["status"] == 0 and corp.members.get(group["owner"], {}).get("status") == 5:
            return 1
        return int(group["status"])

    def api_externalcontact__groupchat__list(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        limit = int(p.get("limit") or 100)
        if not 1 <= limit <= 1000:
            raise ApiError(40058, "limit must be 1..1000")
        owners = set((p.get("owner_filter") or {}).get("userid_list") or [])
        status_filter = int(p.get("status_filter") or 0)
        chats = sorted(
            c
            for c, g in corp.groups.items()
            if (not owners or g["owner"] in owners)
            and (status_filter == 0 or self._group_status(corp, g) == status_filter)
        )
        start = int(p.get("cursor") or 0)
        page = chats[start : start + limit]
        return {
            "group_chat_list": [{"chat_id": c, "status": self._group_status(corp, corp.groups[c])} for c in page],
            "next_cursor": str(start + limit) if start + limit < len(chats) else "",
        }

    def _groupchat_transfer(self, corp: Corp, p: dict[str, Any], *, resigned: bool) -> dict[str, Any]:
        """分配离职/在职成员的客户群 (docs/platforms.md#wecom-group-handover): 1..100 chats and a new owner
        (40058), the new owner a member (46004); per chat in ``failed_chat_list``: unknown 40050, owner
        not resigned 90500 (resigned call) or resigned 90502 (on-job call), already handed over 90508,
        same owner 90504. The owner changes at once. (WeCom also caps a new owner at 300 chats a day; its code for
        that is not documented, so the fake does not play it.)"""
        chat_ids = [str(c) for c in p.get("chat_id_list") or []]
        new_owner = str(p.get("new_owner") or "")
        if not chat_ids or len(chat_ids) > 100 or not new_owner:
            raise ApiError(40058, "chat_id_list must have 1..100 chats and new_owner is required")
        if new_owner not in corp.members or corp.members[new_owner].get("status") == 5:
            raise ApiError(46004, "new_owner not found")
        now = self.now()
        handed = corp.group_handovers.setdefault(new_owner, [])
        failed = []
        for chat_id in chat_ids:
            group = corp.groups.get(chat_id)
            code, message = 0, ""
            if group is None:
                code, message = 40050, "chat_id not found"
            elif resigned and group["status"] == 3:
                code, message = 90508, "group already inherited"
            elif group["owner"] == new_owner:
                code, message = 90504, "owner not changed"
            elif resigned and corp.members.get(group["owner"], {}).get("status") != 5:
                code, message = 90500, "group owner not resigned"
            elif not resigned and corp.members.get(group["owner"], {}).get("status") == 5:
                code, message = 90502, "group owner has resigned"
            if code or group is None:
                failed.append({"chat_id": chat_id, "errcode": code, "errmsg": message})
                continue
            group["owner"] = new_owner
            group["status"] = 3 if resigned else 0
            if not any(m["userid"] == new_owner for m in group["member_list"]):
                group["member_list"].append(
                    {"userid": new_owner, "type": 1, "join_time": int(now), "join_scene": 1, "name": new_owner}
                )
            group["member_version"] = str(int(group.get("member_version") or 0) + 1)
            handed.append(now)
        return {"failed_chat_list": failed}

    def api_externalcontact__groupchat__transfer(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return self._groupchat_transfer(corp, p, resigned=True)

    def api_externalcontact__groupchat__onjob_transfer(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return self._groupchat_transfer(corp, p, resigned=False)

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
        self.check_attachments(corp, list(p.get("attachments") or []), purpose="message")
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

    # app messages (应用消息) to members: message/send (docs/platforms.md#wecom-app-messages)
    def api_message__send(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        if str(p.get("agentid", "")) != str(corp.agent_id):
            raise ApiError(40056, "invalid agentid")
        msgtype = p.get("msgtype")
        if msgtype not in APP_MESSAGE_TYPES:
            raise ApiError(40008, "invalid message type")
        if msgtype not in ("text", "textcard"):
            raise ApiError(48002, f"msgtype {msgtype} not served by the sandbox")
        content = p.get(msgtype)
        if not isinstance(content, dict):
            raise ApiError(40058, f"{msgtype} required")
        if msgtype == "text":
            text = str(content.get("content") or "")
            if not text:
                raise ApiError(44004, "empty content")
            if len(text.encode()) > 2048:
                raise ApiError(45002, "content size out of limit")
        else:
            for key, limit in (("title", 128), ("description", 512), ("url", 2048)):
                value = str(content.get(key) or "")
                if not value:
                    raise ApiError(40058, f"textcard.{key} required")
                if len(value.encode()) > limit:
                    raise ApiError(45002, "content size out of limit")
            if len(str(content.get("btntxt") or "")) > 4:
                raise ApiError(45002, "btntxt size out of limit")
        users = [u for u in str(p.get("touser") or "").split("|") if u]
        if len(users) > 1000:
            raise ApiError(40058, "touser exceeds 1000")
        members = {uid.lower(): m for uid, m in corp.members.items()}
        valid = [u for u in users if members.get(u.lower(), {}).get("status") == 1]
        invalid = [u.lower() for u in users if members.get(u.lower(), {}).get("status") != 1]
        if not valid:
            raise ApiError(81013, "user & party & tag all invalid")
        now = self.now()
        fingerprint = json.dumps({k: p[k] for k in ("touser", "msgtype", msgtype, "agentid") if k in p}, sort_keys=True)
        interval = float(p.get("duplicate_check_interval") or 1800)
        duplicate = bool(p.get("enable_duplicate_check")) and any(
            m["fingerprint"] == fingerprint and now - m["at"] < interval for m in corp.app_messages
        )
        msgid = f"appmsg{len(corp.app_messages) + 1}"
        delivered: list[str] = []
        dropped: list[str] = []
        if not duplicate:
            for user in valid:
                # WeCom: at most 30 messages per member per minute from one app; the rest are dropped silently.
                recent = [t for t in corp.app_message_times.get(user, []) if now - t < 60]
                if len(recent) >= 30:
                    dropped.append(user)
                    continue
                corp.app_message_times.setdefault(user, []).append(now)
                delivered.append(user)
        corp.app_messages.append(
            {
                "msgid": msgid,
                "touser": delivered,
                "dropped": dropped,
                "duplicate": duplicate,
                "msgtype": msgtype,
                msgtype: dict(content),
                "agentid": p.get("agentid"),
                "at": now,
                "fingerprint": fingerprint,
            }
        )
        return {"invaliduser": "|".join(invalid), "invalidparty": "", "invalidtag": "", "msgid": msgid}

    # group sends
    def api_externalcontact__add_msg_template(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        chat_type = p.get("chat_type", "single")
        sender = p.get("sender", "")
        text = p.get("text")
        attachments = list(p.get("attachments") or [])
        if text and len(str(text.get("content", "")).encode()) > 4000:
            raise ApiError(40058, "text longer than 4000 bytes")
        if not text and not attachments:
            raise ApiError(40058, "text or attachments required")
        self.check_attachments(corp, attachments, purpose="message")
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
        if not text and not attachments:
            raise ApiError(40058, "text or attachments required")
        self.check_attachments(corp, list(attachments), purpose="moment")
        visible = p.get("visible_range") or {}
        senders = list((visible.get("sender_list") or {}).get("user_list") or [])
        # Customers who see the post: only those with one of these corp tags (none = every customer).
        tag_list = [str(t) for t in (visible.get("external_contact_list") or {}).get("tag_list") or []]
        known = {t["id"] for g in corp.tag_groups.values() for t in g["tag"]}
        if any(t not in known for t in tag_list):
            raise ApiError(40068, "invalid tagid")
        jobid = self._id("job")
        corp.moments[jobid] = {
            "jobid": jobid,
            "senders": senders,
            "polls": 0,
            "moment_id": self._id("mom"),
            "text": text,
            "attachments": attachments,
            "tag_list": tag_list,
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
        tags = set(job.get("tag_list") or [])
        rows = [
            {"userid": userid, "external_userid": e}
            for e, c in sorted(corp.customers.items())
            if userid in c.follows and (not tags or tags & c.follows[userid].tags)
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
