"""渠道活码 working-hours schedules: at each window edge (Beijing time, frozen clock) the roster beat
pushes the window's staff to WeCom with update_contact_way, and the code's own members outside."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from channels.models import ContactWayRoster, ContactWayWindow, RosterReason, RosterStatus
from channels.wecom import add_caps, schedules
from channels.wecom.client import WeComClient
from channels.wecom.contact_ways import ContactWayError, contact_way_save
from tests.channels.wecom.test_events import Relay
from tests.factories import StaffFactory

BJ = ZoneInfo("Asia/Shanghai")
WINDOWS = "1-5 09:00-18:00 guide_a\n6,7 00:00-24:00 guide_b,guide_c"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """A Beijing moment ``day`` days after Monday 2026-11-30 (4 = Friday 12-04, 5 = Saturday, 7 = Monday)."""
    return dt.datetime(2026, 11, 30, hour, minute, second, tzinfo=BJ) + dt.timedelta(days=day)


@pytest.fixture
def scheduled(db, wecom_sandbox, world):
    for userid in ("guide_a", "guide_b", "guide_c"):
        wecom_sandbox.add_member(userid, userid)
    account = wecom_sandbox.connect(world.org, default_store=world.store_a)
    staff = {
        u: StaffFactory(organization=world.org, store=world.store_a, wecom_userid=u, name=name)
        for u, name in (("guide_a", "工作日导购"), ("guide_b", "周末导购"), ("guide_c", "店长"))
    }
    way = contact_way_save(account=account, name="门店活码", state="store_a", staff=[staff["guide_c"]], windows=WINDOWS)
    assert way.config_id and not way.sync_error
    return account, way, staff


def _users(account, way) -> list[str]:
    data = WeComClient.for_account(account).post("externalcontact/get_contact_way", {"config_id": way.config_id})
    return list(data["contact_way"]["user"])


def test_the_window_edges_switch_the_users_on_wecom(scheduled, wecom_sandbox):
    account, way, _staff = scheduled
    assert wecom_sandbox.snapshot()["contact_ways"][way.config_id]["type"] == 2  # a 多人 code: its list changes

    add_caps.caps_rollover(clock=lambda: at(4, 17, 59, 59))  # Friday, inside 09:00-18:00
    assert _users(account, way) == ["guide_a"]
    relay = Relay(wecom_sandbox, account)
    assert wecom_sandbox.scan(state="store_a", name="工作日顾客")["userid"] == "guide_a"
    relay()
    assert add_caps.caps_rollover(clock=lambda: at(4, 17, 59, 59)) == 0  # nothing changes within the window

    assert add_caps.caps_rollover(clock=lambda: at(4, 18, 0, 0)) == 1  # the end is exclusive
    assert _users(account, way) == ["guide_c"]
    restore = ContactWayRoster.objects.order_by("-id").first()
    assert (restore.reason, restore.status, restore.userids) == (RosterReason.RESTORE, RosterStatus.DONE, ["guide_c"])
    way.refresh_from_db()
    assert way.serving_userids == []  # WeCom holds the code's own members again

    assert add_caps.caps_rollover(clock=lambda: at(4, 23, 59, 59)) == 0
    assert add_caps.caps_rollover(clock=lambda: at(5, 0, 0, 0)) == 1  # Saturday 00:00 Beijing
    assert _users(account, way) == ["guide_b", "guide_c"]
    weekend = ContactWayRoster.objects.order_by("-id").first()
    assert (weekend.reason, weekend.userids, weekend.day) == (
        RosterReason.SCHEDULE,
        ["guide_b", "guide_c"],
        at(5, 0).date(),
    )
    way.refresh_from_db()
    assert way.serving_userids == ["guide_b", "guide_c"]
    assert add_caps.current_serving(way, at(5, 0).date()) == ["guide_b", "guide_c"]
    assert wecom_sandbox.scan(state="store_a", name="周末顾客")["userid"] in {"guide_b", "guide_c"}

    # Monday 08:59 Beijing (= Monday 00:59 UTC): no window yet → the own member; 09:00 → the weekday staff.
    add_caps.caps_rollover(clock=lambda: at(7, 8, 59))
    assert _users(account, way) == ["guide_c"]
    add_caps.caps_rollover(clock=lambda: at(7, 9, 0).astimezone(dt.UTC))  # the clock's zone does not matter
    assert _users(account, way) == ["guide_a"]


def test_caps_apply_to_the_window_staff(scheduled):
    account, way, staff = scheduled
    way = contact_way_save(
        account=account, way=way, name=way.name, staff=[staff["guide_c"]], daily_cap=1,
        backup_staff=[staff["guide_b"]],
    )  # fmt: skip
    roster = add_caps.roster_of(way, {(way.pk, "guide_a"): 1}, at(4, 10))
    assert roster.members == ["guide_a"] and roster.capped == ["guide_a"] and roster.serving == ["guide_b"]


def test_windows_are_validated_and_edited_on_the_form(scheduled, world):
    _account, way, staff = scheduled
    assert [schedules.window_label(w) for w in way.windows.all()] == [
        "周一、周二、周三、周四、周五 09:00–18:00",
        "周六、周日 00:00–24:00",
    ]
    for bad, message in [
        ("1-5 09:00-18:00 guide_a\n5 17:00-20:00 guide_b", "重叠"),
        ("1-5 18:00-09:00 guide_a", "开始时间要早于结束时间"),
        ("8 09:00-18:00 guide_a", "格式不对"),
        ("1 09:00-25:00 guide_a", "星期或时间无效"),
        ("1 09:00-18:00 stranger", "stranger"),
    ]:
        with pytest.raises(ContactWayError, match=message):
            contact_way_save(account=way.account, way=way, name=way.name, staff=[staff["guide_c"]], windows=bad)
    assert ContactWayWindow.objects.filter(way=way).count() == 2  # nothing written

    client = world.client_for(world.operator)
    url = reverse("channels:contactway_edit", args=[way.pk])
    assert "6,7 00:00-24:00 guide_b,guide_c" in client.get(url).content.decode()
    base = {"name": "门店活码", "state": "store_a", "channel": "wecom", "staff": [staff["guide_c"].pk]}
    page = client.post(url, {**base, "windows": "1 09:00-18:00 stranger"}).content.decode()
    assert "这些企业微信账号不是本企业的员工：stranger" in page
    assert client.post(url, {**base, "windows": "6 10:00-22:00 guide_b"}).status_code == 302
    window = ContactWayWindow.objects.get(way=way)
    assert (window.weekdays, window.start, window.end) == ([6], dt.time(10), dt.time(22))
    listing = client.get(reverse("channels:contactway_list")).content.decode()
    assert "周六 10:00–22:00：周末导购" in listing
    assert client.post(url, {**base, "windows": ""}).status_code == 302
    assert not ContactWayWindow.objects.filter(way=way).exists()
