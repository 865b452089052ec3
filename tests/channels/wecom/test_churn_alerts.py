"""Churn alerts (流失提醒) and the bulk-deletion alarm (风控) from WeCom's delete callbacks, through the
sandbox; the 流失 report lists the same ended follows."""

from __future__ import annotations

import pytest

from analytics import reports
from channels.app_messages import app_message_deliver
from channels.models import AppMessage
from contacts import services as contacts
from contacts.access import actor_for_user
from contacts.models import Customer
from tests.channels.wecom.test_events import Relay


@pytest.fixture
def relay(db, wecom_sandbox, world):
    for staff, userid in ((world.store_staff, "guide_a"), (world.manager, "mgr"), (world.operator, "op")):
        staff.wecom_userid = userid
        staff.save(update_fields=["wecom_userid"])
        wecom_sandbox.add_member(userid, staff.name)
    account = wecom_sandbox.connect(world.org, default_store=world.store_a)
    return Relay(wecom_sandbox, account)


def _deliver_all():
    for pk in AppMessage.objects.order_by("pk").values_list("pk", flat=True):
        app_message_deliver(message_id=pk)


def test_a_customer_deleting_a_member_alerts_the_member_and_by_setting_the_manager_once(relay, wecom_sandbox, world):
    world.org.churn_alert_manager = True
    world.org.save(update_fields=["churn_alert_manager"])
    ext = wecom_sandbox.scan(userid="guide_a", name="林小姐")["external_userid"]
    relay()
    wecom_sandbox.customer_deletes(ext, "guide_a")
    relay()
    message = AppMessage.objects.get()
    assert sorted(message.staff_ids) == sorted([world.store_staff.pk, world.manager.pk])
    customer = Customer.objects.get()
    assert message.customer_id == customer.pk and message.url.endswith(f"/customers/{customer.pk}/")
    _deliver_all()
    received = wecom_sandbox.app_messages()
    assert len(received) == 1 and sorted(received[0]["touser"]) == ["guide_a", "mgr"]
    assert "林小姐" in received[0]["textcard"]["description"]
    # Erasure leaves the outcome and no name.
    contacts.customer_erase(customer=customer, by=world.operator, reason="本人申请")
    message.refresh_from_db()
    assert "林小姐" not in message.text and message.customer_id is None and message.status == "sent"


def test_no_alert_when_the_brand_turned_it_off_or_the_member_deleted_the_customer(relay, wecom_sandbox, world):
    world.org.churn_alert_staff = False
    world.org.save(update_fields=["churn_alert_staff"])
    a = wecom_sandbox.scan(userid="guide_a", name="甲")["external_userid"]
    b = wecom_sandbox.scan(userid="guide_a", name="乙")["external_userid"]
    relay()
    wecom_sandbox.customer_deletes(a, "guide_a")
    wecom_sandbox.member_deletes("guide_a", b)
    relay()
    assert not AppMessage.objects.exists()


def test_a_member_deleting_more_than_the_threshold_in_a_day_raises_one_alarm(relay, wecom_sandbox, world):
    world.org.churn_alarm_daily_deletes = 2
    world.org.save(update_fields=["churn_alarm_daily_deletes"])
    externals = [wecom_sandbox.scan(userid="guide_a", name=f"客{n}")["external_userid"] for n in range(4)]
    relay()
    for ext in externals[:2]:
        wecom_sandbox.member_deletes("guide_a", ext)
    relay()
    assert not AppMessage.objects.exists()  # at the threshold, not past it
    for ext in externals[2:]:
        wecom_sandbox.member_deletes("guide_a", ext)
    relay()
    alarm = AppMessage.objects.get()  # the 3rd deletion alarms; the 4th is the same member and day
    assert sorted(alarm.staff_ids) == sorted([world.manager.pk, world.operator.pk])
    assert "3" in alarm.text and "/reports/churn/" in alarm.url
    _deliver_all()
    assert sorted(wecom_sandbox.app_messages()[0]["touser"]) == ["mgr", "op"]


def test_the_churn_report_counts_each_kind_within_the_actors_scope(relay, wecom_sandbox, world):
    a = wecom_sandbox.scan(userid="guide_a", name="甲")["external_userid"]
    b = wecom_sandbox.scan(userid="guide_a", name="乙")["external_userid"]
    wecom_sandbox.scan(userid="guide_a", name="丙")
    relay()
    wecom_sandbox.customer_deletes(a, "guide_a")
    wecom_sandbox.member_deletes("guide_a", b)
    relay()
    Customer.objects.filter(name="乙").update(home_store=world.store_b)
    operator = reports.report_filter(actor=actor_for_user(world.operator.user), params={})
    report = reports.REPORTS["churn"](operator)
    assert [s.value for s in report.stats] == [2, 1, 1, 0]
    detail = report.tables[1]
    assert sorted((r[0], r[4]) for r in detail.rows) == [("乙", "员工删除了客户"), ("甲", "客户删除了员工")]
    assert report.tables[0].rows[0][2:5] == [1, 1, 0]
    manager = reports.report_filter(actor=actor_for_user(world.manager.user), params={})
    assert [r[0] for r in reports.REPORTS["churn"](manager).tables[1].rows] == ["甲"]  # 乙 is store B's now


def test_the_churn_report_page_and_export(relay, world, wecom_sandbox):
    ext = wecom_sandbox.scan(userid="guide_a", name="丁")["external_userid"]
    relay()
    wecom_sandbox.customer_deletes(ext, "guide_a")
    relay()
    client = world.client_for(world.operator)
    page = client.get("/reports/churn/")
    assert page.status_code == 200 and "流失明细" in page.content.decode() and "丁" in page.content.decode()
    export = client.get("/reports/churn/export.csv")
    assert export.status_code == 200 and "丁" in export.content.decode("utf-8-sig")
