"""Browser tests of the contacts pages (issue 3): the sidebar tag reaches the operator's list."""

from __future__ import annotations

from typing import Any

import pytest

from contacts.models import CustomerTag
from tests.contacts import views_fixtures
from tests.contacts.views_fixtures import People
from tests.e2e.conftest import screenshot

people = views_fixtures.people

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def test_store_staff_tag_from_the_sidebar_and_the_operator_sees_it(people: People, login_page: Any) -> None:
    w = people.world
    # 1. The store staff member opens the chat sidebar (WeCom hands the page the external_userid).
    sidebar = login_page(w.store_staff, **PHONE)
    sidebar.goto("/sidebar/?external_userid=wm_alice")
    assert sidebar.get_by_test_id("sidebar-customer").inner_text().count("王小丽") == 1
    chip = sidebar.locator(f'.tag-picker .chip-btn[data-tag="{people.skincare.pk}"]')
    assert "on" not in (chip.get_attribute("class") or "")
    # 2. One tap tags (and saves); the single-choice group swaps on a second chip.
    chip.tap()
    sidebar.wait_for_function(
        "sel => document.querySelector(sel).classList.contains('on')",
        arg=f'.tag-picker .chip-btn[data-tag="{people.skincare.pk}"]',
    )
    sidebar.get_by_text("已保存").wait_for()
    assert CustomerTag.objects.filter(customer=people.alice, tag=people.skincare).exists()
    silver = sidebar.locator(f'.tag-picker .chip-btn[data-tag="{people.silver.pk}"]')
    silver.tap()
    sidebar.wait_for_function(
        "sel => !document.querySelector(sel).classList.contains('on')",
        arg=f'.tag-picker .chip-btn[data-tag="{people.gold.pk}"]',
    )
    # 3. A note from the sidebar.
    sidebar.locator("textarea[name=body]").fill("在侧边栏记一笔：想要小样")
    sidebar.get_by_role("button", name="保存跟进记录").click()
    sidebar.get_by_text("在侧边栏记一笔：想要小样").first.wait_for()
    screenshot(sidebar, "sidebar-390")

    # 4. The operator's customer list shows the new tag on that row.
    console = login_page(w.operator)
    console.goto("/customers/")
    row = console.locator(f'tr[data-customer="{people.alice.pk}"]')
    row.locator(".tag-cell").get_by_text("护肤").wait_for()
    assert "银卡" in row.locator(".tag-cell").inner_text()
    assert "金卡" not in row.locator(".tag-cell").inner_text()
    screenshot(console, "customer-list-1280")


def test_customer_list_and_bulk_tag_on_a_phone(people: People, login_page: Any) -> None:
    page = login_page(people.world.operator, **PHONE)
    page.goto("/customers/")
    screenshot(page, "customer-list-390")
    page.locator(f'.row-select[value="{people.bob.pk}"]').check()
    page.locator("#bulk-tag").select_option(str(people.skincare.pk))
    page.locator("#bulk-apply").click()
    page.locator(f'tr[data-customer="{people.bob.pk}"] .tag-cell').get_by_text("护肤").wait_for()
    people.bob.refresh_from_db()
    assert people.skincare.pk in people.bob.tag_ids


def test_segment_builder_counts_live(people: People, login_page: Any) -> None:
    page = login_page(people.world.operator)
    page.goto("/segments/new/")
    count = page.get_by_test_id("segment-count")
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '2'")
    page.get_by_test_id("condition").first.get_by_role("button", name="金卡").click()
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '1'")
    assert count.inner_text().strip() == "1"
    page.locator("input[name=name]").fill("金卡客户")
    page.get_by_role("button", name="保存分群").click()
    page.get_by_text("分群已保存").wait_for()
    screenshot(page, "segment-builder-1280")


def test_opt_out_asks_for_confirmation_first(people: People, login_page: Any) -> None:
    page = login_page(people.world.operator, **PHONE)
    page.goto(f"/customers/{people.alice.pk}/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="退订营销").click()
    people.alice.refresh_from_db()
    assert people.alice.opted_out_at is None
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="退订营销").click()
    page.get_by_text("已退订：该客户不会再收到营销消息").wait_for()
    people.alice.refresh_from_db()
    assert people.alice.opted_out_at is not None
    screenshot(page, "profile-390")


def test_an_operator_exports_then_erases_a_persons_data(people: People, login_page: Any) -> None:
    from contacts.models import Identity, PrivacyRecord

    page = login_page(people.world.operator, **PHONE)
    page.goto(f"/customers/{people.alice.pk}/")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出个人信息（JSON）").click()
    assert download.value.suggested_filename == f"customer-{people.alice.pk}-personal-data.json"
    page.locator("textarea[name=reason]").fill("本人来电要求删除")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="删除个人信息").click()
    people.alice.refresh_from_db()
    assert people.alice.erased_at is None  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="删除个人信息").click()
    page.get_by_test_id("erased").wait_for()
    screenshot(page, "profile-erased-390")
    people.alice.refresh_from_db()
    assert people.alice.erased_at is not None and people.alice.name == ""
    assert not Identity.objects.filter(customer=people.alice).exists()
    assert list(PrivacyRecord.objects.order_by("id").values_list("action", flat=True)) == ["export", "erase"]


def test_import_shows_progress_and_rejected_rows(people: People, login_page: Any, tmp_path: Any) -> None:
    upload = tmp_path / "客户名单.csv"
    upload.write_text("姓名,手机号,门店编码\n新客甲,13711112222,A\n坏号码,123,A\n", encoding="utf-8")
    page = login_page(people.world.operator)
    page.goto("/customers/import/")
    page.locator("input[type=file]").set_input_files(str(upload))
    page.get_by_role("button", name="开始导入").click()
    page.locator("#import-rejected td", has_text="3").first.wait_for()
    assert page.locator("#import-bar").evaluate("el => el.style.width") == "100%"
    screenshot(page, "import-1280")


def test_segment_builder_filters_on_the_brands_custom_fields(people: People, login_page: Any) -> None:
    from contacts.models import Customer, Segment
    from contacts.services import custom_field_create

    org = people.world.org
    custom_field_create(organization=org, key="skin", label="肤质", kind="choice", options=["干性", "油性"])
    custom_field_create(organization=org, key="points", label="积分", kind="number")
    Customer.objects.filter(pk=people.alice.pk).update(attributes={"skin": "油性", "points": 500})
    Customer.objects.filter(pk=people.bob.pk).update(attributes={"skin": "干性", "points": 900})

    page = login_page(people.world.operator)
    page.goto("/segments/new/")
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '2'")
    skin = page.get_by_test_id("condition").first
    skin.get_by_label("条件类型").select_option("custom")
    skin.get_by_label("自定义字段").select_option("skin")
    skin.get_by_role("button", name="干性").click()
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '1'")
    page.get_by_role("button", name="＋ 添加条件").first.click()
    points = page.get_by_test_id("condition").nth(1)
    points.get_by_label("条件类型").select_option("custom")
    points.get_by_label("自定义字段").select_option("points")
    points.locator(".cond-body input").first.fill("1000")
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '0'")
    points.locator(".cond-body input").first.fill("800")
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '1'")
    page.locator("input[name=name]").fill("干性高积分")
    page.get_by_role("button", name="保存分群").click()
    page.get_by_text("分群已保存").wait_for()
    saved = Segment.objects.get(organization=org, name="干性高积分")
    assert saved.expression == {"all": [{"custom": {"skin": {"in": ["干性"]}}}, {"custom": {"points": {"min": 800}}}]}
    # Reopened, the builder shows the saved conditions and the same count.
    page.goto(f"/segments/{saved.pk}/")
    page.wait_for_function("() => document.querySelector('#seg-count').textContent.trim() === '1'")
    skin = page.get_by_test_id("condition").first
    assert "on" in (skin.get_by_role("button", name="干性").get_attribute("class") or "")
