"""A journey end to end in the browser: an operator builds the new-friend journey from its template,
a customer added through the WeCom sandbox enters it, on day 3 (the tick's clock moved) the member
sees the task in the sidebar at 390 px, sends it through the JS-SDK and the journey page shows it done.

Chromium is not WeCom: the client's side of ``@wecom/jssdk`` is a stand-in ``ww`` (served in place of
the vendored SDK) that records what it was asked to share. Everything on our side is real: the pages,
the 活码 listener, the engine, the signature endpoint, the to-do completion."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from channels.app_messages import app_message_deliver
from channels.models import AppMessage
from channels.wecom.client import WeComClient
from channels.wecom.services import refresh_contact
from journeys.engine import journeys_tick
from journeys.models import Enrollment, Journey
from tests.e2e.conftest import screenshot
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)
from todos.models import Todo, TodoStatus

pytestmark = pytest.mark.e2e

WXWORK_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 wxwork/4.1.20 MicroMessenger/7.0.1 Language/zh"
)
STAND_IN_WW = """
window.ww = {
  register: function (options) { window.__wwOptions = options; },
  shareToExternalContact: function (args) {
    var o = window.__wwOptions;
    return Promise.resolve(o.getAgentConfigSignature(location.href)).then(function (signed) {
      sessionStorage.setItem('shared', JSON.stringify({args: args, jsApiList: o.jsApiList, signed: signed}));
      return {errMsg: 'shareToExternalContact:ok'};
    });
  },
  sendChatMessage: function () { return Promise.reject({errMsg: 'not in a chat'}); }
};
"""


def _wecom_page(browser: Any, live_server: Any, user: Any) -> Any:
    client = Client()
    client.force_login(user)
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        user_agent=WXWORK_UA,
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


def test_new_friend_journey_from_template_to_a_sent_task(
    world,
    login_page,
    browser,
    live_server,
    wecom_sandbox,  # noqa: F811
):
    guide = world.store_staff
    guide.wecom_userid = "guide_a"
    guide.save(update_fields=["wecom_userid"])
    wecom_sandbox.add_member("guide_a", guide.name)
    account = wecom_sandbox.connect(world.org, default_store=world.store_a)

    # The operator builds the journey from its template and switches it on.
    operator = login_page(world.operator)
    operator.goto("/journeys/")
    template = operator.get_by_test_id("template-new_friend")
    template.locator("input[name=trigger_state]").fill("spring")
    template.get_by_role("button", name="使用此模板").click()
    operator.get_by_test_id("journey-flow").wait_for()
    operator.get_by_test_id("journey-activate").click()
    operator.get_by_test_id("journey-status").filter(has_text="运行中").wait_for()
    journey = Journey.objects.get(organization=world.org)
    assert journey.trigger_state == "spring" and journey.steps.count() == 5

    # A WeChat user scans the spring 活码 in the sandbox; the add is applied from WeCom's data.
    ext = wecom_sandbox.scan(userid="guide_a", state="spring", name="春季新客")["external_userid"]
    customer, new = refresh_contact(account, WeComClient.for_account(account), ext)
    assert new == ["guide_a"]
    enrollment = Enrollment.objects.get(journey=journey, customer=customer)
    start = timezone.now()
    journeys_tick(now=start)  # day 0: the welcome task
    journeys_tick(now=start + dt.timedelta(days=3, minutes=1))  # day 3: the content task
    tasks = list(Todo.objects.filter(customer=customer).order_by("due_at"))
    assert [t.title for t in tasks] == [f"{journey.name} · 第1步", f"{journey.name} · 第3步"]
    # Each task came with an app-message reminder to the member, recorded then delivered through WeCom.
    for message in AppMessage.objects.filter(organization=world.org):
        app_message_deliver(message_id=message.pk)
    received = wecom_sandbox.app_messages()
    assert len(received) == 2 and all(m["touser"] == ["guide_a"] for m in received)
    assert all("旅程任务" in m["text"]["content"] for m in received)

    # The member opens the to-do list in the sidebar (390 px, inside WeCom) and sends the day-3 task.
    sidebar = _wecom_page(browser, live_server, guide.user)
    sidebar.goto("/sidebar/todos/")
    day3 = sidebar.get_by_test_id(f"todo-{tasks[1].pk}")
    assert "本周的新品" in day3.inner_text()
    assert sidebar.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(sidebar, "journey-todos-sidebar-390")
    day3.get_by_test_id("todo-send").click()
    day3.locator("[data-state]").filter(has_text="已发送并完成").wait_for()
    shared = json.loads(sidebar.evaluate("sessionStorage.getItem('shared')"))
    assert shared["args"] == {"externalUserIds": [ext], "text": {"content": tasks[1].body}}
    assert "shareToExternalContact" in shared["jsApiList"] and shared["signed"]["signature"]
    assert Todo.objects.get(pk=tasks[1].pk).status == TodoStatus.DONE
    sidebar.context.close()

    # The journey page shows the task done for the member, and the customer waiting at step 4.
    operator.goto(f"/journeys/{journey.pk}/")
    completion = operator.get_by_test_id("member-completion")
    assert completion.get_by_test_id("member-done").inner_text() == "1"
    assert operator.get_by_test_id("step-4-waiting").inner_text() == "1"
    enrollment.refresh_from_db()
    assert enrollment.step.position == 4
    screenshot(operator, "journey-detail-1280")
