"""任务宝 on a phone (390 px): the store clerk enrols a customer from the profile, and the customer's
poster (no login) shows the QR of their own 活码 and the progress, without sideways scrolling."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from referrals.models import ReferralParticipant
from referrals.services import poster_link
from tests.e2e.conftest import screenshot
from tests.factories import CustomerFactory
from tests.referrals.conftest import make_campaign, setup  # noqa: F401  (pytest fixture)
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.e2e


def test_the_clerk_enrols_a_customer_and_the_poster_fits_a_phone(
    login_page: Any,
    browser: Any,
    live_server: Any,
    setup: Any,  # noqa: F811
    world: Any,
    settings: Any,
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    campaign = make_campaign(setup, world, name="老带新 · 邀 2 位好友")
    customer = CustomerFactory(organization=world.org, home_store=world.store_a, name="海报客", phone="13812345678")
    page = login_page(world.store_staff, width=390, height=844)
    page.goto(f"/customers/{customer.pk}/")
    form = page.get_by_test_id("referral-enrol-form")
    expect(form).to_be_visible()
    form.get_by_role("button", name="邀请参加").click()
    expect(page.get_by_test_id("referral-joined")).to_contain_text("老带新 · 邀 2 位好友")
    participant = ReferralParticipant.objects.get(campaign=campaign, customer=customer)
    assert participant.contact_way is not None and participant.contact_way.config_id

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    try:
        poster = phone.new_page()
        poster.goto(poster_link(participant.token))
        expect(poster.get_by_test_id("referral-qr")).to_be_visible()
        expect(poster.get_by_test_id("referral-progress")).to_have_text("0 / 2")
        assert "13812345678" not in poster.content() and "5678" not in poster.inner_text("body")
        assert poster.evaluate("document.scrollingElement.scrollWidth") <= 390
        screenshot(poster, "referral-poster-390")
    finally:
        phone.close()
