"""Browser test (issue 5): an operator creates a broadcast in the wizard and watches it reach done."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

import pytest

from campaigns import dispatcher, services, tasks
from campaigns.models import Batch, Campaign, CampaignStatus, QuotaPolicy
from tests.campaigns.conftest import sandbox_brand
from tests.e2e.conftest import screenshot
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.e2e


def test_operator_creates_a_broadcast_and_watches_progress_reach_done(
    world: Any,
    wecom_sandbox: Any,  # noqa: F811 - the fixture imported above
    login_page: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks.dispatch_campaign, "delay_on_commit", lambda *a: None)
    monkeypatch.setattr(dispatcher, "_enqueue", lambda ids, countdown=None: None)
    QuotaPolicy.objects.create(organization=world.org, quiet_start=time(0), quiet_end=time(0))
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=6, n_staff=2)

    page = login_page(world.operator)
    page.goto("/campaigns/new/")
    page.locator("[name=name]").fill("周末到店礼")
    page.wait_for_function("() => document.getElementById('live-count').textContent.trim() === '6'")
    page.get_by_role("button", name="下一步：内容").click()
    page.locator("[name=text]").fill("周末到店即可领取小礼品一份")
    assert "周末到店即可领取小礼品一份" in page.locator("#phone").inner_text()
    page.get_by_role("button", name="下一步：排期").click()
    page.get_by_role("button", name="下一步：确认").click()
    page.locator("#review-count").wait_for()
    assert page.locator("#review-count").inner_text() == "6"
    screenshot(page, "campaign-wizard-review")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    campaign = Campaign.objects.get(name="周末到店礼")
    assert campaign.status == CampaignStatus.SCHEDULED

    # Beat starts it; workers dispatch; the staff members tap 发送 in WeCom; the tracker syncs results.
    services.campaigns_due_tick()
    for batch in Batch.objects.filter(campaign=campaign):
        assert dispatcher.batch_dispatch(batch_id=batch.pk) == "created"
    page.locator('[data-f="task_created"]').filter(has_text="6").wait_for(timeout=10_000)
    for batch in Batch.objects.filter(campaign=campaign):
        batch.refresh_from_db()
        wecom_sandbox.confirm(batch.sender.wecom_userid, batch.msgid)
        dispatcher.batch_track(batch_id=batch.pk)
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.DONE
    page.locator('[data-f="status_label"]').filter(has_text="已完成").wait_for(timeout=10_000)
    page.locator('[data-f="delivered"]').filter(has_text=str(len(brand.customers))).wait_for()
    assert page.locator('[data-f="bar"]').get_attribute("style").replace(" ", "") == "width:100%;"
    screenshot(page, "campaign-progress-done")
