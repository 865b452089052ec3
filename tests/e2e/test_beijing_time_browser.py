"""A send scheduled for 10:00 北京时间 is stored as 10:00 Beijing time whatever the browser's zone (issue 13)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Campaign
from tests.factories import CustomerFactory

pytestmark = pytest.mark.e2e
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_a_scheduled_time_is_beijing_time_from_any_browser_zone(world: Any, login_page: Any, zone: str) -> None:
    CustomerFactory(organization=world.org, home_store=world.store_a)
    page = login_page(world.operator, timezone_id=zone)
    assert page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone") == zone
    page.goto("/campaigns/new/")
    page.locator("[name=name]").fill(f"会员日 {zone}")
    page.get_by_role("button", name="下一步：内容").click()
    page.locator("[name=text]").fill("会员日到店有礼")
    page.get_by_role("button", name="下一步：排期").click()
    assert "北京时间" in page.locator("section[data-step='3']").inner_text()
    page.locator("[name=when][value=at]").check()
    page.locator("[name=due_at]").fill("2031-03-10T10:00")  # a date after New York's switch to summer time
    page.locator("[name=recurrence_until]").fill("2031-06-30T23:30")
    page.get_by_role("button", name="下一步：确认").click()
    page.locator("#review-count").wait_for()
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    campaign = Campaign.objects.get(name=f"会员日 {zone}")
    assert campaign.due_at == dt.datetime(2031, 3, 10, 10, 0, tzinfo=BEIJING)
    assert campaign.recurrence_until == dt.datetime(2031, 6, 30, 23, 30, tzinfo=BEIJING)
    assert "2031-03-10 10:00 北京时间" in page.locator("#progress").inner_text()
