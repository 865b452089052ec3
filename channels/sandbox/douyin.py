"""Local fakes of Ocean Engine (巨量引擎) and of Douyin's webhook sender (docs/platforms.md#sandbox-douyin).

* :class:`OceanEngineFake` — a WSGI app serving ``GET /open_api/2/tools/clue/get/`` (ad leads by
  ``advertiser_ids``) and ``GET /open_api/2/tools/clue/life/get/`` (本地推 leads by
  ``local_account_ids``, at most 50): requires ``Access-Token``, pages (``page``, ``page_size`` ≤ 100,
  ``page_info``), sorts by create time desc, fills the ad leads' late fields (``intention_estimation``,
  ``app_name``, ``convert_status``) only after a configurable delay, lets a test insert leads "in
  the past" and take the plaintext phone away (团购 refund).
* :class:`DouyinWebhookEmitter` — posts signed pushes (``X-Douyin-Signature = sha1(secret+body)``,
  ``Msg-Id``) like Douyin does, retries on timeout (duplicates), runs the ``verify_webhook``
  challenge, and can forge a wrong signature.

Both run over real HTTP on loopback (:func:`serve`). Time comes from an injectable clock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import requests

from channels.douyin.crypto import sign
from channels.sandbox import server

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The demo's well-known sandbox credentials (never real ones); channels/demo.py uses the same.
DEMO_ACCESS_TOKEN = "oe-demo-access-token"  # noqa: S105
DEMO_ADVERTISER_ID = 1760000000001
DEMO_LOCAL_ACCOUNT_ID = 7000000000001  # the demo's 本地推 / 抖音来客 local account
DEMO_CLIENT_SECRET = "douyin-demo-client-secret"  # noqa: S105
DEMO_ADS: list[dict[str, Any]] = [
    {
        "ad_id": 7100000000011,
        "ad_name": "秋冬新品 到店试用",
        "promotion_id": 7300000000011,
        "campaign_name": "秋冬上新",
    },
    {
        "ad_id": 7100000000012,
        "ad_name": "9.9 元体验券 表单",
        "promotion_id": 7300000000012,
        "campaign_name": "低价引流",
    },
    {"ad_id": 7100000000013, "ad_name": "会员日 直播预约", "promotion_id": 7300000000013, "campaign_name": "会员日"},
]


# One loopback server for every fake (channels.sandbox.server); kept importable from here.
serve = server.serve
json_response = server.json_response
Served = server.Running


def _now_shanghai() -> datetime:
    return datetime.now(tz=SHANGHAI)


@dataclass
class FakeClue:
    data: dict[str, Any]
    created_at: datetime
    late: dict[str, Any]  # late fields and their values, revealed after ``late_delay``


@dataclass
class OceanEngineFake:
    """State + WSGI app of the Ocean Engine clue API."""

    access_token: str = "oe-sandbox-token"  # noqa: S105 — the fake's well-known test token
    late_delay: timedelta = timedelta(minutes=10)
    clock: Callable[[], datetime] = _now_shanghai
    max_page_size: int = 100
    throttle_code: int = 40100  # configurable: the real code is unverified (docs/platforms.md#ocean-engine-leads)
    throttled: int = 0  # answer this many next requests with ``throttle_code``
    ambient_minutes: int = 0  # demo: one synthetic lead per slot of this many minutes (0 = off)
    clues: dict[str, FakeClue] = field(default_factory=dict)
    life_clues: dict[str, FakeClue] = field(default_factory=dict)
    requests_seen: list[dict[str, Any]] = field(default_factory=list)
    _seq: int = 0

    @classmethod
    def for_demo(cls) -> OceanEngineFake:
        """The demo's Ocean Engine: a few leads of the last hours, and a new one every ~10 minutes."""
        fake = cls(access_token=DEMO_ACCESS_TOKEN, ambient_minutes=10)
        now = fake.clock()
        for i, ad in enumerate(DEMO_ADS * 2):
            fake.add_clue(
                advertiser_id=DEMO_ADVERTISER_ID,
                created_at=now - timedelta(minutes=25 * (i + 1)),
                telephone=f"1770000{i:04d}",
                name=f"抖音用户{i:02d}",
                **ad,
            )
        for i, (action, clue_type) in enumerate(
            [("GROUPON_ORDER", "GROUP_BUYING"), ("IM_MESSAGE", "CONSULT"), ("SHORT_VIDEO", "FORM")] * 2
        ):
            fake.add_life_clue(
                local_account_id=DEMO_LOCAL_ACCOUNT_ID,
                created_at=now - timedelta(minutes=35 * (i + 1)),
                telephone="" if action == "IM_MESSAGE" else f"1780000{i:04d}",
                name=f"来客用户{i:02d}",
                action_type=action,
                clue_type=clue_type,
                order_id=f"80000{i:04d}" if action == "GROUPON_ORDER" else "",
            )
        return fake

    def _ambient(self, start: datetime, end: datetime) -> None:
        """Materialise the deterministic "live" leads of each ``ambient_minutes`` slot in the window."""
        if not self.ambient_minutes:
            return
        step = self.ambient_minutes * 60
        first = max(int(start.timestamp()), int(self.clock().timestamp()) - 3 * 86400) // step
        last = min(int(end.timestamp()), int(self.clock().timestamp())) // step
        for slot in range(first, last + 1):
            clue_id = f"69{slot:012d}"
            if clue_id in self.clues:
                continue
            ad = DEMO_ADS[slot % len(DEMO_ADS)]
            self.add_clue(
                clue_id=clue_id,
                advertiser_id=DEMO_ADVERTISER_ID,
                created_at=datetime.fromtimestamp(slot * step, tz=SHANGHAI),
                telephone="" if slot % 4 == 0 else f"177{slot % 10**8:08d}",
                name=f"抖音用户{slot % 1000:03d}",
                **ad,
            )

    # ---- test helpers -------------------------------------------------------------------------
    def add_clue(
        self,
        *,
        advertiser_id: int = 1760000000001,
        name: str = "张女士",
        telephone: str = "13800138000",
        ad_id: int = 7100000000001,
        ad_name: str = "双11 到店体验 表单",
        creative_id: int = 7200000000001,
        promotion_id: int = 7300000000001,
        campaign_name: str = "双11 拉新",
        created_at: datetime | None = None,
        clue_id: str | None = None,
        remark_dict: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Insert a lead (``created_at`` may be in the past, to test window overlap)."""
        self._seq += 1
        created = created_at or self.clock()
        clue_id = clue_id or f"{7_000_000_000_000_000_000 + self._seq}"
        data = {
            "clue_id": clue_id,
            "advertiser_id": advertiser_id,
            "advertiser_name": "悦享生活旗舰号",
            "ad_id": ad_id,
            "ad_name": ad_name,
            "creative_id": creative_id,
            "promotion_id": promotion_id,
            "promotion_name": campaign_name,
            "site_id": 7400000000001,
            "site_name": "到店体验落地页",
            "external_url": "https://www.chengzijianzhan.com/tetris/page/7400000000001/",
            "clue_type": 0,
            "clue_source": 1,
            "module_id": 1,
            "module_name": "表单",
            "create_time": created.strftime("%Y-%m-%d"),
            "create_time_detail": created.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "name": name,
            "telephone": telephone,
            "gender": "女",
            "age": 30,
            "province_name": "上海",
            "city_name": "上海",
            "remark_dict": remark_dict or {"意向门店": "静安店"},
            "clue_state": 0,
            "allocation_status": "ALLOCATED",
            "req_id": uuid.uuid4().hex,
            "intention_estimation": "",
            "app_name": "",
            "convert_status": "",
            **extra,
        }
        late = {"intention_estimation": "高意向", "app_name": "抖音", "convert_status": "待跟进"}
        self.clues[clue_id] = FakeClue(data=data, created_at=created, late=late)
        return data

    def refund(self, clue_id: str) -> None:
        """After a 团购 refund the plaintext phone is gone."""
        self.clues[clue_id].data["telephone"] = ""

    def add_life_clue(
        self,
        *,
        local_account_id: int = 7000000000001,
        name: str = "李先生",
        telephone: str = "13900139000",
        action_type: str = "GROUPON_ORDER",
        clue_type: str = "GROUP_BUYING",
        flow_type: str = "AD",
        promotion_id: int = 7310000000001,
        promotion_name: str = "门店团购 引流",
        order_id: str = "",
        created_at: datetime | None = None,
        clue_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Insert a 本地推 lead (``created_at`` may be in the past)."""
        self._seq += 1
        created = created_at or self.clock()
        clue_id = clue_id or f"{7_500_000_000_000_000_000 + self._seq}"
        data = {
            "clue_id": clue_id,
            "local_account_id": local_account_id,
            "promotion_id": promotion_id,
            "promotion_name": promotion_name,
            "content_id": 7320000000001,
            "tool_id": 7330000000001,
            "create_time_detail": created.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "modify_time": created.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "name": name,
            "telephone": telephone,
            "gender": "男",
            "age": 35,
            "province_name": "上海",
            "city_name": "上海",
            "county_name": "静安区",
            "address": "",
            "remark": "",
            "remark_dict": {},
            "flow_type": flow_type,
            "action_type": action_type,
            "leads_page": "团购详情页",
            "clue_type": clue_type,
            "follow_life_account_id": local_account_id,
            "follow_life_account_name": "悦享生活 静安店",
            "order_id": order_id,
            "effective_state": "EFFECTIVE",
            "tags": [],
            "allocation_status": "ALLOCATED",
            "req_id": uuid.uuid4().hex,
            **extra,
        }
        self.life_clues[clue_id] = FakeClue(data=data, created_at=created, late={})
        return data

    def refund_life(self, clue_id: str) -> None:
        """After a 团购 order refund Douyin returns the phone masked, no longer in plain text."""
        phone = str(self.life_clues[clue_id].data["telephone"])
        self.life_clues[clue_id].data["telephone"] = phone[:3] + "****" + phone[-4:] if phone else ""

    def view(self, clue: FakeClue) -> dict[str, Any]:
        data = dict(clue.data)
        if self.clock() - clue.created_at >= self.late_delay:
            data.update(clue.late)
        return data

    # ---- WSGI ---------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        self.requests_seen.append({"path": path, "query": query})
        request_id = uuid.uuid4().hex
        life = path.rstrip("/") == "/open_api/2/tools/clue/life/get"
        if path.rstrip("/") != "/open_api/2/tools/clue/get" and not life:
            return json_response(start_response, {"code": 40404, "message": "not found", "request_id": request_id}, 404)
        if environ.get("HTTP_ACCESS_TOKEN") != self.access_token:
            return json_response(
                start_response, {"code": 40102, "message": "access token 无效", "request_id": request_id}
            )
        if self.throttled > 0:
            self.throttled -= 1
            return json_response(
                start_response, {"code": self.throttle_code, "message": "请求过于频繁", "request_id": request_id}
            )
        try:
            owners_key, owner_field = (
                ("local_account_ids", "local_account_id") if life else ("advertiser_ids", "advertiser_id")
            )
            owners = [int(a) for a in json.loads(query.get(owners_key, "[]"))]
            start = datetime.strptime(query["start_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
            end = datetime.strptime(query["end_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
            page = int(query.get("page", 1))
            page_size = int(query.get("page_size", 10))
        except (KeyError, ValueError, TypeError):
            return json_response(start_response, {"code": 40002, "message": "参数错误", "request_id": request_id})
        if page_size > self.max_page_size or page < 1:
            return json_response(
                start_response, {"code": 40002, "message": "page_size 最大 100", "request_id": request_id}
            )
        if life and not 1 <= len(owners) <= 50:
            return json_response(
                start_response,
                {"code": 40002, "message": "local_account_ids 需为 1 到 50 个", "request_id": request_id},
            )
        if not life:
            self._ambient(start, end)
        rows = sorted(
            (
                c
                for c in (self.life_clues if life else self.clues).values()
                if int(c.data[owner_field]) in set(owners) and start <= c.created_at.replace(microsecond=0) <= end
            ),
            key=lambda c: c.created_at,
            reverse=True,
        )
        total = len(rows)
        chunk = rows[(page - 1) * page_size : page * page_size]
        total_page = (total + page_size - 1) // page_size
        data = {
            "list": [self.view(c) for c in chunk],
            "page_info": {"page": page, "page_size": page_size, "total_number": total, "total_page": total_page},
        }
        return json_response(start_response, {"code": 0, "message": "OK", "request_id": request_id, "data": data})


@dataclass
class Delivery:
    status: int
    body: str
    attempts: int


@dataclass
class DouyinWebhookEmitter:
    """Plays Douyin's push side against our ``/hooks/douyin/<account>/`` endpoint."""

    url: str
    client_secret: str
    client_key: str = "awsandboxclientkey"
    timeout: float = 5.0  # Douyin's connection timeout
    retries: int = 3
    sent: list[dict[str, Any]] = field(default_factory=list)

    def post(self, body: dict[str, Any], *, msg_id: str | None = None, forge: bool = False) -> Delivery:
        """Send one push; on timeout or 5xx retry up to ``retries`` times with the same Msg-Id."""
        raw = json.dumps(body, ensure_ascii=False).encode()
        signature = sign("forged-" + self.client_secret if forge else self.client_secret, raw)
        headers = {
            "Content-Type": "application/json",
            "X-Douyin-Signature": signature,
            "Msg-Id": msg_id or uuid.uuid4().hex,
        }
        attempts = 0
        last: Delivery | None = None
        while attempts <= self.retries:
            attempts += 1
            try:
                response = requests.post(self.url, data=raw, headers=headers, timeout=self.timeout)
            except requests.Timeout:
                continue
            last = Delivery(status=response.status_code, body=response.text, attempts=attempts)
            if response.status_code < 500:
                break
        self.sent.append({"body": body, "headers": headers, "attempts": attempts})
        return last or Delivery(status=0, body="timeout", attempts=attempts)

    def verify(self, challenge: int = 12345) -> Delivery:
        return self.post({"event": "verify_webhook", "client_key": "", "content": {"challenge": challenge}})

    # ---- payload builders (shaped like the documented events) ---------------------------------
    def enter_direct_msg(
        self, *, open_id: str, nick_name: str = "抖音用户", ad_id: int = 7100000000001, adv_id: int = 1760000000001
    ) -> dict[str, Any]:
        return {
            "event": "im_enter_direct_msg",
            "from_user_id": open_id,
            "to_user_id": "enterprise-open-id",
            "client_key": self.client_key,
            "log_id": uuid.uuid4().hex,
            "content": {
                "conversation_short_id": str(uuid.uuid4().int)[:19],
                "conversation_type": 1,
                "create_time": 1763870400000,
                "source": "ad",
                "user_infos": [{"open_id": open_id, "nick_name": nick_name, "avatar": ""}],
                "ad_info": {
                    "adv_id": adv_id,
                    "ad_id": ad_id,
                    "creative_id": 7200000000001,
                    "promotion_id": 7300000000001,
                    "material_id": "v0200fg10000sandbox",
                },
            },
        }

    def receive_msg(self, *, open_id: str, text: str) -> dict[str, Any]:
        return {
            "event": "im_receive_msg",
            "from_user_id": open_id,
            "to_user_id": "enterprise-open-id",
            "client_key": self.client_key,
            "log_id": uuid.uuid4().hex,
            "content": {
                "conversation_short_id": "7300000000000000001",
                "server_message_id": str(uuid.uuid4().int)[:19],
                "conversation_type": 1,
                "message_type": "text",
                "create_time": 1763870460000,
                "text": text,
            },
        }

    def life_order_paid(self, *, order_id: str, pay_amount_fen: int, open_id: str = "") -> dict[str, Any]:
        content = {
            "action": "pay_success",
            "open_id": open_id,
            "order": {
                "order_id": order_id,
                "pay_amount": pay_amount_fen,
                "original_amount": pay_amount_fen,
                "account_id": "7000000000000000001",
                "create_time": 1763870400,
                "pay_time": 1763870460,
            },
        }
        return {
            "event": "life_trade_order_notify",
            "client_key": self.client_key,
            "content": json.dumps(content, ensure_ascii=False),  # a JSON *string* for 生活服务 events
            "log_id": uuid.uuid4().hex,
        }
