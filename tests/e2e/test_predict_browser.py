"""Browser test (issue 18): a manager opens 预测, sees the calibration chart, saves "high value at risk"
as a segment and uses it in a campaign."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest

from analytics.models import FitStatus, PredictionFit
from campaigns.models import Campaign
from contacts import services as contact_services
from contacts.models import Customer, Segment
from tests.campaigns.conftest import sandbox_brand
from tests.e2e.conftest import screenshot
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.e2e


def test_manager_saves_high_value_at_risk_from_the_predict_page_and_targets_it(
    world: Any,
    wecom_sandbox: Any,  # noqa: F811 - the fixture imported above
    login_page: Any,
) -> None:
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=6, n_staff=2, store=world.store_a)
    ids = [c.pk for c in brand.customers]
    # Three of the manager's customers are worth a lot and slipping away; the others are not both.
    for pk, ltv in zip(ids, ["2600", "1500", "1200", "3000", "80", "90"], strict=True):
        Customer.objects.filter(pk=pk).update(ltv=Decimal(ltv), order_count=3)
    contact_services.customer_predictions_set(
        organization_id=world.org.pk,
        predictions=contact_services.Predictions(
            customer_ids=ids,
            p_alive=[0.1, 0.2, 0.15, 0.9, 0.1, 0.2],
            expected_30=[0.1] * 6,
            expected_90=[0.2] * 6,
            expected_365=[0.8] * 6,
            value_12m=[120.0] * 6,
        ),
    )
    weeks = [(dt.date(2026, 1, 4) + dt.timedelta(weeks=w)).isoformat() for w in range(40)]
    PredictionFit.objects.create(
        organization=world.org,
        status=FitStatus.OK,
        data_start=dt.date(2026, 1, 1),
        data_end=dt.date(2026, 10, 7),
        customers=6,
        repeat_customers=6,
        bgnbd={"model": "BG/NBD", "r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43},
        gamma_gamma={"p": 6.25, "q": 3.74, "gamma": 15.44},
        log_likelihood=-42.0,
        validation={
            "cut": weeks[20],
            "holdout_days": 140,
            "groups": [
                {"repeat_purchases": str(k), "customers": 2, "predicted": k * 0.4, "actual": k * 0.38} for k in range(3)
            ],
            "weekly": [
                {"week_end": d, "actual": 3 * w, "predicted": 2.9 * w, "holdout": w > 20} for w, d in enumerate(weeks)
            ],
            "errors": {
                "predicted_total": 58,
                "actual_total": 60,
                "total_error": -0.033,
                "mae": 0.3,
                "rmse": 0.5,
                "correlation": 0.8,
            },
        },
    )

    page = login_page(world.manager)
    page.goto("/reports/predict/")
    page.locator("#chart-holdout_weekly canvas").wait_for()
    page.locator("#chart-holdout_groups canvas").wait_for()
    assert "-3.3%" in page.locator(".cards").inner_text()
    lists = page.locator('table[data-table="lists"]')
    assert lists.locator("tr", has_text="高价值流失风险").locator("td.num").inner_text() == "3"
    screenshot(page, "predict-report")
    lists.locator('[data-save="high_value_at_risk"]').click()
    page.wait_for_url(re.compile(r".*/segments/\d+/.*"))
    segment = Segment.objects.get(organization=world.org)
    assert segment.expression["churn_risk"] == ["high"] and segment.expression["stores"] == [world.store_a.pk]
    page.locator("#seg-count").filter(has_text="3").wait_for()

    page.goto("/campaigns/new/")
    page.locator("[name=name]").fill("高价值唤醒")
    page.locator("[name=segment_id]").select_option(str(segment.pk))
    page.wait_for_function("() => document.getElementById('live-count').textContent.trim() === '3'")
    page.get_by_role("button", name="下一步：内容").click()
    page.locator("[name=text]").fill("好久不见，送你一份回店礼")
    page.get_by_role("button", name="下一步：排期").click()
    page.get_by_role("button", name="下一步：确认").click()
    page.locator("#review-count").wait_for()
    assert page.locator("#review-count").inner_text() == "3"
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    campaign = Campaign.objects.get(name="高价值唤醒")
    assert campaign.segment_id == segment.pk
