"""``/hooks/<platform>/<key>/``: the one inbound endpoint every platform posts to.

Order matters (docs/architecture.md#inbound-events): verify (403, nothing stored) → store raw in the inbox → answer. The
platform's own ``receive`` does the verification; processing happens later in Celery.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from channels.inbox import inbox_store
from channels.models import ChannelAccount
from channels.registry import WebhookRejected, plugin_for

log = logging.getLogger(__name__)

# Accounts change rarely and webhooks are hot: keep each looked-up account for a few seconds.
_ACCOUNT_TTL = 10.0
_accounts: dict[tuple[str, str], tuple[float, ChannelAccount | None]] = {}


def account_for_hook(platform: str, key: str) -> ChannelAccount | None:
    now = time.monotonic()
    cached = _accounts.get((platform, key))
    if cached and cached[0] > now:
        return cached[1]
    account = ChannelAccount.objects.filter(platform=platform, hook_key=key, is_active=True).first()
    if len(_accounts) > 10_000:
        _accounts.clear()
    _accounts[(platform, key)] = (now + _ACCOUNT_TTL, account)
    return account


def forget_account(account: ChannelAccount) -> None:
    _accounts.pop((account.platform, account.hook_key), None)


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
def webhook(request: HttpRequest, platform: str, key: str) -> HttpResponse:
    plugin = plugin_for(platform)
    if plugin is None or plugin.receive is None:
        return _text(f"不支持的平台：{platform}", 404)
    account = account_for_hook(platform, key)
    if account is None:
        return _text("回调地址无效或账号已停用：请在「渠道账号」页复制最新的回调地址", 404)
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > plugin.max_body_bytes:
        return _text(f"请求体过大（{length} 字节，上限 {plugin.max_body_bytes} 字节）", 413)
    try:
        received = plugin.receive(request, account)
    except WebhookRejected as exc:
        log.info("webhook %s/%s rejected: %s %s", platform, account.pk, exc.status, exc.message)
        return _text(exc.message, exc.status)
    except (ValueError, TypeError, LookupError, RecursionError) as exc:
        # A receiver's parse error it did not name itself: still the sender's fault, still nothing stored.
        log.warning("webhook %s/%s unparseable: %s", platform, account.pk, type(exc).__name__)
        return _text("请求内容格式错误", 400)
    if received.events:
        inbox_store(account=account, events=received.events)
    return received.response


@csrf_exempt
def bare_view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """The benchmark's baseline: the same server, no verification, no storage."""
    return HttpResponse("success", content_type="text/plain")
