"""Browser test of the 客户继承 page on a phone: a departed member's customers are handed over in two taps."""

from __future__ import annotations

from typing import Any

import pytest

from contacts.services import staff_depart
from tests.e2e.conftest import screenshot
from tests.factories import CustomerFactory, FollowFactory, StaffFactory
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.e2e


def test_a_departed_member_is_listed_and_one_tap_fills_the_transfer_form(
    world: Any,
    login_page: Any,
    wecom_sandbox: Any,  # noqa: F811
) -> None:
    wecom_sandbox.add_member("guide_a", "导购A")
    wecom_sandbox.connect(world.org)
    leaver = StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_a", name="离职导购小周")
    for _ in range(2):
        FollowFactory(customer=CustomerFactory(organization=world.org, home_store=world.store_a), staff=leaver)
    staff_depart(staff=leaver)
    page = login_page(world.operator, width=390, height=844)
    page.goto("/channels/transfers/")
    row = page.locator("tr", has_text="离职导购小周")
    assert "2" in row.inner_text()
    row.get_by_role("link", name="转接客户").click()
    page.wait_for_url("**/channels/transfers/?kind=resigned&handover=*")
    assert page.locator("#id_kind").input_value() == "resigned"
    assert page.locator("#id_handover").input_value() == str(leaver.pk)
    screenshot(page, "transfers-390")
