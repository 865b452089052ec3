"""Browser tests of the campaign wizard: a welcome template (活码 step, no audience/schedule) and English strings."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from campaigns.models import Campaign, CampaignKind, CampaignStatus
from channels.models import ChannelAccount, ContactWay
from tests.e2e.conftest import CHROMIUM_ARGS, ensure_chromium, screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def wizard_browser() -> Iterator[Any]:
    """Headless Debian chromium for this module only (tests/e2e's package-scoped one serves that package).

    A module-scoped instance is closed before any other module starts its own: two live Playwright sync
    instances in one thread refuse to start.
    """
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop stays registered (see tests/e2e)
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def login_page(wizard_browser: Any, live_server: Any, transactional_db: Any) -> Iterator[Callable[..., Any]]:
    """``login_page(staff)`` → a page signed in as ``staff`` with ``base_url`` = the live server."""
    contexts: list[Any] = []

    def make(staff: Any) -> Any:
        client = Client()
        client.force_login(staff.user)
        context = wizard_browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        settle(context)
        context.close()


def settle(context: Any) -> None:
    """Let the pages' requests in flight (a live preview, say) finish before the test database is
    flushed: a request still planning in the live server would deadlock with the flush's TRUNCATE."""
    for page in context.pages:
        with contextlib.suppress(Exception):
            page.wait_for_load_state("networkidle", timeout=10_000)


def test_wizard_creates_a_welcome_template_for_one_channel_code(world: Any, login_page: Any) -> None:
    account = ChannelAccount.objects.create(
        organization=world.org, platform="wecom", name="企业微信", external_id="ww1"
    )
    desk = ContactWay.objects.create(organization=world.org, account=account, name="A店收银台", state="desk")
    page = login_page(world.operator)
    page.goto("/campaigns/new/?kind=welcome_template")
    assert page.locator("h1").inner_text() == "新建欢迎语模板"
    # The 活码 replaces the audience; no segment, exclusion or holdout fields, no schedule step.
    assert page.locator("[name=contact_way_id]").is_visible()
    for name in ("segment_id", "exclusion_segment_ids", "holdout_percent"):
        assert not page.locator(f"[name={name}]").is_visible(), name
    assert not page.locator('#steps [data-step="3"]').is_visible()
    page.locator("[name=name]").fill("收银台欢迎语")
    page.locator("[name=contact_way_id]").select_option(str(desk.pk))
    page.get_by_role("button", name="下一步：内容").click()
    page.locator("[name=text]").fill("欢迎光临A店，回复1领取新人礼")
    page.get_by_role("button", name="+ 链接").click()
    page.locator('#atts [data-k="title"]').fill("新人礼")
    page.locator('#atts [data-k="url"]').fill("https://shop.example.com/gift")
    assert "🔗 新人礼" in page.locator("#phone").inner_text()
    assert not page.get_by_role("button", name="下一步：排期").is_visible()
    page.get_by_role("button", name="下一步：确认").click()
    page.locator("#review-welcome").wait_for()
    assert "A店收银台" in page.locator("#review-welcome").inner_text()
    screenshot(page, "welcome-template-wizard-review")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    template = Campaign.objects.get(name="收银台欢迎语")
    assert template.kind == CampaignKind.WELCOME_TEMPLATE and template.status == CampaignStatus.SCHEDULED
    assert template.contact_way_id == desk.pk and template.text == "欢迎光临A店，回复1领取新人礼"
    assert template.attachments == [
        {"msgtype": "link", "link": {"title": "新人礼", "url": "https://shop.example.com/gift"}}
    ]
    page.locator("#welcome-in-use").wait_for()
    assert "正在使用" in page.locator("#welcome-in-use").inner_text()
    # Back in the wizard, switching to a broadcast brings the audience and schedule steps back.
    page.goto("/campaigns/new/?kind=welcome_template")
    page.locator("[name=kind]").select_option("broadcast_single")
    assert page.locator("[name=segment_id]").is_visible() and not page.locator("[name=contact_way_id]").is_visible()
    assert page.locator('#steps [data-step="3"]').is_visible()


def test_wizard_script_strings_follow_the_english_switch(world: Any, login_page: Any, live_server: Any) -> None:
    page = login_page(world.operator)
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}])
    page.goto("/campaigns/new/")
    # Drawn by the script from the translated strings (msgids that have an English translation).
    assert page.locator("#phone").inner_text().strip() == "Preview the broadcast here"
    page.get_by_role("button", name="Next: content").click()
    page.locator('[data-add="image"]').click()
    # An image is picked from the material library (素材库), never typed as a URL.
    page.locator('#atts select[data-k="material_id"]').wait_for()
    assert page.locator('#atts input[data-k="pic_url"]').count() == 0
    assert "🖼 Image" in page.locator("#phone").inner_text()
    assert "图片" not in page.locator("#phone").inner_text()
