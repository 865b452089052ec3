"""The sidebar inside WeCom: the JS-SDK bridge registers with our signatures and opens the chat's customer.

Chromium is not WeCom, so the WeCom client's side of ``@wecom/jssdk`` is played by a stand-in ``ww``
(served in place of the vendored SDK) that does what the client does: call our signature functions
for the page URL, then answer ``getCurExternalContact``. Everything on our side is real: the page,
the bridge script, the signature endpoint and the tickets it fetches from the WeCom sandbox.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.contacts import views_fixtures
from tests.contacts.views_fixtures import People
from tests.e2e.conftest import screenshot
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

people = views_fixtures.people

pytestmark = pytest.mark.e2e

WXWORK_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 wxwork/4.1.20 MicroMessenger/7.0.1 Language/zh"
)
STAND_IN_WW = """
window.ww = {
  register: function (options) { window.__wwOptions = options; },
  getCurExternalContact: function () {
    var o = window.__wwOptions, url = location.href.split('#')[0];
    return Promise.all([o.getConfigSignature(url), o.getAgentConfigSignature(url)]).then(function (signed) {
      sessionStorage.setItem('ww', JSON.stringify({
        corpId: o.corpId, jsApiList: o.jsApiList, url: url, config: signed[0], agentConfig: signed[1]
      }));
      return {userId: 'wm_alice'};
    });
  }
};
"""


def _page(browser: Any, live_server: Any, user: Any, user_agent: str) -> Any:
    client = Client()
    client.force_login(user)
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        user_agent=user_agent,
    )
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.route(
        "**/static/vendor/wecom-jssdk.min.js",
        lambda route: route.fulfill(body=STAND_IN_WW, content_type="text/javascript"),
    )
    return page


def test_inside_wecom_the_sidebar_opens_the_customer_of_the_chat(
    people: People,
    browser: Any,
    live_server: Any,
    wecom_sandbox: Any,  # noqa: F811
) -> None:
    wecom_sandbox.connect(people.world.org)
    page = _page(browser, live_server, people.world.store_staff.user, WXWORK_UA)
    page.goto("/sidebar/")
    page.wait_for_url("**/sidebar/?external_userid=wm_alice")
    assert page.get_by_test_id("sidebar-customer").inner_text().count("王小丽") == 1
    screenshot(page, "sidebar-in-wecom-390")
    registered = json.loads(page.evaluate("sessionStorage.getItem('ww')"))
    assert registered["corpId"] == wecom_sandbox.corp_id and "getCurExternalContact" in registered["jsApiList"]
    tickets = wecom_sandbox.fake.corp(wecom_sandbox.corp_id).tickets
    for part, kind in (("config", "corp"), ("agentConfig", "agent")):
        signed = registered[part]
        plain = (
            f"jsapi_ticket={tickets[kind]}&noncestr={signed['nonceStr']}"
            f"&timestamp={signed['timestamp']}&url={registered['url']}"
        )
        assert signed["signature"] == hashlib.sha1(plain.encode()).hexdigest()  # noqa: S324 - WeChat's algorithm
    page.context.close()


def test_in_an_ordinary_browser_the_bridge_stays_out_of_the_way(
    people: People,
    browser: Any,
    live_server: Any,
    wecom_sandbox: Any,  # noqa: F811
) -> None:
    wecom_sandbox.connect(people.world.org)
    page = _page(browser, live_server, people.world.store_staff.user, "Mozilla/5.0 Chrome/156.0")
    page.goto("/sidebar/")
    page.get_by_test_id("sidebar-waiting").wait_for()
    assert page.evaluate("sessionStorage.getItem('ww')") is None and "external_userid" not in page.url
    assert page.get_by_test_id("sidebar-bridge").is_hidden()
    page.context.close()
