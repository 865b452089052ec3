"""Browser test (issue 15): an operator builds (护肤∨彩妆)∧(金卡∨黑金)∧¬勿扰 with "ordered in the last 30
days" in the segment builder, reads the rule's sentence and the live count, saves it and targets it
with a broadcast."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone

from analytics.models import Order
from campaigns.models import Campaign
from contacts import services as contact_services
from contacts.models import Segment, TagChoice
from tests.campaigns.conftest import sandbox_brand
from tests.e2e.conftest import screenshot
from tests.factories import TagFactory, TagGroupFactory
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.e2e


def test_operator_builds_a_rule_tree_and_broadcasts_to_it(
    world: Any,
    wecom_sandbox: Any,  # noqa: F811 - the fixture imported above
    login_page: Any,
) -> None:
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=5, n_staff=1, store=world.store_a)
    level = TagGroupFactory(organization=world.org, name="会员等级", choice=TagChoice.SINGLE, order=0)
    interest = TagGroupFactory(organization=world.org, name="兴趣", order=1)
    flags = TagGroupFactory(organization=world.org, name="标记", order=2)
    t = {n: TagFactory(group=level, name=n) for n in ("金卡", "黑金")}
    t |= {n: TagFactory(group=interest, name=n) for n in ("护肤", "彩妆")}
    t["勿扰"] = TagFactory(group=flags, name="勿扰")
    now = timezone.now()
    # (tags, days since the last order): the first two match; then 勿扰, an old order, no level.
    plan = [
        (("金卡", "护肤"), 5),
        (("黑金", "彩妆"), 2),
        (("黑金", "彩妆", "勿扰"), 3),
        (("金卡", "护肤"), 60),
        (("护肤",), 1),
    ]
    for customer, (names, days) in zip(brand.customers, plan, strict=True):
        for name in names:
            contact_services.customer_tag_add(customer=customer, tag=t[name])
        Order.objects.create(
            organization=world.org,
            customer=customer,
            store=world.store_a,
            amount=199,
            paid_at=now - dt.timedelta(days=days),
            source="api",
            external_ref=f"e2e-{customer.pk}",
        )

    page = login_page(world.operator, width=390, height=844)
    page.goto("/segments/new/")
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '5'")
    root = page.get_by_test_id("rule-group").first
    # 1. 护肤 or 彩妆: the first condition (有任一标签).
    first = root.get_by_test_id("condition").first
    first.get_by_role("button", name="护肤").click()
    first.get_by_role("button", name="彩妆").click()
    # 2. 金卡 or 黑金: another 有任一标签 condition in the same 全部满足 group.
    root.locator(":scope > .group-actions").get_by_role("button", name="＋ 添加条件").click()
    second = root.get_by_test_id("condition").nth(1)
    second.get_by_role("button", name="金卡").click()
    second.get_by_role("button", name="黑金").click()
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '4'")
    # 3. A 都不满足 group holding 勿扰.
    root.locator(":scope > .group-actions").get_by_role("button", name="＋ 添加分组").click()
    group = root.get_by_test_id("rule-group").first
    group.get_by_label("分组方式").select_option("none")
    group.get_by_role("button", name="＋ 添加条件").click()
    group.get_by_test_id("condition").first.get_by_role("button", name="勿扰").click()
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '3'")
    # 4. Ordered in the last 30 days.
    root.locator(":scope > .group-actions").get_by_role("button", name="＋ 添加条件").click()
    orders = root.locator(":scope > .group-items > .cond-row").last
    orders.get_by_label("条件类型").select_option("orders")
    orders.locator("input.days").fill("30")
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '2'")
    sentence = page.get_by_test_id("segment-sentence")
    sentence.filter(has_text="最近 30 天下过单").wait_for()
    text = sentence.inner_text()
    assert "有标签“护肤”或“彩妆”" in text and "有标签“金卡”或“黑金”" in text
    assert "不满足（有标签“勿扰”）" in text
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(page, "segment-tree-390")

    page.locator("input[name=name]").fill("美妆金卡近30天")
    page.get_by_role("button", name="保存分群").click()
    page.get_by_text("分群已保存").wait_for()
    segment = Segment.objects.get(organization=world.org, name="美妆金卡近30天")
    assert segment.last_count == 2
    assert segment.expression == {
        "all": [
            {"tags": {"any": sorted([t["护肤"].pk, t["彩妆"].pk])}},
            {"tags": {"any": sorted([t["金卡"].pk, t["黑金"].pk])}},
            {"not": {"tags": {"any": [t["勿扰"].pk]}}},
            {"orders": {"within_days": 30}},
        ]
    }
    # Reopened, the builder shows the same tree and count.
    page.reload()
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '2'")
    assert page.get_by_test_id("rule-group").count() == 2

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/campaigns/new/")
    page.locator("[name=name]").fill("美妆金卡回购")
    page.locator("[name=segment_id]").select_option(str(segment.pk))
    page.wait_for_function("() => document.getElementById('live-count').textContent.trim() === '2'")
    page.get_by_role("button", name="下一步：内容").click()
    page.locator("[name=text]").fill("金卡专享：护肤彩妆新品试用")
    page.get_by_role("button", name="下一步：排期").click()
    page.get_by_role("button", name="下一步：确认").click()
    page.locator("#review-count").wait_for()
    assert page.locator("#review-count").inner_text() == "2"
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    assert Campaign.objects.get(name="美妆金卡回购").segment_id == segment.pk


def test_operator_picks_a_coupon_a_broadcast_and_a_journey_step(world: Any, login_page: Any) -> None:
    """The builder's pickers for conditions higher layers registered: a coupon found through the
    search box of a long list, a sent campaign for "received a broadcast", a journey step."""
    from campaigns.models import Delivery
    from journeys.models import Enrollment, Journey, JourneyStep, StepRun
    from offers import services as offer_services
    from tests.factories import CustomerFactory
    from tests.offers.helpers import template

    for i in range(8):
        template(world.org, name=f"满减券{i}")
    five = template(world.org, name="立减5元")
    buyers = [CustomerFactory(organization=world.org, home_store=world.store_a) for _ in range(3)]
    for n, customer in enumerate(buyers[:2]):
        code = offer_services.coupon_issue(template=five, customer=customer).code
        offer_services.coupon_redeem(
            organization=world.org, code=code, store=world.store_a, amount=88, external_ref=f"POS-{n}"
        )
    now = timezone.now()
    sent = Campaign.objects.create(organization=world.org, name="三八节群发", planned_at=now)
    Delivery.objects.create(
        organization=world.org, campaign=sent, customer=buyers[0], status="delivered", delivered_at=now
    )
    journey = Journey.objects.create(organization=world.org, name="新客关怀", trigger="manual")
    step = JourneyStep.objects.create(journey=journey, position=1, kind="wait_days", days=2)
    enrollment = Enrollment.objects.create(organization=world.org, journey=journey, customer=buyers[1])
    StepRun.objects.create(enrollment=enrollment, step=step, visit=1, claimed_at=now, outcome="waited")

    page = login_page(world.operator)
    page.goto("/segments/new/")
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '3'")
    root = page.get_by_test_id("rule-group").first
    coupon = root.get_by_test_id("condition").first
    coupon.get_by_label("条件类型").select_option("coupon_redeemed")
    # Nine coupons: the list gets a search box; the match stays, the rest hide.
    coupon.get_by_label("搜索").first.fill("立减")
    assert coupon.get_by_role("button", name="满减券0").is_hidden()
    coupon.get_by_role("button", name="立减5元").click()
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '2'")
    # (received 三八节群发 this week) or (reached 新客关怀's first step).
    root.locator(":scope > .group-actions").get_by_role("button", name="＋ 添加分组").click()
    either = root.get_by_test_id("rule-group").first
    either.get_by_role("button", name="＋ 添加条件").click()
    broadcast = either.get_by_test_id("condition").first
    broadcast.get_by_label("条件类型").select_option("broadcast")
    broadcast.locator("input.days").fill("7")
    broadcast.get_by_role("button", name="三八节群发").click()
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '1'")
    either.get_by_role("button", name="＋ 添加条件").click()
    reached = either.get_by_test_id("condition").nth(1)
    reached.get_by_label("条件类型").select_option("journey")
    reached.get_by_role("button", name="新客关怀 · 1. 等待 N 天", exact=True).click()
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '2'")
    sentence = page.get_by_test_id("segment-sentence")
    sentence.filter(has_text="到达过旅程步骤").wait_for()
    text = sentence.inner_text()
    assert "曾经核销过“立减5元”" in text and "最近 7 天收到过“三八节群发”" in text
    assert "到达过旅程步骤“新客关怀”第 1 步（等待 N 天）" in text
    screenshot(page, "segment-pickers")

    page.locator("input[name=name]").fill("用券且触达")
    page.get_by_role("button", name="保存分群").click()
    page.get_by_text("分群已保存").wait_for()
    segment = Segment.objects.get(organization=world.org, name="用券且触达")
    assert segment.last_count == 2
    assert segment.expression == {
        "all": [
            {"coupon_redeemed": {"template_ids": [five.pk]}},
            {
                "any": [
                    {"broadcast": {"within_days": 7, "campaign_ids": [sent.pk]}},
                    {"journey": {"step_ids": [step.pk]}},
                ]
            },
        ]
    }
