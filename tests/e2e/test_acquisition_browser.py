"""Browser test of the 获客链接 page: an operator makes a link with two placements, copies a link, and
the page fits a phone and a desktop (the live server speaks to the WeCom sandbox over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from channels.models import AcquisitionLink
from tests.e2e.conftest import screenshot
from tests.e2e.test_console_walk import WIDTH_JS
from tests.factories import StaffFactory
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.e2e


def test_an_operator_makes_a_link_and_copies_it_on_a_phone_and_a_desktop(
    world: Any,
    login_page: Any,
    wecom_sandbox: Any,  # noqa: F811
) -> None:
    for userid in ("guide_a", "guide_b"):
        wecom_sandbox.add_member(userid, userid)
    wecom_sandbox.connect(world.org)
    first = StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_a", name="导购小王")
    StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_b", name="导购小李")

    page = login_page(world.operator, width=1440, height=900)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/channels/qrcodes/")
    page.get_by_role("link", name="获客链接").first.click()
    page.get_by_role("link", name="新建获客链接").click()
    page.fill("#id_name", "抖音小红书主页咨询")
    page.select_option("#id_staff", [str(first.pk)])
    page.fill("#id_ch-0-customer_channel", "dy_bio")
    page.fill("#id_ch-1-label", "小红书笔记")
    page.fill("#id_ch-1-customer_channel", "xhs_note")
    page.get_by_role("button", name="保存并同步").click()
    page.wait_for_url("**/channels/qrcodes/links/")
    link = AcquisitionLink.objects.get()
    assert link.link_id and page.locator(".msg", has_text="获客链接已保存并同步到企业微信").count() == 1
    row = page.locator(".link-row", has_text="小红书笔记")
    row.get_by_role("button", name="复制链接").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == f"{link.url}?customer_channel=xhs_note"
    assert row.get_by_role("button", name="已复制").count() == 1
    width = page.evaluate(WIDTH_JS)
    assert width["scroll"] <= width["inner"] and not width["wide"], width
    screenshot(page, "acquisition-1440")

    phone = login_page(world.operator, width=390, height=844)
    phone.goto("/channels/qrcodes/links/")
    assert phone.locator(".link-row", has_text="抖音主页").count() == 1
    width = phone.evaluate(WIDTH_JS)
    assert width["scroll"] <= width["inner"] and not width["wide"], width
    screenshot(phone, "acquisition-390")
    phone.goto(f"/channels/qrcodes/links/{link.pk}/")
    width = phone.evaluate(WIDTH_JS)
    assert width["scroll"] <= width["inner"] and not width["wide"], width
    screenshot(phone, "acquisition-form-390")
