"""The 配额策略 console page: brand default and per-account overrides, operators only."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from django.urls import reverse

from campaigns.models import QuotaPolicy
from campaigns.quota import in_quiet_hours, policy_for
from channels.models import ChannelAccount
from tests.campaigns.factories import at

pytestmark = pytest.mark.django_db

VALID = {
    "customer_mode": "weekly",
    "group_mode": "monthly",
    "moments_per_day": "2",
    "brand_cap": "2",
    "brand_cap_period": "week",
    "quiet_enabled": "on",
    "quiet_start": "22:00",
    "quiet_end": "08:30",
    "require_consent": "on",
    "approval_threshold": "3000",
    "attribution_days": "14",
}


@pytest.fixture
def account(world: Any) -> ChannelAccount:
    return ChannelAccount.objects.create(
        organization=world.org, platform="wecom", name="华东企业微信", external_id="ww1"
    )


def test_the_page_is_for_operators_only(world, account):
    policy = QuotaPolicy.objects.create(organization=world.org, channel_account=account)
    urls = [
        reverse("campaigns:quota_policy_list"),
        reverse("campaigns:quota_policy_default"),
        reverse("campaigns:quota_policy_new"),
        reverse("campaigns:quota_policy_edit", args=[policy.pk]),
    ]
    for url in urls:
        assert world.client_for(world.operator).get(url).status_code == 200, url
        for who in (world.manager, world.store_staff, world.no_role):
            assert world.client_for(who).get(url).status_code == 403, (url, who)
    for who in (world.manager, world.store_staff):
        assert world.client_for(who).post(urls[1], VALID).status_code == 403
        delete = world.client_for(who).post(reverse("campaigns:quota_policy_delete", args=[policy.pk]))
        assert delete.status_code == 403
    assert not QuotaPolicy.objects.filter(channel_account__isnull=True).exists()
    assert QuotaPolicy.objects.filter(pk=policy.pk).exists()


def test_the_nav_shows_the_page_to_operators_only(world):
    assert "配额策略" in world.client_for(world.operator).get(reverse("campaigns:campaign_list")).content.decode()
    assert "配额策略" not in world.client_for(world.manager).get(reverse("campaigns:campaign_list")).content.decode()


def test_an_operator_edits_the_brand_default_and_the_planner_reads_it(world, account):
    client = world.client_for(world.operator)
    page = client.get(reverse("campaigns:quota_policy_list")).content.decode()
    assert "系统默认值" in page and "21:00–09:00" in page
    r = client.post(reverse("campaigns:quota_policy_default"), VALID)
    assert r.status_code == 302 and r["Location"] == reverse("campaigns:quota_policy_list")
    policy = QuotaPolicy.objects.get(organization=world.org, channel_account__isnull=True)
    assert (policy.customer_mode, policy.group_mode, policy.moments_per_day) == ("weekly", "monthly", 2)
    assert (policy.brand_cap, policy.brand_cap_period) == (2, "week")
    assert (policy.quiet_start, policy.quiet_end) == (time(22, 0), time(8, 30))
    assert (policy.require_consent, policy.approval_threshold, policy.attribution_days) == (True, 3000, 14)
    assert policy_for(organization_id=world.org.pk, channel_account_id=account.pk).pk == policy.pk
    # Editing again updates the same row.
    r = client.post(reverse("campaigns:quota_policy_default"), {**VALID, "moments_per_day": "3", "require_consent": ""})
    assert r.status_code == 302
    policy.refresh_from_db()
    assert policy.moments_per_day == 3 and policy.require_consent is False
    assert QuotaPolicy.objects.filter(organization=world.org).count() == 1
    page = client.get(reverse("campaigns:quota_policy_list")).content.decode()
    assert "系统默认值" not in page and "22:00–08:30" in page


def test_turning_quiet_hours_off_stores_no_window(world, account):
    client = world.client_for(world.operator)
    body = {**VALID, "quiet_enabled": "", "quiet_start": "", "quiet_end": ""}
    assert client.post(reverse("campaigns:quota_policy_default"), body).status_code == 302
    policy = QuotaPolicy.objects.get(organization=world.org)
    assert policy.quiet_start == policy.quiet_end
    assert not in_quiet_hours(policy=policy, at=at(23))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quiet_start": "21:00", "quiet_end": "21:00"}, "免打扰开始和结束时间相同"),
        ({"quiet_end": ""}, "请填写免打扰结束时间"),
        ({"brand_cap": "32"}, "品牌营销上限须在 0–31 条之间"),
        ({"brand_cap": "-1"}, "品牌营销上限须在 0–31 条之间"),
        ({"moments_per_day": "0"}, "朋友圈条数须在 1–20 之间"),
        ({"moments_per_day": "21"}, "朋友圈条数须在 1–20 之间"),
        ({"attribution_days": "120"}, "归因窗口须在 1–90 天之间"),
        ({"approval_threshold": "20000000"}, "审批门槛须在 0–10000000 人之间"),
        ({"attribution_days": "abc"}, "归因窗口须在 1–90 天之间"),
        ({"customer_mode": "hourly"}, "customer_mode"),
    ],
)
def test_invalid_values_are_refused_with_a_clear_message(world, account, change, message):
    client = world.client_for(world.operator)
    r = client.post(reverse("campaigns:quota_policy_default"), {**VALID, **change})
    assert r.status_code == 200
    form = r.context["form"]
    assert not form.is_valid()
    text = " ".join(str(e) for errors in form.errors.values() for e in errors)
    if message == "customer_mode":
        assert "customer_mode" in form.errors
    else:
        assert message in text, text
        assert message in r.content.decode()
    assert not QuotaPolicy.objects.exists()


def test_an_override_is_created_edited_and_deleted(world, account):
    other = ChannelAccount.objects.create(
        organization=world.org, platform="wecom", name="华南企业微信", external_id="ww2"
    )
    QuotaPolicy.objects.create(organization=world.org, brand_cap=3, brand_cap_period="month")
    client = world.client_for(world.operator)
    # The new form starts from the brand default.
    form = client.get(reverse("campaigns:quota_policy_new")).context["form"]
    assert form.initial["brand_cap"] == 3 and form.initial["brand_cap_period"] == "month"
    r = client.post(
        reverse("campaigns:quota_policy_new"), {**VALID, "channel_account": account.pk, "customer_mode": "daily"}
    )
    assert r.status_code == 302
    override = QuotaPolicy.objects.get(channel_account=account)
    assert override.customer_mode == "daily" and override.moments_per_day == 2
    assert policy_for(organization_id=world.org.pk, channel_account_id=account.pk).pk == override.pk
    assert policy_for(organization_id=world.org.pk, channel_account_id=other.pk).channel_account_id is None
    # An account that already has one is not offered again (and cannot be posted).
    page = client.get(reverse("campaigns:quota_policy_new")).content.decode()
    assert "华南企业微信" in page and f'value="{account.pk}"' not in page
    again = client.post(reverse("campaigns:quota_policy_new"), {**VALID, "channel_account": account.pk})
    assert again.status_code == 200 and "所选账号不存在或已有单独的配额策略" in again.content.decode()
    # Edit.
    r = client.post(reverse("campaigns:quota_policy_edit", args=[override.pk]), {**VALID, "group_mode": "weekly"})
    assert r.status_code == 302
    override.refresh_from_db()
    assert override.group_mode == "weekly" and override.channel_account_id == account.pk
    assert "华东企业微信" in client.get(reverse("campaigns:quota_policy_list")).content.decode()
    # Delete: the account falls back to the default.
    assert client.post(reverse("campaigns:quota_policy_delete", args=[override.pk])).status_code == 302
    assert not QuotaPolicy.objects.filter(pk=override.pk).exists()
    assert policy_for(organization_id=world.org.pk, channel_account_id=account.pk).channel_account_id is None


def test_the_brand_default_cannot_be_deleted(world):
    default = QuotaPolicy.objects.create(organization=world.org)
    client = world.client_for(world.operator)
    r = client.post(reverse("campaigns:quota_policy_delete", args=[default.pk]), follow=True)
    assert "品牌默认策略不能删除" in r.content.decode()
    assert QuotaPolicy.objects.filter(pk=default.pk).exists()


def test_another_brands_policies_and_accounts_are_out_of_reach(world, account):
    rival_account = ChannelAccount.objects.create(organization=world.other_org, platform="wecom", name="对手企微")
    rival = QuotaPolicy.objects.create(organization=world.other_org, channel_account=rival_account, brand_cap=5)
    client = world.client_for(world.operator)
    assert client.get(reverse("campaigns:quota_policy_edit", args=[rival.pk])).status_code == 404
    assert client.post(reverse("campaigns:quota_policy_delete", args=[rival.pk])).status_code == 404
    assert "对手企微" not in client.get(reverse("campaigns:quota_policy_list")).content.decode()
    assert "对手企微" not in client.get(reverse("campaigns:quota_policy_new")).content.decode()
    r = client.post(reverse("campaigns:quota_policy_new"), {**VALID, "channel_account": rival_account.pk})
    assert r.status_code == 200 and not QuotaPolicy.objects.filter(organization=world.org).exists()
    rival.refresh_from_db()
    assert rival.brand_cap == 5


def test_the_list_page_runs_a_fixed_number_of_queries(world, account, django_assert_max_num_queries):
    for i in range(5):
        acc = ChannelAccount.objects.create(
            organization=world.org, platform="wecom", name=f"账号{i}", external_id=f"w{i}"
        )
        QuotaPolicy.objects.create(organization=world.org, channel_account=acc)
    client = world.client_for(world.operator)
    client.get(reverse("campaigns:quota_policy_list"))  # warm the session
    with django_assert_max_num_queries(12):
        assert client.get(reverse("campaigns:quota_policy_list")).status_code == 200
