"""WeCom HTTP client (HTTP only: no database writes, no domain logic).

* The access token is cached in Redis per app (corp id + agent/secret fingerprint) and fetched under a
  Redis lock, so N workers that find it missing call ``gettoken`` once (docs/platforms.md#wecom-credentials-and-token).
* Every call is paced by :mod:`channels.ratelimit` per (account, api): token buckets + a concurrency cap.
* 40014/42001 (token invalid/expired) invalidate the cached token (only if it is still the bad one)
  and retry once; 45009/45033 raise :class:`RateLimited`; -1 and HTTP/network failures raise
  :class:`TransientError`; configuration errors raise :class:`ConfigError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import redis
import requests

from channels import ratelimit
from channels.errors import ConfigError, PlatformError, RateLimited, TransientError

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
TIMEOUT = (3.05, 15)
TOKEN_INVALID = {40014, 42001}
CONFIG_ERRORS = {40001, 40013, 41001, 48002, 60020}

_CAS_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@cache
def _session() -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class WeComClient:
    corp_id: str
    secret: str
    account_id: int = 0
    agent_id: str = ""
    api_base: str = DEFAULT_API_BASE
    rate_limits: dict[str, Any] = field(default_factory=dict)
    max_wait: float = 5.0

    @classmethod
    def for_account(cls, account: Any, *, max_wait: float = 5.0) -> WeComClient:
        creds = account.credentials()
        return cls(
            corp_id=account.external_id,
            secret=creds.get("secret", ""),
            account_id=account.pk,
            agent_id=account.agent_id,
            api_base=(account.api_base or DEFAULT_API_BASE).rstrip("/"),
            rate_limits=account.rate_limits or {},
            max_wait=max_wait,
        )

    # -- token -----------------------------------------------------------------------------------
    @property
    def _token_key(self) -> str:
        # One cache entry per app: two apps (secrets) of one corp have independent tokens.
        fingerprint = hashlib.sha256(f"{self.corp_id}:{self.secret}".encode()).hexdigest()[:16]
        return f"scrm:wecom:token:{self.corp_id}:{self.agent_id}:{fingerprint}"

    def access_token(self) -> str:
        r = ratelimit.redis_client()
        token = r.get(self._token_key)
        if token:
            return _text(token)
        lock = r.lock(self._token_key + ":lock", timeout=20, blocking_timeout=20)
        if not lock.acquire():
            raise TransientError("等待 access_token 锁超时")
        try:
            token = r.get(self._token_key)  # another worker fetched it while we waited
            if token:
                return _text(token)
            data = self._request(
                "GET", "/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}, api="gettoken"
            )
            value = str(data["access_token"])
            ttl = max(60, int(data.get("expires_in", 7200)) - 300)  # refresh well before WeCom expires it
            r.set(self._token_key, value, ex=ttl)
            return value
        finally:
            with contextlib.suppress(redis.exceptions.LockError):  # it expired on its own
                lock.release()

    def invalidate_token(self, token: str) -> None:
        r = ratelimit.redis_client()
        r.eval(_CAS_DELETE, 1, self._token_key, token)

    # -- transport -------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        api: str,
    ) -> dict[str, Any]:
        limits = ratelimit.Limits.resolve(self.rate_limits, api)
        scope = f"wecom:{self.account_id or self.corp_id}:{api}"
        with ratelimit.paced(scope, limits, max_wait=self.max_wait):
            try:
                response = _session().request(
                    method, self.api_base + path, params=params, json=json, files=files, timeout=TIMEOUT
                )
            except requests.RequestException as exc:
                raise TransientError(f"{api}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise TransientError(f"{api}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise PlatformError(response.status_code, f"{api}: HTTP {response.status_code}")
        try:
            data: dict[str, Any] = response.json()
        except ValueError as exc:
            raise TransientError(f"{api}: 响应不是 JSON") from exc
        code = int(data.get("errcode", 0) or 0)
        if code == 0:
            return data
        message = str(data.get("errmsg", ""))
        if code == 45009:
            # Frequency blocks last until the end of the minute window (docs/platforms.md#wecom-rate-limits).
            raise RateLimited(code, message, retry_after=max(1.0, 60 - time.time() % 60))
        if code == 45033:
            raise RateLimited(code, message, retry_after=0.5 + random.random())  # noqa: S311 - jitter
        if code == -1:
            raise TransientError(f"{api}: 系统繁忙 (-1)")
        if code in CONFIG_ERRORS:
            raise ConfigError(code, message)
        raise PlatformError(code, message)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """Call ``/cgi-bin/<path>`` with the access token; refresh it once on 40014/42001."""
        api = path.strip("/")
        for attempt in (1, 2):
            token = self.access_token()
            query = {**(params or {}), "access_token": token}
            try:
                return self._request(method, f"/cgi-bin/{api}", params=query, json=json, files=files, api=api)
            except PlatformError as exc:
                if exc.code in TOKEN_INVALID and attempt == 1:
                    self.invalidate_token(token)
                    continue
                raise
        raise AssertionError("unreachable")

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.call("GET", path, params=params)

    # -- JS-SDK and web login (网页授权) ------------------------------------------------------------
    def jsapi_ticket(self, *, agent: bool) -> str:
        """The JS-SDK ticket: the corp's (``wx.config``) or the app's (``agentConfig``), cached in Redis.

        Both live 7200 s and their fetches are rate limited, so they are cached like the access token
        (a concurrent double fetch is harmless: every ticket WeCom issued stays valid until it expires).
        """
        key = f"{self._token_key}:ticket:{'agent' if agent else 'corp'}"
        r = ratelimit.redis_client()
        cached = r.get(key)
        if cached:
            return _text(cached)
        data = self.get("ticket/get", type="agent_config") if agent else self.get("get_jsapi_ticket")
        value = str(data["ticket"])
        r.set(key, value, ex=max(60, int(data.get("expires_in", 7200)) - 300))
        return value

    def user_from_code(self, code: str) -> dict[str, Any]:
        """``auth/getuserinfo``: a member's ``userid``, or ``openid`` for anyone else; 40029 = bad code."""
        return self.get("auth/getuserinfo", code=code)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", path, json=body)

    def paginate(self, path: str, body: dict[str, Any], list_key: str) -> Iterator[dict[str, Any]]:
        """POST with ``cursor``/``next_cursor`` until the last page."""
        cursor = ""
        while True:
            data = self.post(path, {**body, "cursor": cursor})
            yield from data.get(list_key) or []
            cursor = data.get("next_cursor") or ""
            if not cursor:
                return

    # -- members ---------------------------------------------------------------------------------
    def follow_user_list(self) -> list[str]:
        return list(self.get("externalcontact/get_follow_user_list").get("follow_user") or [])

    def user_get(self, userid: str) -> dict[str, Any]:
        return self.get("user/get", userid=userid)

    def unassigned_list(self) -> Iterator[dict[str, Any]]:
        """Customers of resigned members awaiting handover: ``{handover_userid, external_userid, …}``."""
        return self.paginate("externalcontact/get_unassigned_list", {"page_size": 1000}, "info")

    # -- customers -------------------------------------------------------------------------------
    def external_contact_get(self, external_userid: str) -> dict[str, Any]:
        """One customer with every follow user (paginated by ``cursor`` past 500 follow users)."""
        cursor = ""
        follow: list[dict[str, Any]] = []
        contact: dict[str, Any] = {}
        while True:
            data = self.get("externalcontact/get", external_userid=external_userid, cursor=cursor)
            contact = data.get("external_contact") or contact
            follow += data.get("follow_user") or []
            cursor = data.get("next_cursor") or ""
            if not cursor:
                return {"external_contact": contact, "follow_user": follow}

    def batch_get_by_user(self, userids: list[str], limit: int = 100) -> Iterator[dict[str, Any]]:
        for i in range(0, len(userids), 100):
            yield from self.paginate(
                "externalcontact/batch/get_by_user",
                {"userid_list": userids[i : i + 100], "limit": limit},
                "external_contact_list",
            )

    # -- tags ------------------------------------------------------------------------------------
    def corp_tag_list(self) -> list[dict[str, Any]]:
        return list(self.post("externalcontact/get_corp_tag_list", {}).get("tag_group") or [])

    def add_corp_tag(self, *, group_name: str, tags: list[str], group_id: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"tag": [{"name": n} for n in tags]}
        if group_id:
            body["group_id"] = group_id
        else:
            body["group_name"] = group_name
        return dict(self.post("externalcontact/add_corp_tag", body).get("tag_group") or {})

    def mark_tag(self, *, userid: str, external_userid: str, add: list[str], remove: list[str]) -> None:
        self.post(
            "externalcontact/mark_tag",
            {"userid": userid, "external_userid": external_userid, "add_tag": add, "remove_tag": remove},
        )

    # -- groups ----------------------------------------------------------------------------------
    def groupchat_ids(self) -> Iterator[str]:
        for item in self.paginate(
            "externalcontact/groupchat/list", {"status_filter": 0, "limit": 1000}, "group_chat_list"
        ):
            yield item["chat_id"]

    def groupchat_get(self, chat_id: str) -> dict[str, Any]:
        return dict(self.post("externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 1})["group_chat"])

    # -- media (docs/platforms.md#wecom-media) ------------------------------------------------------
    def media_upload(self, *, kind: str, filename: str, content: bytes, content_type: str) -> dict[str, Any]:
        """``media/upload`` (multipart part ``media``): ``{type, media_id, created_at}``, valid 3 days."""
        return self.call(
            "POST", "media/upload", params={"type": kind}, files={"media": (filename, content, content_type)}
        )

    def upload_attachment(
        self, *, kind: str, filename: str, content: bytes, content_type: str, attachment_type: int = 1
    ) -> dict[str, Any]:
        """``media/upload_attachment`` (``attachment_type`` 1 = 朋友圈): the media ids Moments need."""
        return self.call(
            "POST",
            "media/upload_attachment",
            params={"media_type": kind, "attachment_type": attachment_type},
            files={"media": (filename, content, content_type)},
        )

    # -- Moments interactions, 入群欢迎语 ------------------------------------------------------------
    def moment_comments(self, *, moment_id: str, userid: str) -> dict[str, list[dict[str, Any]]]:
        """``get_moment_comments``: who liked and who commented one member's post (no comment text)."""
        data = self.post("externalcontact/get_moment_comments", {"moment_id": moment_id, "userid": userid})
        return {"comment_list": list(data.get("comment_list") or []), "like_list": list(data.get("like_list") or [])}

    def group_welcome_add(self, body: dict[str, Any]) -> str:
        return str(self.post("externalcontact/group_welcome_template/add", body)["template_id"])

    def group_welcome_edit(self, template_id: str, body: dict[str, Any]) -> None:
        self.post("externalcontact/group_welcome_template/edit", {"template_id": template_id, **body})

    def group_welcome_get(self, template_id: str) -> dict[str, Any]:
        data = self.post("externalcontact/group_welcome_template/get", {"template_id": template_id})
        return {k: v for k, v in data.items() if k not in ("errcode", "errmsg")}

    def group_welcome_del(self, template_id: str) -> None:
        self.post("externalcontact/group_welcome_template/del", {"template_id": template_id})
