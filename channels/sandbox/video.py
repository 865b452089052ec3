"""Local fakes of WeChat shop (微信小店) and of 视频号 live-room lead forms (docs/platforms.md#sandbox-video-accounts).

* :class:`WeChatShopFake` — WSGI app: ``GET /cgi-bin/token``; ``POST /channels/leads/
  get_leads_component_id`` and ``get_leads_info_by_component_id`` with ``last_buffer`` +
  ``continue_flag`` paging (answers as ``leads_data[{title, value}]``); ``POST /channels/ec/order/get``.
  Auth errors as WeChat gives them (40001 bad secret, 40014 bad token, 42001 expired).
* :class:`ShopPushEmitter` — posts order events (ids only) encrypted and signed with the WeChat
  message-push scheme, expects ``success``, and retries on the documented schedule
  (0s, 0s, 10s, 1m, 5m, 30m, 60m, 60m, 60m — max 10 pushes), compressed by ``time_scale`` in tests.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import requests

from channels.sandbox.douyin import json_response
from channels.video.crypto import ShopCrypto

RETRY_SCHEDULE = (0, 0, 10, 60, 300, 1800, 3600, 3600, 3600)
DEMO_APPID = "wx5hopdemo000001"
DEMO_SECRET = "shop-demo-secret"  # noqa: S105 — the sandbox's well-known demo secret


@dataclass
class WeChatShopFake:
    appid: str = "wx5hopsandbox0001"
    secret: str = "shop-sandbox-secret"  # noqa: S105 — the fake's well-known test secret
    page_size: int = 2
    tokens: dict[str, float] = field(default_factory=dict)  # token → expiry (epoch s)
    components: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    clock: Callable[[], float] = time.time

    @classmethod
    def for_demo(cls) -> WeChatShopFake:
        fake = cls(appid=DEMO_APPID, secret=DEMO_SECRET, page_size=20)
        for i in range(6):
            fake.add_live_lead(name=f"直播观众{i}", phone=f"1860000{i:04d}", extra={"意向门店": "上海静安嘉里店"})
        return fake

    # ---- test helpers -------------------------------------------------------------------------
    def add_live_lead(
        self,
        *,
        component_id: str = "lc_sandbox_001",
        name: str = "李先生",
        phone: str = "13900139000",
        live_start_time: int = 1763859600,
        extra: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        answers = [{"title": "姓名", "value": name}, {"title": "手机号", "value": phone}]
        answers += [{"title": k, "value": v} for k, v in (extra or {}).items()]
        row = {
            "anchor_nickname": "悦享生活直播间",
            "live_start_time": live_start_time,
            "live_description": "周末到店福利专场",
            "close_flag": 0,
            "leads_data": answers,
            "_created": self.clock(),
        }
        self.components.setdefault(component_id, []).append(row)
        return row

    def add_order(
        self, *, openid: str = "o_sandbox_buyer", unionid: str = "", amount_fen: int = 12900, status: int = 20
    ) -> dict[str, Any]:
        order_id = f"37{int(self.clock() * 1000)}{len(self.orders):04d}"
        now = int(self.clock())
        self.orders[order_id] = {
            "order_id": order_id,
            "status": status,
            "create_time": now - 60,
            "update_time": now,
            "openid": openid,
            "unionid": unionid,
            "order_detail": {
                "product_infos": [
                    {
                        "product_id": "10000001",
                        "sku_id": "20000001",
                        "sku_cnt": 1,
                        "sale_price": amount_fen,
                        "title": "悦享生活 香氛礼盒",
                    }
                ],
                "price_info": {"product_price": amount_fen, "order_price": amount_fen, "freight": 0},
                "pay_info": {"pay_time": now - 30, "payment_method": 1},
            },
        }
        return self.orders[order_id]

    def expire_tokens(self) -> None:
        self.tokens = dict.fromkeys(self.tokens, 0.0)

    # ---- WSGI ---------------------------------------------------------------------------------
    def _auth(self, query: dict[str, str]) -> dict[str, Any] | None:
        token = query.get("access_token", "")
        if not token:
            return {"errcode": 41001, "errmsg": "access_token missing"}
        if token not in self.tokens:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if self.tokens[token] <= self.clock():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "").rstrip("/")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        data = json.loads(raw or b"{}") if raw else {}
        self.calls.append({"path": path, "query": query, "data": data})
        if path == "/cgi-bin/token":
            if query.get("appid") != self.appid or query.get("secret") != self.secret:
                return json_response(start_response, {"errcode": 40001, "errmsg": "invalid credential"})
            token = secrets.token_hex(16)
            self.tokens[token] = self.clock() + 7200
            return json_response(start_response, {"access_token": token, "expires_in": 7200})
        error = self._auth(query)
        if error:
            return json_response(start_response, error)
        if path == "/channels/leads/get_leads_component_id":
            items = [{"leads_component_id": c} for c in sorted(self.components)]
            return json_response(
                start_response, {"errcode": 0, "item": items, "last_buffer": "", "continue_flag": False}
            )
        if path == "/channels/leads/get_leads_info_by_component_id":
            rows = [
                r
                for r in self.components.get(str(data.get("leads_component_id")), [])
                if int(data.get("start_time") or 0) <= int(r["_created"]) <= int(data.get("end_time") or 0)
            ]
            offset = int(data.get("last_buffer") or 0)
            chunk = rows[offset : offset + self.page_size]
            more = offset + self.page_size < len(rows)
            return json_response(
                start_response,
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "user_data": [{k: v for k, v in r.items() if not k.startswith("_")} for r in chunk],
                    "last_buffer": str(offset + len(chunk)),
                    "continue_flag": more,
                },
            )
        if path == "/channels/ec/order/get":
            order = self.orders.get(str(data.get("order_id")))
            if order is None:
                return json_response(start_response, {"errcode": 10020017, "errmsg": "order not exist"})
            return json_response(start_response, {"errcode": 0, "errmsg": "ok", "order": order})
        return json_response(start_response, {"errcode": 404, "errmsg": "unknown api"}, 404)


@dataclass
class PushResult:
    delivered: bool
    attempts: int
    last_status: int
    last_body: str


@dataclass
class ShopPushEmitter:
    """Plays 微信小店's push side against ``/hooks/wechat_shop/<account>/``."""

    url: str
    crypto: ShopCrypto
    time_scale: float = 0.0  # 0 = no waiting between retries (tests); 1 = the real schedule
    timeout: float = 5.0

    def order_event(self, *, order_id: str, event: str = "channels_ec_order_pay", openid: str = "") -> dict[str, Any]:
        return {
            "ToUserName": "gh_sandbox",
            "FromUserName": openid or "o_sandbox_buyer",
            "CreateTime": int(time.time()),
            "MsgType": "event",
            "Event": event,
            "order_info": {"order_id": order_id},
        }

    def push(self, event: dict[str, Any], *, forge: bool = False) -> PushResult:
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        body, msg_signature = self.crypto.encrypt(
            json.dumps(event, ensure_ascii=False), timestamp=timestamp, nonce=nonce
        )
        if forge:
            msg_signature = "0" * 40
        query = urlencode(
            {
                "signature": "",
                "timestamp": timestamp,
                "nonce": nonce,
                "encrypt_type": "aes",
                "msg_signature": msg_signature,
            }
        )
        attempts, status, text = 0, 0, ""
        for delay in (0, *RETRY_SCHEDULE):
            if attempts:
                time.sleep(delay * self.time_scale)
            attempts += 1
            try:
                response = requests.post(
                    f"{self.url}?{query}",
                    data=json.dumps(body).encode(),
                    headers={"Content-Type": "application/json"},
                    timeout=self.timeout,
                )
            except requests.Timeout:
                continue
            status, text = response.status_code, response.text
            if status == 200 and text.strip() == "success":
                return PushResult(True, attempts, status, text)
            if 400 <= status < 500:  # refused (bad signature): WeChat gives up as well
                break
        return PushResult(False, attempts, status, text)
