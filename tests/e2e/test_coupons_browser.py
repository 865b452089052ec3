"""The new-friend coupon from end to end in a browser: a WeChat user scans the store's 活码 (WeCom
sandbox → our webhook → inbox), the welcome carries the coupon link, the customer's page (390 px, no
login) shows the code, the store clerk redeems it in the sidebar at 390 px, and the manager finds the
order in the coupon report attributed to the clerk, the store, the welcome and the coupon."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from campaigns import services as campaign_services
from campaigns.models import CampaignKind
from channels.inbox import inbox_process
from channels.models import InboxEvent, InboxStatus
from channels.wecom.contact_ways import contact_way_save
from contacts.models import Customer
from offers.models import IssuedCoupon, Redemption
from tests.e2e.conftest import screenshot
from tests.offers.helpers import template
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.e2e
LINK = re.compile(r"https?://\S+/c/\S+/")
WXWORK_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 wxwork/4.1.20 MicroMessenger/7.0.1 Language/zh"
)
# WeCom's client side of @wecom/jssdk: register() keeps the options, scanQRCode() asks for the page's
# signature (as the client does) and answers what the camera "saw".
STAND_IN_WW = """
window.ww = {
  register: function (options) { window.__wwOptions = options; },
  scanQRCode: function () {
    var o = window.__wwOptions;
    return Promise.resolve(o.getConfigSignature(location.href.split('#')[0])).then(function (signed) {
      if (!signed || !signed.signature) { throw new Error('unsigned'); }
      return {resultStr: window.__scanResult};
    });
  }
};
"""


def test_a_new_friend_coupon_goes_from_the_welcome_to_a_redeemed_order_in_the_report(
    login_page: Any,
    browser: Any,
    live_server: Any,
    wecom_sandbox: Any,  # noqa: F811
    world: Any,
    settings: Any,
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    clerk = world.store_staff
    clerk.wecom_userid, clerk.name = "clerk_a", "店员小王"
    clerk.save(update_fields=["wecom_userid", "name"])
    wecom_sandbox.add_member("clerk_a", "店员小王")
    account = wecom_sandbox.connect(world.org, callback_base=live_server.url)
    way = contact_way_save(
        account=account, name="A店收银台", state="desk_a", channel="wecom", store=world.store_a,
        staff=[clerk], tags=[], welcome_text="",
    )  # fmt: skip
    coupon_template = template(world.org, name="新人立减5元")
    welcome = campaign_services.campaign_submit(
        campaign=campaign_services.campaign_create(
            organization=world.org, name="A店新人欢迎语", kind=CampaignKind.WELCOME_TEMPLATE,
            text="欢迎来到A店！", contact_way=way, coupon_template=coupon_template,
        )
    )  # fmt: skip

    wecom_sandbox.scan(state="desk_a", name="扫码新客")
    assert wecom_sandbox.wait_idle(10)
    for event_id in InboxEvent.objects.filter(status=InboxStatus.PENDING).values_list("id", flat=True):
        inbox_process(event_id=event_id)
    notes = list(InboxEvent.objects.values_list("status", "error"))
    assert len(wecom_sandbox.welcomes()) == 1, notes
    [sent] = wecom_sandbox.welcomes()
    assert "新人立减5元" in sent["text"]
    link = LINK.search(sent["text"]).group(0)  # type: ignore[union-attr]
    customer = Customer.objects.get(name="扫码新客")
    coupon = IssuedCoupon.objects.get(customer=customer)
    assert customer.home_store == world.store_a

    # The customer opens the link on their phone: no login, the code and its QR.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = phone.new_page()
    page.goto(link)
    assert page.get_by_test_id("coupon-code").inner_text() == coupon.code
    assert page.get_by_test_id("coupon-status").inner_text() == "未使用"
    assert page.locator("img.qr").evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "coupon-customer-page-390")
    phone.close()

    # The clerk, in the sidebar inside WeCom at 390 px: the customer's open coupon, one tap to the
    # redeem form; the code is scanned (WeCom's scanQRCode, played by a stand-in ww as in
    # test_wecom_sidebar_browser) into the input.
    sidebar = login_page(clerk, width=390, height=844, user_agent=WXWORK_UA)
    sidebar.route(
        "**/static/vendor/wecom-jssdk.min.js",
        lambda route: route.fulfill(body=STAND_IN_WW, content_type="text/javascript"),
    )
    sidebar.goto(f"/sidebar/?customer={customer.pk}")
    sidebar.get_by_test_id("coupon-open").get_by_role("link", name="核销").click()
    assert sidebar.locator("input[name=code]").input_value() == coupon.code
    sidebar.fill("input[name=code]", "")
    sidebar.evaluate(f"window.__scanResult = 'QR_CODE,{coupon.code}'")
    sidebar.get_by_role("button", name="扫码").click()
    expect(sidebar.locator("input[name=code]")).to_have_value(coupon.code)
    assert "scanQRCode" in sidebar.evaluate("window.__wwOptions.jsApiList")
    sidebar.fill("input[name=amount]", "128")
    sidebar.fill("input[name=external_ref]", "POS-A-0001")
    sidebar.get_by_role("button", name="确认核销").click()
    assert "核销成功" in sidebar.get_by_test_id("redeem-ok").inner_text()
    assert sidebar.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(sidebar, "coupon-redeemed-sidebar-390")
    # A second device trying the same code is told it was already used.
    sidebar.goto(f"/coupons/redeem/?code={coupon.code}")
    sidebar.fill("input[name=amount]", "50")
    sidebar.get_by_role("button", name="确认核销").click()
    assert "已于" in sidebar.locator("[data-field-error=code]").inner_text()
    assert Redemption.objects.count() == 1

    # The manager's report: the order with its attribution.
    manager = login_page(world.manager)
    manager.goto("/reports/coupons/")
    row = manager.get_by_test_id("coupon-report").locator(f"tr[data-template='{coupon_template.pk}']")
    assert "100%" in row.inner_text() and "¥128.00" in row.inner_text()
    order_row = manager.get_by_test_id("coupon-redemptions").locator("tbody tr").first
    text = order_row.inner_text()
    for expected in ("新人立减5元", coupon.code, "POS-A-0001", "A店", "店员小王", welcome.name):
        assert expected in text, (expected, text)
    screenshot(manager, "coupon-report")
