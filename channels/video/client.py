"""WeChat Channels (视频号) leads and WeChat shop (微信小店) order API — HTTP only.

See docs/platforms.md#video-accounts-and-wechat-shop.

Auth: ``GET /cgi-bin/token?grant_type=client_credential&appid&secret`` (the shop / 视频号助手 app);
the token is cached in Redis per appid until shortly before ``expires_in``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
from django.core.cache import cache

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
TOKEN_ERRORS = {40001, 40014, 42001}


class WeChatApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class WeChatTransient(WeChatApiError):
    pass


@dataclass
class ChannelsClient:
    appid: str
    secret: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 8.0

    @property
    def _token_key(self) -> str:
        return f"channels:wxshop:token:{self.base_url}:{self.appid}"

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = requests.request(method, self.base_url.rstrip("/") + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise WeChatTransient(-1, type(exc).__name__) from exc
        if response.status_code >= 500:
            raise WeChatTransient(response.status_code, "server error")
        body: dict[str, Any] = response.json()
        code = int(body.get("errcode") or 0)
        if code in (-1, 45009):
            raise WeChatTransient(code, str(body.get("errmsg")))
        if code:
            raise WeChatApiError(code, str(body.get("errmsg")))
        return body

    def access_token(self, *, refresh: bool = False) -> str:
        token = None if refresh else cache.get(self._token_key)
        if token:
            return str(token)
        body = self._request(
            "GET",
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )
        token = str(body["access_token"])
        cache.set(self._token_key, token, max(60, int(body.get("expires_in") or 7200) - 300))
        return token

    def post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        """POST with the cached token; an invalid/expired token is refreshed once."""
        for attempt in (0, 1):
            token = self.access_token(refresh=attempt == 1)
            try:
                return self._request("POST", path, params={"access_token": token}, json=data)
            except WeChatApiError as exc:
                if exc.code in TOKEN_ERRORS and attempt == 0:
                    continue
                raise
        raise AssertionError("unreachable")

    # ---- 视频号 留资组件 ------------------------------------------------------------------------
    def leads_component_ids(self) -> list[str]:
        ids: list[str] = []
        last_buffer = ""
        while True:
            body = self.post("/channels/leads/get_leads_component_id", {"last_buffer": last_buffer})
            ids.extend(str(i.get("leads_component_id")) for i in body.get("item") or [])
            last_buffer = str(body.get("last_buffer") or "")
            if not body.get("continue_flag"):
                return ids

    def leads_by_component(self, *, component_id: str, start_time: int, end_time: int) -> Iterator[dict[str, Any]]:
        """Every ``user_data`` row of the window, following ``last_buffer`` while ``continue_flag``."""
        last_buffer = ""
        while True:
            body = self.post(
                "/channels/leads/get_leads_info_by_component_id",
                {
                    "leads_component_id": component_id,
                    "start_time": start_time,
                    "end_time": end_time,
                    "last_buffer": last_buffer,
                    "version": 1,
                },
            )
            yield from body.get("user_data") or []
            last_buffer = str(body.get("last_buffer") or "")
            if not body.get("continue_flag"):
                return

    # ---- 微信小店 订单 --------------------------------------------------------------------------
    def order_get(self, *, order_id: str) -> dict[str, Any]:
        return dict(self.post("/channels/ec/order/get", {"order_id": order_id}).get("order") or {})
