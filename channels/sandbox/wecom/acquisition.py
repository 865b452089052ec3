"""获客助手 in the WeCom fake: ``externalcontact/customer_acquisition/*`` and the link page itself.

A link's url is ``<base>/ca/<link_id>``; opening it (with ``?customer_channel=…``) plays a WeChat
user who taps it, chats and adds a member of the link's range: the follow carries the
customer_channel as ``state`` and ``add_external_contact`` is emitted with it, as WeCom does
(docs/platforms.md#wecom-acquisition-links). Each added customer uses one unit of the corp's quota.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from channels.sandbox.wecom.scenarios import Scenarios
from channels.sandbox.wecom.state import ApiError, Corp

CHANNEL_MAX_BYTES = 64  # customer_channel: longer values are cut (official path/97297)
RANGE_MAX_USERS = 100  # range.user_list: at most 100 members
LIST_MAX = 100  # list_link: limit ≤ 100
CUSTOMER_LIST_MAX = 1000  # customer: limit ≤ 1000
BALANCE_LOW = 20  # balance_low is sent when the balance falls under 20
INVALID = 40058  # WeCom's "invalid parameter"; also what the fake answers for an unknown link_id


def cut_channel(value: str) -> str:
    """``customer_channel`` cut to 64 bytes of UTF-8 (never in the middle of a character)."""
    return value.encode()[:CHANNEL_MAX_BYTES].decode(errors="ignore")


class Acquisition(Scenarios):
    """The 获客链接 API, the quota, and the link page that simulates a click → chat → add."""

    CONTROL = Scenarios.CONTROL | {"open_link", "set_acquisition_quota", "admin_deletes_link"}

    # -- API ----------------------------------------------------------------------------------------
    def _link(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        link = corp.acquisition_links.get(str(p.get("link_id") or ""))
        if link is None or link["deleted"]:
            raise ApiError(INVALID, "invalid link_id")
        return link

    def _range(self, corp: Corp, raw: Any) -> dict[str, list[Any]]:
        raw = raw if isinstance(raw, dict) else {}
        users = [str(u) for u in raw.get("user_list") or []]
        departments = [int(d) for d in raw.get("department_list") or []]
        if not users and not departments:
            raise ApiError(INVALID, "range.user_list and range.department_list can not both be empty")
        if len(users) > RANGE_MAX_USERS:
            raise ApiError(INVALID, f"range.user_list has more than {RANGE_MAX_USERS} members")
        for userid in users:
            member = corp.members.get(userid)
            if member is None or member["status"] != 1:
                raise ApiError(60111, f"userid {userid} not found")
        return {"user_list": users, "department_list": departments}

    def api_externalcontact__customer_acquisition__create_link(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        name = str(p.get("link_name") or "").strip()
        if not name:
            raise ApiError(INVALID, "link_name required")
        link_range = self._range(corp, p.get("range"))
        link_id = self._id("cawcde")
        link = {
            "link_id": link_id,
            "link_name": name,
            "url": f"{self.base_url}/ca/{link_id}",
            "create_time": int(self.now()),
            "skip_verify": bool(p.get("skip_verify", True)),
            "range": link_range,
            "deleted": False,
            "_rr": -1,
        }
        corp.acquisition_links[link_id] = link
        return {"link": {k: link[k] for k in ("link_id", "link_name", "url", "create_time")}}

    def api_externalcontact__customer_acquisition__get(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        link = self._link(corp, p)
        return {
            "link": {k: link[k] for k in ("link_id", "link_name", "url", "create_time", "skip_verify")},
            "range": dict(link["range"]),
        }

    def api_externalcontact__customer_acquisition__list_link(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        limit = min(int(p.get("limit") or LIST_MAX), LIST_MAX)
        ids = [k for k, v in corp.acquisition_links.items() if not v["deleted"]]
        start = int(p.get("cursor") or 0)
        chunk = ids[start : start + limit]
        more = start + limit < len(ids)
        return {"link_id_list": chunk, "next_cursor": str(start + limit) if more else ""}

    def api_externalcontact__customer_acquisition__update_link(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        link = self._link(corp, p)
        if "link_name" in p and not str(p.get("link_name") or "").strip():
            raise ApiError(INVALID, "link_name can not be empty")
        new_range = self._range(corp, p["range"]) if "range" in p else None  # range is replaced whole
        if "link_name" in p:
            link["link_name"] = str(p["link_name"]).strip()
        if new_range is not None:
            link["range"] = new_range
        if "skip_verify" in p:
            link["skip_verify"] = bool(p["skip_verify"])
        return {}

    def api_externalcontact__customer_acquisition__delete_link(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        self._link(corp, p)["deleted"] = True
        return {}

    def api_externalcontact__customer_acquisition__customer(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        link = self._link(corp, p)
        limit = min(int(p.get("limit") or CUSTOMER_LIST_MAX), CUSTOMER_LIST_MAX)
        rows = [
            {k: c[k] for k in ("external_userid", "userid", "chat_status", "state")}
            for c in corp.acquisition_customers
            if c["link_id"] == link["link_id"]
        ]
        start = int(p.get("cursor") or 0)
        more = start + limit < len(rows)
        return {"customer_list": rows[start : start + limit], "next_cursor": str(start + limit) if more else ""}

    def api_externalcontact__customer_acquisition_quota(self, corp: Corp, p: dict[str, Any]) -> dict[str, Any]:
        return dict(corp.acquisition_quota)

    # -- users --------------------------------------------------------------------------------------
    def resign_member(self, userid: str, corp_id: str = "") -> None:
        """A member leaves; a link whose whole range has left becomes unusable (``link_unavailable``)."""
        super().resign_member(userid, corp_id=corp_id)
        with self.lock:
            corp = self.corp(corp_id)
            for link in corp.acquisition_links.values():
                users = link["range"]["user_list"]
                if link["deleted"] or userid not in users or link["range"]["department_list"]:
                    continue
                if all(corp.members.get(u, {}).get("status") != 1 for u in users):
                    self._emit(corp, "customer_acquisition", "link_unavailable", LinkId=link["link_id"])

    def admin_deletes_link(self, link_id: str, corp_id: str = "") -> None:
        """An admin deletes the link in WeCom's console: it stops working and ``delete_link`` is sent."""
        with self.lock:
            corp = self.corp(corp_id)
            self._link(corp, {"link_id": link_id})["deleted"] = True
            self._emit(corp, "customer_acquisition", "delete_link", LinkId=link_id)

    def set_acquisition_quota(self, balance: int, total: int | None = None, corp_id: str = "") -> dict[str, int]:
        with self.lock:
            corp = self.corp(corp_id)
            corp.acquisition_quota["balance"] = balance
            if total is not None:
                corp.acquisition_quota["total"] = total
            return dict(corp.acquisition_quota)

    def open_link(
        self,
        link_id: str,
        customer_channel: str = "",
        name: str = "",
        external_userid: str = "",
        unionid: str = "",
        chat: bool = True,
        corp_id: str = "",
    ) -> dict[str, Any]:
        """A WeChat user taps the link, (optionally) sends a first message and adds the member WeCom
        picked from the range (in turn). Refused for an unknown or deleted link, a range with no
        active member, or a used-up quota — nothing is added then."""
        with self.lock:
            corp = self.corp(corp_id) if corp_id else self._corp_of_link(link_id)
            link = self._link(corp, {"link_id": link_id})
            users = [u for u in link["range"]["user_list"] if corp.members.get(u, {}).get("status") == 1]
            if not users:
                raise ApiError(INVALID, "the link's range has no active member")
            if corp.acquisition_quota["balance"] <= 0:
                raise ApiError(INVALID, "customer acquisition quota used up")
            link["_rr"] += 1
            userid = users[link["_rr"] % len(users)]
            state = cut_channel(customer_channel)
            added = self._befriend(corp, userid, state=state, external_userid=external_userid, name=name,
                                   unionid=unionid)  # fmt: skip
            corp.acquisition_customers.append(
                {"link_id": link_id, "external_userid": added["external_userid"], "userid": userid,
                 "chat_status": 1 if chat else 0, "state": state}
            )  # fmt: skip
            self._use_quota(corp)
            return {**added, "link_id": link_id}

    def _corp_of_link(self, link_id: str) -> Corp:
        for corp in self.corps.values():
            if link_id in corp.acquisition_links:
                return corp
        raise ApiError(INVALID, "invalid link_id")

    def _use_quota(self, corp: Corp) -> None:
        quota = corp.acquisition_quota
        before = quota["balance"]
        quota["balance"] = before - 1
        if quota["balance"] == 0:
            self._emit(corp, "customer_acquisition", "balance_exhausted")
        elif before >= BALANCE_LOW > quota["balance"]:
            self._emit(corp, "customer_acquisition", "balance_low")

    def _ca_page(self, path: str, query: dict[str, str], start_response: Callable[..., Any]) -> list[bytes]:
        """``GET /ca/<link_id>?customer_channel=…[&name=…]``: the click → chat → add, as an HTML page."""
        link_id = path.removeprefix("/ca/").strip("/")
        try:
            added = self.open_link(link_id, customer_channel=query.get("customer_channel", ""),
                                   name=query.get("name", ""))  # fmt: skip
        except ApiError as exc:
            body = (
                '<!doctype html><meta charset="utf-8"><title>获客链接（沙箱）</title>'
                f"<h1>无法添加</h1><p>{escape(exc.message)}（{exc.code}）</p>"
            ).encode()
            start_response("404 Not Found", [("Content-Type", "text/html; charset=utf-8")])
            return [body]
        member = self.corp(self._corp_of_link(link_id).corp_id).members[added["userid"]]
        body = (
            '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            "<title>获客链接（沙箱）</title><h1>已添加企业微信好友（沙箱）</h1>"
            f"<p>你已和 {escape(member['name'])} 开始聊天。</p>"
            f"<p>渠道：<code>{escape(added['state']) or '—'}</code></p>"
        ).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]
