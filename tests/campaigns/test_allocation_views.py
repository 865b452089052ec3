"""The 联合排期 page: the day's campaigns, both totals, the run (audited), the history; bad input is a 400."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import AllocationRun, Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaigns.quota import PLATFORM_TZ
from contacts.models import AuditAction, AuditEntry, Customer
from tests.campaigns.factories import campaign, reachable_customers
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def day_setup(world):
    tomorrow = timezone.localdate() + timedelta(days=1)
    due = datetime.combine(tomorrow, datetime.min.time(), tzinfo=PLATFORM_TZ).replace(hour=10)
    staff = [StaffFactory(organization=world.org)]
    people = reachable_customers(world.org, 3, staff=staff)
    Customer.objects.filter(pk__in=[c.pk for c in people]).update(expected_orders_30=0.6, expected_orders_90=1.5)
    low = campaign(
        world.org,
        name="高优先级低价值",
        status=CampaignStatus.SCHEDULED,
        due_at=due,
        priority=5,
        value_per_conversion=Decimal("10"),
    )
    high = campaign(
        world.org,
        name="低优先级高价值",
        status=CampaignStatus.SCHEDULED,
        due_at=due,
        value_per_conversion=Decimal("100"),
    )
    campaign(world.other_org, name="对手活动", status=CampaignStatus.SCHEDULED, due_at=due)
    return tomorrow, low, high


def test_the_planner_shows_both_totals_and_runs_by_expected_value(world, day_setup):
    day, _low, high = day_setup
    client = world.client_for(world.operator)
    url = reverse("campaigns:planner")
    page = client.get(url, {"day": day.isoformat()})
    html = page.content.decode()
    assert page.status_code == 200
    assert "高优先级低价值" in html and "低优先级高价值" in html and "对手活动" not in html
    assert 'data-testid="value-gain"' in html and "按预期价值" in html
    assert '<input type="radio" name="mode" value="expected_value" checked>' in html
    assert not Delivery.objects.exists()  # the preview wrote nothing

    done = client.post(reverse("campaigns:planner_run"), {"day": day.isoformat(), "mode": "expected_value"})
    assert done.status_code == 302
    run = AllocationRun.objects.get()
    assert run.mode == "expected_value" and run.gain > 0 and run.created_by == world.operator
    assert set(Delivery.objects.filter(status=DeliveryStatus.PLANNED).values_list("campaign_id", flat=True)) == {
        high.pk
    }
    assert AuditEntry.objects.filter(action=AuditAction.CAMPAIGN_ALLOCATE, actor_staff_id=world.operator.pk).exists()
    history = client.get(url, {"day": day.isoformat(), "mode": "expected_value"}).content.decode()
    assert 'data-testid="planner-runs"' in history and "没有待排期" in history
    detail = client.get(reverse("campaigns:campaign_detail", args=[high.pk])).content.decode()
    assert 'data-testid="allocation"' in detail and "联合排期：按预期价值" in detail
    # Nothing is left to plan that day: a second run says so and changes nothing.
    again = client.post(reverse("campaigns:planner_run"), {"day": day.isoformat(), "mode": "priority"}, follow=True)
    assert "没有待排期" in again.content.decode() and AllocationRun.objects.count() == 1


def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(world, day_setup):
    day, *_ = day_setup
    client = world.client_for(world.operator)
    bad_mode = client.post(reverse("campaigns:planner_run"), {"day": day.isoformat(), "mode": "first_come"})
    assert bad_mode.status_code == 400 and "分配方式" in bad_mode.content.decode()
    bad_day = client.post(reverse("campaigns:planner_run"), {"day": "23/11/2026", "mode": "priority"})
    assert bad_day.status_code == 400 and "平台日" in bad_day.content.decode()
    assert client.get(reverse("campaigns:planner"), {"day": "tomorrow"}).status_code == 400
    assert not AllocationRun.objects.exists() and not Delivery.objects.exists()
    assert not Campaign.objects.filter(planned_at__isnull=False).exists()


def test_only_operators_plan_jointly(world, day_setup):
    day, *_ = day_setup
    for who in (world.manager, world.store_staff, world.no_role):
        client = world.client_for(who)
        assert client.get(reverse("campaigns:planner")).status_code == 403
        assert (
            client.post(reverse("campaigns:planner_run"), {"day": day.isoformat(), "mode": "priority"}).status_code
            == 403
        )
    # The outsider's brand has its own (empty of ours) day.
    page = world.client_for(world.outsider).get(reverse("campaigns:planner"), {"day": day.isoformat()})
    assert "高优先级低价值" not in page.content.decode()


def test_the_api_validates_the_value_per_conversion(world):
    client = world.client_for(world.operator)
    for bad, word in (("-1", "负数"), ("abc", "数字"), ("12.345", "两位小数"), ("20000000", "10000000")):
        r = client.post(
            reverse("campaigns:api_create"),
            {"name": "x", "text": "hi", "value_per_conversion": bad},
            content_type="application/json",
        )
        assert r.status_code == 400, bad
        assert "value_per_conversion" in r.json() and word in str(r.json()), r.json()
    assert not Campaign.objects.exists()
