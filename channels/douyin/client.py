"""Ocean Engine (巨量引擎) Marketing API client — HTTP only (docs/platforms.md#ocean-engine-leads).

``GET /open_api/2/tools/clue/get/`` (ad leads, by ``advertiser_ids``) and
``GET /open_api/2/tools/clue/life/get/`` (本地推 / 抖音来客 leads, by ``local_account_ids`` ≤ 50),
with header ``Access-Token``; envelope ``{code, message, request_id, data: {list, page_info}}``,
``code 0`` = success. Leads are sorted by create time desc.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://ad.oceanengine.com"
MAX_PAGE_SIZE = 100
MAX_LOCAL_ACCOUNTS = 50  # local_account_ids per clue/life/get call
MAX_PAGES = 500  # a runaway guard: 50,000 leads in one window means the window is too wide


class OceanEngineError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class OceanEngineTransient(OceanEngineError):
    """Timeouts, 5xx, throttling: worth retrying on the next tick."""


# Codes that mean "slow down / try later" (not verified against the live API; docs/platforms.md#ocean-engine-leads says
# to keep the throttle code configurable, so it is a set the caller may extend).
TRANSIENT_CODES = {40100, 40110, 50000, 51010}


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class OceanEngineClient:
    access_token: str
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 10.0
    session: requests.Session | None = None

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        http = self.session or requests
        try:
            response = http.get(
                self.base_url.rstrip("/") + path,
                params=params,
                headers={"Access-Token": self.access_token},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise OceanEngineTransient(-1, f"network error: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise OceanEngineTransient(response.status_code, "server error")
        try:
            body = response.json()
        except ValueError as exc:
            raise OceanEngineTransient(response.status_code, "response is not JSON") from exc
        code = int(body.get("code", -1))
        if code != 0:
            cls = OceanEngineTransient if code in TRANSIENT_CODES else OceanEngineError
            raise cls(code, str(body.get("message", "")))
        return body.get("data") or {}

    def clue_page(
        self, *, advertiser_ids: list[int], start: datetime, end: datetime, page: int = 1, page_size: int = 100
    ) -> dict[str, Any]:
        return self._get(
            "/open_api/2/tools/clue/get/",
            {
                "advertiser_ids": json.dumps(advertiser_ids),
                "start_time": _fmt(start),
                "end_time": _fmt(end),
                "page": page,
                "page_size": min(page_size, MAX_PAGE_SIZE),
            },
        )

    def clues(
        self, *, advertiser_ids: list[int], start: datetime, end: datetime, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every ad lead of the window, all pages."""
        yield from self._all_pages(
            lambda page: self.clue_page(
                advertiser_ids=advertiser_ids, start=start, end=end, page=page, page_size=page_size
            )
        )

    def life_clue_page(
        self, *, local_account_ids: list[int], start: datetime, end: datetime, page: int = 1, page_size: int = 100
    ) -> dict[str, Any]:
        if not 1 <= len(local_account_ids) <= MAX_LOCAL_ACCOUNTS:
            raise ValueError(f"local_account_ids: 1 to {MAX_LOCAL_ACCOUNTS} per call")
        return self._get(
            "/open_api/2/tools/clue/life/get/",
            {
                "local_account_ids": json.dumps(local_account_ids),
                "start_time": _fmt(start),
                "end_time": _fmt(end),
                "page": page,
                "page_size": min(page_size, MAX_PAGE_SIZE),
            },
        )

    def life_clues(
        self, *, local_account_ids: list[int], start: datetime, end: datetime, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every 本地推 lead of the window, all pages, 50 local accounts per call."""
        for i in range(0, len(local_account_ids), MAX_LOCAL_ACCOUNTS):
            chunk = local_account_ids[i : i + MAX_LOCAL_ACCOUNTS]

            def fetch(page: int, chunk: list[int] = chunk) -> dict[str, Any]:
                return self.life_clue_page(
                    local_account_ids=chunk, start=start, end=end, page=page, page_size=page_size
                )

            yield from self._all_pages(fetch)

    def _all_pages(self, fetch: Callable[[int], dict[str, Any]]) -> Iterator[dict[str, Any]]:
        page = 1
        while page <= MAX_PAGES:
            data = fetch(page)
            yield from data.get("list") or []
            info = data.get("page_info") or {}
            total_page = int(info.get("total_page") or 0)
            if page >= total_page or not data.get("list"):
                return
            page += 1
        logger.warning("ocean engine clue window exceeded %s pages; narrow the window", MAX_PAGES)
