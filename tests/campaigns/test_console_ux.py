"""Campaign pages as an operator reads them (issue 13): a count that holds between looks, lift in
percentage points, money with separators, a scheduled campaign that says so once, Moments' layout."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from campaigns.models import CampaignKind, CampaignStatus
from campaigns.planner import campaign_plan
from tests.campaigns.factories import at, campaign, reachable_customers
from tests.factories import StaffFactory


@pytest.fixture(autouse=True)
def no_enqueue(monkeypatch: pytest.MonkeyPatch) -> None:
    from campaigns import tasks  # imported here: only to silence the enqueue on commit

    monkeypatch.setattr(tasks.dispatch_campaign, "delay_on_commit", lambda *a: None)


def test_the_wizards_count_is_the_same_at_every_look_and_after_submit(world: Any) -> None:
    staff = [StaffFactory(organization=world.org, store=world.store_a, wecom_userid="zhang")]
    reachable_customers(world.org, 60, staff=staff, store=world.store_a)
    client = world.client_for(world.operator)
    body = {"name": "对照测试", "text": "hi", "holdout_percent": 50, "holdout_seed": 424242}
    looks = [
        client.post(reverse("campaigns:api_preview"), body, content_type="application/json").json()["recipients"]
        for _ in range(3)
    ]
    assert len(set(looks)) == 1 and 10 < looks[0] < 50  # a real holdout, the same one each time
    created = client.post(reverse("campaigns:api_create"), body, content_type="application/json")
    assert created.status_code == 201, created.content
    planned = campaign_plan(campaign_id=created.json()["id"], now=at(10)).planned
    assert planned == looks[0]


def test_a_scheduled_campaign_says_it_is_scheduled_and_nothing_else(world: Any) -> None:
    c = campaign(world.org, status=CampaignStatus.SCHEDULED, due_at=at(10, day=28))
    body = world.client_for(world.operator).get(reverse("campaigns:campaign_detail", args=[c.pk])).content.decode()
    assert "已排期" in body and "尚未排期" not in body
    assert "2026-11-28 10:00 北京时间" in body


def test_a_moments_campaign_has_its_own_figures(world: Any) -> None:
    c = campaign(world.org, kind=CampaignKind.MOMENT, status=CampaignStatus.SCHEDULED, due_at=at(10, day=28))
    body = world.client_for(world.operator).get(reverse("campaigns:campaign_detail", args=[c.pk])).content.decode()
    assert 'data-layout="moment"' in body and "员工已发表" in body and "计划发送" not in body


def test_lift_is_in_percentage_points_and_money_has_separators(world: Any) -> None:
    results = {"computed_at": "2026-11-24T10:00:00+08:00", "orders": 12, "gmv": "123456.50", "window_days": 7}
    results |= {"lift": -0.001, "ci": [-0.039, 0.037], "significant": False}
    c = campaign(world.org, status=CampaignStatus.DONE, results=results)
    body = world.client_for(world.operator).get(reverse("campaigns:campaign_detail", args=[c.pk])).content.decode()
    assert "-0.1 个百分点" in body and "-3.9 个百分点 ~ +3.7 个百分点" in body
    assert "¥123,456.50" in body
    assert "-0.001" not in body
