"""WeCom JS-SDK signatures and web login (网页授权) for the staff sidebar.

* The sidebar page registers with ``ww.register`` (``@wecom/jssdk``), which asks us for two
  signatures of the page URL: ``wx.config`` signed with the corp's ``jsapi_ticket`` and
  ``agentConfig`` signed with the app's ticket (``getCurExternalContact`` needs the latter). The
  algorithm is WeChat's: ``sha1("jsapi_ticket=…&noncestr=…&timestamp=…&url=…")``, the URL without
  its ``#`` fragment.
* WeCom opens the sidebar through ``open.weixin.qq.com/connect/oauth2/authorize`` (``snsapi_base``,
  silent); the ``code`` it hands our callback becomes the member's ``userid``
  (``auth/getuserinfo``), and the member is signed in as their staff record.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from channels.models import ChannelAccount
from channels.wecom.client import WeComClient

AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
JS_APIS = ["getContext", "getCurExternalContact", "scanQRCode", "shareToExternalContact", "sendChatMessage"]


def signature(*, ticket: str, nonce: str, timestamp: int | str, url: str) -> str:
    plain = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url.split('#', 1)[0]}"
    return hashlib.sha1(plain.encode()).hexdigest()  # noqa: S324 - WeChat's JS-SDK signature is SHA-1


def _signed(ticket: str, url: str) -> dict[str, Any]:
    nonce, timestamp = secrets.token_hex(8), int(time.time())
    return {
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": signature(ticket=ticket, nonce=nonce, timestamp=timestamp, url=url),
    }


def sign_page(*, account: ChannelAccount, url: str) -> dict[str, Any]:
    """What ``ww.register`` needs for ``url``: corp and app ids and both signatures."""
    client = WeComClient.for_account(account, max_wait=5.0)
    return {
        "corpId": account.external_id,
        "agentId": account.agent_id,
        "jsApiList": JS_APIS,
        "config": _signed(client.jsapi_ticket(agent=False), url),
        "agentConfig": _signed(client.jsapi_ticket(agent=True), url),
    }


def authorize_url(*, account: ChannelAccount, redirect_uri: str, state: str) -> str:
    """WeCom's 网页授权 URL (the sandbox serves the same path when the account points at it)."""
    base = f"{account.api_base.rstrip('/')}/connect/oauth2/authorize" if account.api_base else AUTHORIZE_URL
    query = urlencode(
        {
            "appid": account.external_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": account.agent_id,
        }
    )
    return f"{base}?{query}#wechat_redirect"
