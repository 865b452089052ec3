"""Shared helpers for the lead-source tests (Douyin, Meituan, Video/WeChat shop, forms)."""

from __future__ import annotations

from typing import Any

from channels.models import ChannelAccount


def make_account(
    org: Any,
    platform: str,
    *,
    credentials: dict[str, Any] | None = None,
    store: Any = None,
    external_id: str = "",
    api_base: str = "",
    settings: dict[str, Any] | None = None,
    name: str = "",
) -> ChannelAccount:
    account = ChannelAccount(
        organization=org,
        platform=platform,
        name=name or f"{platform} 测试账号",
        external_id=external_id,
        api_base=api_base,
        default_store=store,
        settings=settings or {},
    )
    account.set_credentials(credentials or {})
    account.save()
    return account
