"""Platform sandboxes for tests, served over real HTTP on loopback.

Use in a test module or conftest::

    from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

    def test_something(wecom_sandbox, world):
        account = wecom_sandbox.connect(world.org)           # a ChannelAccount pointing at the fake
        wecom_sandbox.add_member("zhangsan", "张三")
        ext = wecom_sandbox.seed_customer("zhangsan", name="李四")
        wecom_sandbox.set_limits("externalcontact/add_msg_template", per_minute=5, concurrency=2)
        ... call channels.outbound.broadcast_create(account_id=account.pk, ...) ...
        msgid = next(iter(wecom_sandbox.snapshot()["group_sends"]))
        wecom_sandbox.confirm("zhangsan", msgid)             # the member taps 发送
        wecom_sandbox.set_options(receive_cap={"mode": "daily", "limit": 1})

Every method of :class:`channels.sandbox.wecom.WeComFake` is reachable on the handle
(``scan``, ``customer_deletes``, ``create_group``, ``flush``, ``inject_error``, ``expire_tokens``…).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from channels.sandbox.server import Running, serve
from channels.sandbox.wecom import WeComFake

CORP_ID = "wwtestcorp0000001"
SECRET = "test-secret"
TOKEN = "testToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass
class WeComSandbox:
    fake: WeComFake
    running: Running
    corp_id: str = CORP_ID
    secret: str = SECRET
    token: str = TOKEN
    aes_key: str = AES_KEY

    @property
    def base_url(self) -> str:
        return self.running.base_url

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fake, name)

    def connect(
        self,
        organization: Any,
        *,
        callback_base: str | None = None,
        rate_limits: dict[str, Any] | None = None,
        default_store: Any = None,
        name: str = "沙箱企业微信",
    ) -> Any:
        """Create the organization's WeCom ChannelAccount for this sandbox corp.

        ``callback_base`` (e.g. ``live_server.url``) makes the fake post its callbacks to our webhook.
        """
        from channels.selectors import callback_url
        from channels.services import channel_account_connect

        account = channel_account_connect(
            organization=organization,
            platform="wecom",
            name=name,
            external_id=self.corp_id,
            credentials={"secret": self.secret, "token": self.token, "aes_key": self.aes_key},
            agent_id=self.fake.corp(self.corp_id).agent_id,
            api_base=self.base_url,
            default_store=default_store,
            rate_limits=rate_limits or {},
        )
        if callback_base:
            path = callback_url(account).split("/hooks/", 1)[1]
            self.fake.corp(self.corp_id).callback_url = f"{callback_base.rstrip('/')}/hooks/{path}"
        return account

    def welcomes(self) -> list[dict[str, Any]]:
        return list(self.fake.corp(self.corp_id).welcomes)

    def app_messages(self) -> list[dict[str, Any]]:
        """The app messages (应用消息) members received, oldest first."""
        return list(self.fake.corp(self.corp_id).app_messages)

    def group_sends(self) -> dict[str, Any]:
        return dict(self.fake.corp(self.corp_id).group_sends)


def _forget_cached_tokens() -> None:
    """A fresh fake issues new tokens and has fresh limits: drop our cached tokens and buckets."""
    from channels.ratelimit import redis_client

    client = redis_client()
    for pattern in ("scrm:wecom:token:*", "scrm:rl:wecom:*", "scrm:cc:wecom:*"):
        keys = list(client.scan_iter(pattern, count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture
def wecom_sandbox() -> Iterator[WeComSandbox]:
    """A fresh WeCom fake on 127.0.0.1:<free port>, with one corp (CORP_ID/SECRET/TOKEN/AES_KEY)."""
    _forget_cached_tokens()
    fake = WeComFake()
    running = serve(fake)
    fake.base_url = running.base_url
    fake.add_corp(CORP_ID, SECRET, token=TOKEN, aes_key=AES_KEY)
    handle = WeComSandbox(fake=fake, running=running)
    try:
        yield handle
    finally:
        fake.close()
        running.stop()
