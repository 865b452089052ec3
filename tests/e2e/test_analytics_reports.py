"""Browser test of the reports (issue 6): a manager opens the overview, sees charts drawn with data,
and exports a report."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from contacts.models import Follow
from tests.analytics.factories import record
from tests.e2e.conftest import screenshot
from tests.factories import CustomerFactory

pytestmark = pytest.mark.e2e


def test_manager_sees_overview_charts_with_data_and_exports(world: Any, login_page: Any) -> None:
    now = timezone.now()
    for i in range(12):
        c = CustomerFactory(
            organization=world.org,
            home_store=world.store_a,
            source_channel="wecom",
            created_at=now - dt.timedelta(days=i * 5),
        )
        Follow.objects.create(organization=world.org, customer=c, staff=world.store_staff, added_at=c.created_at)
        record(c, 199 + i * 10, now - dt.timedelta(days=i * 5, hours=1), f"E2E-{i}")
        if i % 3 == 0:
            record(c, 2999, now - dt.timedelta(days=i * 2), f"E2E-R{i}")
    # Another store's sales must not reach the manager of store A.
    b = CustomerFactory(organization=world.org, home_store=world.store_b)
    record(b, 88888, now - dt.timedelta(days=1), "E2E-B")

    page = login_page(world.manager)
    page.goto("/reports/")
    page.get_by_test_id("report-title").wait_for()
    page.wait_for_function("() => window.scrmCharts && window.scrmCharts.trend_gmv")
    assert page.locator("#chart-trend_gmv canvas").count() >= 1
    drawn = page.evaluate(
        """() => {
          const opt = window.scrmCharts.trend_gmv.getOption();
          return opt.series.map(s => s.data.reduce((a, b) => a + Number(b || 0), 0));
        }"""
    )
    assert drawn[0] > 0 and drawn[1] > 0  # GMV and private-domain GMV have data
    assert drawn[0] < 88888  # only the manager's store
    stats = page.locator(".stat").all_inner_texts()
    assert any("私域 GMV" in s and "¥" in s and "," in s for s in stats)
    screenshot(page, "analytics-overview-1280")

    with page.expect_download() as info:
        page.get_by_test_id("export-xlsx").click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    assert download.path().stat().st_size > 1000

    # The cohort page draws its heatmap too, and the phone layout holds.
    phone = login_page(world.manager, width=390, height=844)
    phone.goto("/reports/cohorts/")
    phone.wait_for_function("() => window.scrmCharts && window.scrmCharts.cohort_customers")
    assert phone.locator("#chart-cohort_customers canvas").count() >= 1
    screenshot(phone, "analytics-cohorts-390")
