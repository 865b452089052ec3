"""Local fake of the Meituan 到店综合 团购券 API (docs/platforms.md#sandbox-meituan).

Form-encoded POST to ``/ddzh/tuangou/receipt/prepare|consume|reverseconsume|querylistbydate``;
verifies ``sign = sha1(signKey + k1v1…)``, ``timestamp`` freshness and ``appAuthToken`` (one token =
one authorised shop). Voucher state machine: unused → consumed (idempotent on ``requestId``; a second,
different request → ``RECEIPT_USED``) → reversed; ``count`` ≤ 100; masked ``mobile``; expired and
wrong-shop vouchers are refused; :meth:`MeituanFake.consume_out_of_band` plays a clerk using 开店宝,
so ``querylistbydate`` returns redemptions we never made (for the polling reconciler).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from channels.meituan.client import sign_params
from channels.sandbox.douyin import json_response

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The demo's sandbox shops: one Meituan authorisation per demo store (channels/demo.py connects them).
DEMO_SHOPS = ["SH001", "SH002", "BJ001"]


def demo_token(shop: str) -> str:
    return f"mt-demo-token-{shop}"


def demo_voucher_code(shop: str, n: int) -> str:
    """Well-known demo codes: ``8`` + shop number (3 digits) + sequence (8 digits), e.g. 800100000001."""
    return f"8{DEMO_SHOPS.index(shop) + 1:03d}{n:08d}"


@dataclass
class FakeVoucher:
    code: str
    shop: str
    deal_id: str
    deal_title: str
    price: Decimal
    mobile: str  # masked, as Meituan returns it
    expires: date
    count: int = 1
    used: int = 0
    status: str = "unused"  # unused | consumed | reversed
    order_id: str = ""
    request_id: str = ""
    consumed_at: datetime | None = None
    shop_account: str = ""
    result: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MeituanFake:
    developer_id: str = "108000"
    sign_key: str = "mt-sandbox-sign-key"
    tokens: dict[str, str] = field(default_factory=dict)  # appAuthToken → shop id
    clock: Callable[[], float] = time.time
    max_skew: int = 600
    vouchers: dict[str, FakeVoucher] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0  # answer this many next calls with HTTP 503 (a transient outage)
    _seq: int = 0

    @classmethod
    def for_demo(cls) -> MeituanFake:
        """Demo shops with unused vouchers (codes from :func:`demo_voucher_code`), one expired, and a few
        redeemed in 开店宝 today so the history poll finds something."""
        fake = cls()
        deals = [("双人下午茶套餐", "88.00"), ("单人精致午餐", "58.00"), ("周末亲子套餐", "168.00")]
        for shop in DEMO_SHOPS:
            fake.authorize(shop=shop, token=demo_token(shop))
            for n in range(1, 41):
                title, price = deals[n % len(deals)]
                fake.add_voucher(
                    shop=shop,
                    code=demo_voucher_code(shop, n),
                    deal_title=title,
                    price=price,
                    count=2 if n % 5 == 0 else 1,
                    # One buyer per voucher: a masked number shared by vouchers of three shops made
                    # one demo buyer look like three customers (one per store).
                    mobile=f"1{n % 9 + 3}{n % 10}****{1000 + 100 * DEMO_SHOPS.index(shop) + n}",
                )
            fake.vouchers[demo_voucher_code(shop, 40)].expires = date(2024, 12, 31)
            for n in (37, 38, 39):
                fake.consume_out_of_band(demo_voucher_code(shop, n))
        return fake

    # ---- test helpers -------------------------------------------------------------------------
    def authorize(self, *, shop: str, token: str | None = None) -> str:
        token = token or f"mt-token-{shop}"
        self.tokens[token] = shop
        return token

    def add_voucher(
        self,
        *,
        shop: str,
        code: str | None = None,
        deal_title: str = "双人下午茶套餐",
        price: str = "88.00",
        count: int = 1,
        expires: date | None = None,
        mobile: str = "185****1212",
    ) -> FakeVoucher:
        self._seq += 1
        code = code or f"{int(self.clock()) % 10**6:06d}{self._seq:06d}"
        voucher = FakeVoucher(
            code=code,
            shop=shop,
            deal_id=f"{600000 + self._seq}",
            deal_title=deal_title,
            price=Decimal(price),
            mobile=mobile,
            expires=expires or date(2099, 12, 31),
            count=count,
        )
        self.vouchers[code] = voucher
        return voucher

    def consume_out_of_band(self, code: str, *, shop_account: str = "kaidianbao") -> FakeVoucher:
        """A clerk redeems in 美团开店宝 — nothing tells us; only the history shows it."""
        voucher = self.vouchers[code]
        self._consume(
            voucher, count=voucher.count - voucher.used, request_id=f"kdb-{uuid.uuid4().hex}", account=shop_account
        )
        return voucher

    def consume_count(self, code: str) -> int:
        return sum(1 for c in self.calls if c["path"].endswith("/consume") and c.get("ok") and c.get("code") == code)

    # ---- state machine ------------------------------------------------------------------------
    def _today(self) -> date:
        return datetime.fromtimestamp(self.clock(), tz=SHANGHAI).date()

    def _consume(self, voucher: FakeVoucher, *, count: int, request_id: str, account: str) -> None:
        self._seq += 1
        voucher.used += count
        voucher.status = "consumed"
        voucher.order_id = voucher.order_id or f"{3_000_000_000 + self._seq}"
        voucher.request_id = request_id
        voucher.consumed_at = datetime.fromtimestamp(self.clock(), tz=SHANGHAI)
        voucher.shop_account = account
        voucher.result = [
            {
                "orderId": voucher.order_id,
                "receiptCode": voucher.code,
                "dealId": voucher.deal_id,
                "dealgroupId": voucher.deal_id,
                "dealTitle": voucher.deal_title,
                "productType": 1,
                "dealPrice": str(voucher.price),
                "dealMarketPrice": str(voucher.price * 2),
                "mobile": voucher.mobile,
                "bizType": 0,
                "paymentDetail": [
                    {"paymentDetailId": uuid.uuid4().hex[:12], "amount": str(voucher.price), "amountType": 2}
                ],
                "receiptEndDate": voucher.expires.isoformat(),
            }
            for _ in range(count)
        ]

    def _error(self, code: str, msg: str) -> dict[str, Any]:
        return {"code": code, "msg": msg, "data": None, "traceId": uuid.uuid4().hex}

    def _ok(self, data: Any) -> dict[str, Any]:
        return {"code": "OP_SUCCESS", "msg": "成功", "data": data, "traceId": uuid.uuid4().hex}

    def handle(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        record: dict[str, Any] = {"path": path, "params": params}
        self.calls.append(record)
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, {"code": "SERVICE_UNAVAILABLE", "msg": "busy"}
        if params.get("sign") != sign_params(self.sign_key, params) or params.get("developerId") != self.developer_id:
            return 200, self._error("SIGN_INVALID", "签名验证失败")
        try:
            skew = abs(int(params.get("timestamp", "0")) - int(self.clock()))
        except ValueError:
            skew = self.max_skew + 1
        if skew > self.max_skew:
            return 200, self._error("TIMESTAMP_INVALID", "timestamp 已过期")
        shop = self.tokens.get(params.get("appAuthToken", ""))
        if shop is None:
            return 200, self._error("AUTH_FAILED", "appAuthToken 无效或已过期")
        try:
            biz = json.loads(params.get("biz") or "{}")
        except json.JSONDecodeError:
            return 200, self._error("PARAM_ERROR", "biz 不是合法 JSON")
        action = path.rstrip("/").rsplit("/", 1)[-1]
        record["code"] = biz.get("receiptCode")
        if action == "querylistbydate":
            return 200, self._history(shop, biz)
        voucher = self.vouchers.get(str(biz.get("receiptCode") or ""))
        if voucher is None:
            return 200, self._error("RECEIPT_NOT_FOUND", "券码不存在")
        if voucher.shop != shop:
            return 200, self._error("RECEIPT_WRONG_STORE", "该券不可在此门店使用")
        if action == "prepare":
            if voucher.status == "consumed" and voucher.used >= voucher.count:
                return 200, self._error("RECEIPT_USED", "券码已使用")
            if voucher.expires < self._today():
                return 200, self._error("RECEIPT_EXPIRED", "券码已过期")
            return 200, self._ok(
                {
                    "receiptCode": voucher.code,
                    "dealId": voucher.deal_id,
                    "dealTitle": voucher.deal_title,
                    "dealPrice": str(voucher.price),
                    "count": voucher.count - voucher.used,
                    "mobile": voucher.mobile,
                    "receiptEndDate": voucher.expires.isoformat(),
                }
            )
        if action == "consume":
            request_id = str(biz.get("requestId") or "")
            count = int(biz.get("count") or 1)
            if not request_id:
                return 200, self._error("PARAM_ERROR", "requestId 必填")
            if voucher.request_id == request_id:  # the same request again: same answer, nothing consumed
                return 200, self._ok({"result": voucher.result})
            if any(v.request_id == request_id and v.code != voucher.code for v in self.vouchers.values()):
                return 200, self._error("REQUEST_ID_CONFLICT", "requestId 已用于其他券码")
            if voucher.used >= voucher.count:
                return 200, self._error("RECEIPT_USED", "券码已使用")
            if voucher.expires < self._today():
                return 200, self._error("RECEIPT_EXPIRED", "券码已过期")
            if count < 1 or count > 100 or count > voucher.count - voucher.used:
                return 200, self._error("COUNT_EXCEEDED", "核销数量超过可用数量")
            self._consume(voucher, count=count, request_id=request_id, account=str(biz.get("appShopAccount") or ""))
            record["ok"] = True
            return 200, self._ok({"result": voucher.result})
        if action == "reverseconsume":
            if voucher.status != "consumed":
                return 200, self._error("RECEIPT_NOT_CONSUMED", "券码未核销，无法撤销")
            voucher.status, voucher.used, voucher.request_id = "reversed", 0, ""
            return 200, self._ok({"result": True})
        return 404, self._error("NOT_FOUND", "unknown api")

    def _history(self, shop: str, biz: dict[str, Any]) -> dict[str, Any]:
        day = str(biz.get("date") or "")
        offset, limit = int(biz.get("offset") or 0), min(int(biz.get("limit") or 100), 100)
        rows = sorted(
            (
                v
                for v in self.vouchers.values()
                if v.shop == shop
                and v.consumed_at
                and v.status == "consumed"
                and v.consumed_at.date().isoformat() == day
            ),
            key=lambda v: v.consumed_at or datetime.min.replace(tzinfo=SHANGHAI),
        )
        page = rows[offset : offset + limit]
        return self._ok(
            {
                "total": len(rows),
                "result": [
                    {
                        "orderId": v.order_id,
                        "receiptCode": v.code,
                        "dealId": v.deal_id,
                        "dealTitle": v.deal_title,
                        "dealPrice": str(v.price),
                        "count": v.used,
                        "mobile": v.mobile,
                        "consumeTime": v.consumed_at.strftime("%Y-%m-%d %H:%M:%S") if v.consumed_at else "",
                        "appShopAccount": v.shop_account,
                        "paymentDetail": [{"amount": str(v.price * v.used), "amountType": 2}],
                    }
                    for v in page
                ],
            }
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length).decode() if length else ""
        params = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        status, body = self.handle(environ.get("PATH_INFO", ""), params)
        return json_response(start_response, body, status)
