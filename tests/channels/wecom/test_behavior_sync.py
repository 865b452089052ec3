"""WeCom staff behaviour data from the WeCom sandbox (through channels.wecom.client) into analytics."""

from __future__ import annotations

from datetime import date

from analytics.models import StaffBehaviorDaily
from channels.wecom.behavior import wecom_behavior_sync
from contacts.models import Staff


def test_behaviour_is_pulled_per_staff_per_day_and_a_resync_overwrites(world, wecom_sandbox) -> None:
    account = wecom_sandbox.connect(world.org)
    Staff.objects.filter(pk=world.store_staff.pk).update(wecom_userid="clerk01")
    Staff.objects.filter(pk=world.manager.pk).update(wecom_userid="mgr01")
    Staff.objects.filter(pk=world.outsider.pk).update(wecom_userid="outsider01")  # another org: never pulled
    day = date(2026, 11, 20)
    written = wecom_behavior_sync(account_id=account.pk, day=day)
    rows = StaffBehaviorDaily.objects.filter(organization=world.org, day=day)
    staff_ids = set(rows.values_list("staff_id", flat=True))
    assert {world.store_staff.pk, world.manager.pk} <= staff_ids
    assert world.outsider.pk not in staff_ids
    assert written == rows.count()
    before = {r.staff_id: r.message_cnt for r in rows}
    wecom_behavior_sync(account_id=account.pk, day=day)
    assert StaffBehaviorDaily.objects.filter(organization=world.org, day=day).count() == len(before)
    assert {r.staff_id: r.message_cnt for r in StaffBehaviorDaily.objects.filter(day=day)} == before
