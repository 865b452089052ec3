"""Meituan open platform (到店综合, businessId 58) client — HTTP only (docs/platforms.md#meituan-signing-and-endpoints).

Form-encoded POST with system params ``developerId, businessId, timestamp, charset, version,
appAuthToken, biz (JSON), sign``; ``sign = sha1(signKey + k1v1k2v2…)`` over every param except
``sign``, sorted by key, lowercase hex. Envelope ``{code, msg, data, traceId}``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

DEFAULT_BASE_URL = "https://api-open-cater.meituan.com"
SUCCESS_CODES = {"OP_SUCCESS", "0", "200"}

# Error codes we turn into a message that tells store staff what to do. The fake uses the same codes;
# unknown codes fall back to the platform's own message.
ERROR_HINTS = {
    "RECEIPT_NOT_FOUND": _("券码不存在：请核对顾客出示的 12 位券码后重试"),
    "RECEIPT_USED": _("该券已被核销过：请勿重复核销，可在核销记录中查看"),
    "RECEIPT_EXPIRED": _("该券已过期：请让顾客在美团联系商家或退款"),
    "RECEIPT_WRONG_STORE": _("该券不属于本门店：请让顾客到购买时选择的门店核销"),
    "REQUEST_ID_CONFLICT": _("同一核销请求号对应了不同的券码：请刷新页面后重新核销"),
    "COUNT_EXCEEDED": _("核销数量超过可用张数：请减少数量"),
    "AUTH_FAILED": _("美团授权已失效：请店长在渠道设置中重新授权"),
    "SIGN_INVALID": _("签名错误：请检查美团渠道的 signKey 配置"),
}


class MeituanError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def hint(self) -> str:
        known = ERROR_HINTS.get(self.code)
        if known is not None:
            return str(known)
        return gettext("美团返回错误：%(message)s（%(code)s）") % {"message": self.message, "code": self.code}


class MeituanTransient(MeituanError):
    """Network error, timeout or 5xx: the call may or may not have happened; retry with the same requestId."""


def sign_params(sign_key: str, params: dict[str, Any]) -> str:
    payload = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] is not None)
    return hashlib.sha1((sign_key + payload).encode()).hexdigest()  # noqa: S324 — the platform's scheme


@dataclass
class MeituanClient:
    developer_id: str
    sign_key: str
    app_auth_token: str
    base_url: str = DEFAULT_BASE_URL
    business_id: int = 58
    timeout: float = 8.0
    clock: Callable[[], float] = time.time
    session: requests.Session | None = field(default=None, repr=False)

    def call(self, path: str, biz: dict[str, Any]) -> Any:
        params: dict[str, Any] = {
            "developerId": self.developer_id,
            "businessId": self.business_id,
            "timestamp": int(self.clock()),
            "charset": "UTF-8",
            "version": 2,
            "appAuthToken": self.app_auth_token,
            "biz": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = sign_params(self.sign_key, params)
        http = self.session or requests
        try:
            response = http.post(self.base_url.rstrip("/") + path, data=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise MeituanTransient("NETWORK", type(exc).__name__) from exc
        if response.status_code >= 500:
            raise MeituanTransient(str(response.status_code), "美团服务暂时不可用")
        try:
            body = response.json()
        except ValueError as exc:
            raise MeituanTransient(str(response.status_code), "响应不是 JSON") from exc
        code = str(body.get("code"))
        if code not in SUCCESS_CODES:
            raise MeituanError(code, str(body.get("msg") or ""))
        return body.get("data")

    # ---- 到店综合 团购券 ----------------------------------------------------------------------
    def prepare(self, *, receipt_code: str) -> dict[str, Any]:
        """输码验券校验: what the voucher is and how many may be consumed."""
        return dict(self.call("/ddzh/tuangou/receipt/prepare", {"receiptCode": receipt_code}) or {})

    def consume(
        self, *, receipt_code: str, count: int, request_id: str, shop_account: str, shop_account_name: str
    ) -> list[dict[str, Any]]:
        """Consume ``count`` vouchers; Meituan dedupes on ``requestId`` so a retry never consumes twice."""
        data = self.call(
            "/ddzh/tuangou/receipt/consume",
            {
                "receiptCode": receipt_code,
                "count": count,
                "requestId": request_id,
                "appShopAccount": shop_account,
                "appShopAccountName": shop_account_name,
            },
        )
        return list((data or {}).get("result") or [])

    def query_list_by_date(self, *, date: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """验券记录 of one day (``yyyy-MM-dd``), including redemptions made in 开店宝."""
        return dict(
            self.call("/ddzh/tuangou/receipt/querylistbydate", {"date": date, "offset": offset, "limit": limit}) or {}
        )

    def consumed_on(self, *, date: str, limit: int = 100) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.query_list_by_date(date=date, offset=offset, limit=limit)
            batch = list(page.get("result") or [])
            rows.extend(batch)
            offset += len(batch)
            if not batch or offset >= int(page.get("total") or 0):
                return rows
