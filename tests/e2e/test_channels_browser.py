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


@pytest.mark.parametrize("width", [390, 1440])
def test_a_departed_members_groups_are_handed_over_from_the_waiting_list(
    world: Any,
    login_page: Any,
    wecom_sandbox: Any,  # noqa: F811
    width: int,
) -> None:
    from channels.wecom.sync import full_sync
    from contacts.models import CustomerGroup, Staff

    wecom_sandbox.add_member("guide_b", "导购B")
    wecom_sandbox.add_member("guide_c", "导购C")
    account = wecom_sandbox.connect(world.org)
    ext = wecom_sandbox.seed_customer("guide_b", name="甲")
    chat = wecom_sandbox.create_group("guide_b", name="会员福利群", members=[ext])
    full_sync(account=account)
    wecom_sandbox.resign_member("guide_b")
    full_sync(account=account)  # 导购B has left
    leaver = Staff.objects.get(wecom_userid="guide_b")
    taker = Staff.objects.get(wecom_userid="guide_c")
    page = login_page(world.operator, width=width, height=900)
    page.goto("/channels/transfers/")
    row = page.locator("tr", has_text=leaver.name)
    row.get_by_role("link", name="转接客户群").click()
    page.wait_for_url("**/channels/transfers/?kind=resigned&handover=*#group-transfer")
    assert page.locator("#id_group-kind").input_value() == "resigned"
    assert page.locator("#id_group-handover").input_value() == str(leaver.pk)
    page.locator("#id_group-takeover").select_option(str(taker.pk))
    page.locator("#group-transfer button[type=submit]").click()
    page.wait_for_load_state()
    assert "客户群已转接" in page.content()
    assert "客户群转接记录" in page.content()
    assert wecom_sandbox.snapshot()["groups"][chat]["owner"] == "guide_c"
    assert CustomerGroup.objects.get(wecom_chat_id=chat).owner_id == taker.pk
    screenshot(page, f"group-transfers-{width}")
