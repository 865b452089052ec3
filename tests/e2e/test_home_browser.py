"""Browser test of the home page (issue 13): charts drawn with data, to-dos, and the layout fits a
phone (390 px) and a desktop (1,440 px) for each role."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from contacts.models import Follow
from tests.analytics.factories import record
from tests.e2e.conftest import screenshot
from tests.factories import CustomerFactory

pytestmark = pytest.mark.e2e

FITS_JS = "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"


def test_home_draws_the_trend_and_fits_phone_and_desktop(world: Any, login_page: Any) -> None:
    now = timezone.now()
    for i in range(10):
        c = CustomerFactory(organization=world.org, home_store=world.store_a)
        Follow.objects.create(
            organization=world.org, customer=c, staff=world.store_staff, added_at=now - dt.timedelta(days=i * 2)
        )
        record(c, 300 + i, now - dt.timedelta(days=i * 2, hours=1), f"HOME-{i}", staff=world.store_staff)
    Campaign.objects.create(
        organization=world.org,
        name="店员创建的大活动",
        status=CampaignStatus.PENDING_APPROVAL,
        created_by=world.store_staff,
    )
    for staff in (world.operator, world.manager, world.store_staff):
        for width, height in ((1440, 900), (390, 844)):
            page = login_page(staff, width=width, height=height)
            page.goto("/")
            page.wait_for_function(
                "() => window.scrmCharts && window.scrmCharts.home_follows && window.scrmCharts.home_gmv"
            )
            drawn = page.evaluate(
                "() => window.scrmCharts.home_follows.getOption().series[0].data.reduce((a, b) => a + Number(b), 0)"
            )
            assert drawn >= 10, (staff.name, width)
            assert page.locator("#chart-home_gmv canvas").count() >= 1
            size = page.evaluate(FITS_JS)
            assert size["scroll"] <= size["inner"], (staff.name, width, size)
            todos = page.get_by_test_id("todos").inner_text()
            if staff == world.store_staff:
                assert "待审批" not in todos
            else:
                assert "店员创建的大活动" in todos
            screenshot(page, f"home-{staff.name}-{width}")
