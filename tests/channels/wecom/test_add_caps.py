"""渠道活码 daily add caps: the sandbox's member list switches to the backups when a member is full,
and back at the next Beijing day (the product speaks to the sandbox over HTTP)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from channels.errors import PlatformError
from channels.models import ContactWayRoster, RosterReason, RosterStatus
from channels.wecom import add_caps
from channels.wecom.client import WeComClient
from channels.wecom.contact_ways import ContactWayError, contact_way_save
from tests.channels.wecom.test_events import Relay
from tests.factories import StaffFactory


@pytest.fixture
def capped(db, wecom_sandbox, world):
    for userid in ("guide_a", "guide_b", "backup_c"):
        wecom_sandbox.add_member(userid, userid)
    account = wecom_sandbox.connect(world.org, default_store=world.store_a)
    staff = {
        u: StaffFactory(organization=world.org, store=world.store_a, wecom_userid=u, name=name)
        for u, name in (("guide_a", "导购甲"), ("guide_b", "导购乙"), ("backup_c", "备用丙"))
    }
    way = contact_way_save(
        account=account, name="抖音直播间", state="dy_live", staff=[staff["guide_a"], staff["guide_b"]],
        daily_cap=2, member_caps={"guide_b": 1}, backup_staff=[staff["backup_c"]],
    )  # fmt: skip
    assert way.config_id and not way.sync_error
    return account, way, staff, Relay(wecom_sandbox, account)


def _sandbox_users(account, way) -> list[str]:
    """WeCom's copy of the code, read back over HTTP like the product reads WeCom."""
    data = WeComClient.for_account(account).post("externalcontact/get_contact_way", {"config_id": way.config_id})
    return list(data["contact_way"]["user"])


def test_a_full_member_is_replaced_by_the_backup_and_restored_the_next_beijing_day(capped, wecom_sandbox):
    account, way, _staff, relay = capped
    assert _sandbox_users(account, way) == ["guide_a", "guide_b"]
    assert _sandbox_users(account, way) == add_caps.current_serving(way, add_caps.beijing_day(timezone.now()))

    assert wecom_sandbox.scan(state="dy_live", name="顾客1")["userid"] == "guide_a"
    relay()
    assert _sandbox_users(account, way) == ["guide_a", "guide_b"]  # 1/2: still room
    assert not ContactWayRoster.objects.exists()

    assert wecom_sandbox.scan(state="dy_live", name="顾客2")["userid"] == "guide_b"
    relay()  # guide_b's own cap is 1: the backup takes guide_b's place
    assert _sandbox_users(account, way) == ["guide_a", "backup_c"]
    switch = ContactWayRoster.objects.get()
    assert (switch.reason, switch.status, switch.userids, switch.capped) == (
        RosterReason.CAP, RosterStatus.DONE, ["guide_a", "backup_c"], ["guide_b"],
    )  # fmt: skip

    assert wecom_sandbox.scan(state="dy_live", name="顾客3")["userid"] == "guide_a"
    relay()  # everyone full: the backups alone, never an empty list
    assert _sandbox_users(account, way) == ["backup_c"]
    assert wecom_sandbox.scan(state="dy_live", name="顾客4")["userid"] == "backup_c"
    relay()
    assert _sandbox_users(account, way) == ["backup_c"]
    way.refresh_from_db()
    today = add_caps.beijing_day(timezone.now())
    assert way.serving_userids == ["backup_c"] and way.serving_day == today
    counts = add_caps.adds_today([way], today)
    assert counts == {(way.pk, "guide_a"): 2, (way.pk, "guide_b"): 1, (way.pk, "backup_c"): 1}

    assert add_caps.caps_rollover(clock=timezone.now) == 0  # same day: nothing to restore
    tomorrow = timezone.now() + timedelta(days=1)
    assert add_caps.caps_rollover(clock=lambda: tomorrow) == 1
    assert _sandbox_users(account, way) == ["guide_a", "guide_b"]
    way.refresh_from_db()
    assert way.serving_userids == [] and way.serving_day is None
    restore = ContactWayRoster.objects.order_by("-id").first()
    assert restore is not None and restore.reason == RosterReason.RESTORE and restore.status == RosterStatus.DONE
    assert add_caps.caps_rollover(clock=lambda: tomorrow) == 0  # idempotent


def test_the_list_page_shows_todays_adds_and_who_is_serving(capped, wecom_sandbox, world):
    _account, _way, _staff, relay = capped
    wecom_sandbox.scan(state="dy_live", name="顾客1")
    wecom_sandbox.scan(state="dy_live", name="顾客2")
    relay()
    html = world.client_for(world.operator).get(reverse("channels:contactway_list")).content.decode()
    assert "今日 1/2" in html and "今日 1/1" in html
    assert "备用接待中" in html and "正在接待：导购甲、备用丙" in html


def test_a_refused_switch_is_recorded_and_shown(capped, wecom_sandbox):
    account, way, _staff, relay = capped
    del wecom_sandbox.fake.corp(wecom_sandbox.corp_id).members["backup_c"]  # left the company on WeCom
    wecom_sandbox.scan(state="dy_live", name="顾客1")
    wecom_sandbox.scan(state="dy_live", name="顾客2")
    relay()
    switch = ContactWayRoster.objects.get()
    assert switch.status == RosterStatus.FAILED and "60111" in switch.error
    way.refresh_from_db()
    assert "切换接待员工失败" in way.sync_error and way.serving_userids == []
    assert _sandbox_users(account, way) == ["guide_a", "guide_b"]


def test_the_sandbox_refuses_an_empty_or_unknown_member_list_like_wecom(capped):
    account, way, _staff, _relay = capped
    client = WeComClient.for_account(account)
    with pytest.raises(PlatformError) as empty:
        client.post("externalcontact/update_contact_way", {"config_id": way.config_id, "user": []})
    with pytest.raises(PlatformError) as unknown:
        client.post("externalcontact/update_contact_way", {"config_id": way.config_id, "user": ["nobody"]})
    assert (empty.value.code, unknown.value.code) == (40058, 60111)
    assert _sandbox_users(account, way) == ["guide_a", "guide_b"]


def test_caps_are_validated_with_clear_messages(capped):
    account, way, staff, _relay = capped
    members = [staff["guide_a"], staff["guide_b"]]
    with pytest.raises(ContactWayError, match="请至少选择一位备用员工"):
        contact_way_save(account=account, way=way, name="x", staff=members, daily_cap=3, backup_staff=[])
    with pytest.raises(ContactWayError, match="不是该活码的接待员工"):
        contact_way_save(
            account=account, way=way, name="x", staff=members, member_caps={"backup_c": 2},
            backup_staff=[staff["backup_c"]],
        )  # fmt: skip
    with pytest.raises(ContactWayError, match="至少为 1"):
        contact_way_save(
            account=account, way=way, name="x", staff=members, daily_cap=0, backup_staff=[staff["backup_c"]]
        )
    way.refresh_from_db()
    assert way.name == "抖音直播间" and way.daily_cap == 2 and way.member_caps == {"guide_b": 1}


def test_the_form_edits_caps_and_backups(capped, world):
    _account, way, staff, _relay = capped
    client = world.client_for(world.operator)
    url = reverse("channels:contactway_edit", args=[way.pk])
    base = {"name": "抖音直播间", "channel": "wecom", "staff": [staff["guide_a"].pk, staff["guide_b"].pk]}
    bad = client.post(url, {**base, "daily_cap": "5", "member_caps": "guide_a 3"}).content.decode()
    assert "第 1 行格式不对" in bad and "请至少选择一位备用员工" in bad
    bad = client.post(url, {**base, "member_caps": "someone=3", "backup_staff": [staff["backup_c"].pk]})
    assert "这些账号不是本活码的接待员工：someone" in bad.content.decode()
    way.refresh_from_db()
    assert way.daily_cap == 2
    ok = client.post(
        url, {**base, "daily_cap": "5", "member_caps": "guide_a＝8", "backup_staff": [staff["backup_c"].pk]}
    )
    assert ok.status_code == 302
    way.refresh_from_db()
    assert way.daily_cap == 5 and way.member_caps == {"guide_a": 8}
    assert list(way.backup_staff.values_list("wecom_userid", flat=True)) == ["backup_c"]
    page = client.get(url).content.decode()
    assert "guide_a=8" in page
