"""The WeCom fake's core: state, the callback emitter, the HTTP entry (docs/platforms.md#sandbox-wecom)."""

from __future__ import annotations

import email.policy
import json
import queue
import random
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs, urlencode
from xml.sax.saxutils import escape

import requests

from channels.sandbox.server import json_response
from channels.sandbox.wecom.state import (
    ApiError,
    Corp,
    _cdata,
)
from channels.wecom.crypto import WXBizMsgCrypt, signature


def multipart_media(content_type: str, raw: bytes) -> dict[str, Any] | None:
    """The part named ``media`` of a multipart/form-data body: ``{filename, content_type, data}``."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + raw
    )
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "media":
            payload = part.get_payload(decode=True)
            return {
                "filename": part.get_filename() or "",
                "content_type": part.get_content_type(),
                "data": payload if isinstance(payload, bytes) else b"",
            }
    return None


class FakeCore:
    """State, helpers, the callback emitter and the HTTP entry point (API handlers come from subclasses)."""

    """The WeCom fake: state, the ``/cgi-bin`` API, the control API and the callback emitter."""

    def __init__(self, *, base_url: str = "", token_ttl: int = 7200, group_capacity: int = 200) -> None:
        self.base_url = base_url
        self.lock = threading.RLock()
        self.corps: dict[str, Corp] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.token_ttl = token_ttl
        self.same_token_while_valid = True
        self.group_capacity = group_capacity
        # At most this many remark phones per follow (our bound; WeCom does not document a count).
        self.remark_mobiles_max = 5
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
        self.receive_cap: dict[str, Any] = {"mode": "daily", "limit": 1}
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
            if not corp_id:  # close()
                return
            try:
                self.deliver(self.corps[corp_id], xml)
            finally:
                with self.lock:
                    self._pending -= 1

    def close(self) -> None:
        """Stop the callback sender thread (callbacks emitted afterwards are held)."""
        self.hold_callbacks = True
        if self._sender is not None and self._sender.is_alive():
            self._sendq.put(("", ""))
            self._sender.join(timeout=5)

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
        content_type = environ.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/form-data"):
            body = {"media": multipart_media(content_type, raw)}
        else:
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return json_response(start_response, {"errcode": 47001, "errmsg": "data format error"})
        if path.rstrip("/") == "/connect/oauth2/authorize":
            return self._authorize_page(query, start_response)
        if path.startswith("/ca/"):
            return self._ca_page(path, query, start_response)
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
        "oauth_code",
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
        "expire_media",
        "moment_interact",
    }

    def _control(self, method: str, body: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if method not in self.CONTROL:
            return json_response(start_response, {"error": f"unknown control method {method}"}, 404)
        try:
            result = getattr(self, method)(**body)
        except (KeyError, TypeError, ApiError) as exc:
            return json_response(start_response, {"error": f"{type(exc).__name__}: {exc}"}, 400)
        return json_response(start_response, {"ok": True, "result": result})

    def _ca_page(self, path: str, query: dict[str, str], start_response: Callable[..., Any]) -> list[bytes]:
        """The 获客链接 page (channels/sandbox/wecom/acquisition.py)."""
        return json_response(start_response, {"errcode": 404, "errmsg": "not found"}, 404)

    def issue_oauth_code(self, corp: Corp, userid: str) -> str:
        with self.lock:
            code = secrets.token_hex(16)
            corp.oauth_codes[code] = (userid, self.now())
            return code

    def _authorize_page(self, query: dict[str, str], start_response: Callable[..., Any]) -> list[bytes]:
        """The sandbox's stand-in for WeCom's 网页授权: pick the member who is "opening" the page.

        Inside WeCom this step is silent (``snsapi_base``); here the demo chooses who to be.
        """
        corp = self.corps.get(query.get("appid", ""))
        redirect_uri = query.get("redirect_uri", "")
        if corp is None or not redirect_uri.startswith(("http://", "https://")):
            body = "<p>appid 或 redirect_uri 无效</p>".encode()
            start_response("400 Bad Request", [("Content-Type", "text/html; charset=utf-8")])
            return [body]
        state = query.get("state", "")
        links = []
        for userid, member in sorted(corp.members.items()):
            if member["status"] != 1:
                continue
            code = self.issue_oauth_code(corp, userid)
            sep = "&" if "?" in redirect_uri else "?"
            href = escape(f"{redirect_uri}{sep}{urlencode({'code': code, 'state': state})}", {'"': "&quot;"})
            links.append(f'<li><a href="{href}">{escape(member["name"])}（{escape(userid)}）</a></li>')
        page = (
            '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
            "<title>企业微信授权（沙箱）</title><h1>企业微信授权（沙箱）</h1>"
            "<p>真实环境中企业微信会静默完成这一步。请选择以哪位成员的身份打开：</p>"
            f"<ul>{''.join(links) or '<li>没有在职成员</li>'}</ul>"
        ).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))])
        return [page]

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
