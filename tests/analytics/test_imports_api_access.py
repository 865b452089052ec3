"""Order import (CSV/.xlsx, bad rows with line numbers), the orders API, and who sees which report."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from analytics.models import Order, OrderImport
from tests.analytics.factories import at, record
from tests.factories import CustomerFactory

CSV = """外部单号,手机号,姓名,门店编码,导购,金额,退款金额,支付时间,商品
P-1,13800000001,张三,A,clerk,199.00,,2026-03-01 14:30,面霜
P-2,13800000001,张三,A,,"1,280.50",80,2026/03/05 10:00,精华
P-3,13800000002,李四,A,,abc,,2026-03-05 10:00,
P-4,,王五,A,,100,,2026-03-05 10:00,
P-5,13800000003,赵六,Z,,100,,2026-03-05 10:00,
P-6,13800000001,张三,A,,100,,2026年3月5日,
,13800000001,张三,A,,100,,2026-03-05 10:00,
P-7,13800000001,张三,A,,100,200,2026-03-05 10:00,
"""


@pytest.fixture
def buyer(world):
    return CustomerFactory(organization=world.org, home_store=world.store_a, phone="13800000001")


def test_csv_import_reports_bad_rows_with_line_numbers_and_is_idempotent(world, buyer):
    client = world.client_for(world.operator)
    upload = SimpleUploadedFile("pos.csv", CSV.encode("utf-8-sig"), content_type="text/csv")
    resp = client.post("/reports/orders/import/", {"file": upload})
    assert resp.status_code == 302
    job = OrderImport.objects.get()
    assert (job.total_rows, job.created_rows, job.error_rows) == (8, 2, 6)
    lines = {e["line"]: e["reason"] for e in job.errors}
    assert "不是数字" in lines[4]
    assert "手机号和客户ID都为空" in lines[5]
    assert "找不到门店" in lines[6]
    assert "格式不对" in lines[7]
    assert "外部单号为空" in lines[8]
    assert "退款金额大于订单金额" in lines[9]
    o2 = Order.objects.get(external_ref="P-2")
    assert o2.amount == Decimal("1280.50") and o2.refunded_amount == Decimal("80")
    assert Order.objects.get(external_ref="P-1").staff == world.store_staff
    buyer.refresh_from_db()
    assert buyer.order_count == 2 and buyer.ltv == Decimal("1399.50")
    # Importing the same file again creates nothing new.
    client.post("/reports/orders/import/", {"file": SimpleUploadedFile("pos.csv", CSV.encode("utf-8-sig"))})
    again = OrderImport.objects.order_by("-pk").first()
    assert again.created_rows == 0 and again.duplicate_rows >= 2
    assert Order.objects.filter(organization=world.org, external_ref__in=["P-1", "P-2"]).count() == 2


def test_xlsx_import_and_unknown_format(world, buyer):
    wb = Workbook()
    ws = wb.active
    ws.append(["订单号", "会员手机号", "实付金额", "交易时间"])
    import datetime as dt

    ws.append(["X-1", "13800000001", 88, dt.datetime(2026, 4, 1, 9, 0)])
    ws.append(["X-2", "13800000001", "bad", dt.datetime(2026, 4, 1, 9, 0)])
    buf = io.BytesIO()
    wb.save(buf)
    client = world.client_for(world.manager)
    client.post("/reports/orders/import/", {"file": SimpleUploadedFile("mall.xlsx", buf.getvalue())})
    job = OrderImport.objects.get()
    assert job.created_rows == 1 and job.errors == [{"line": 3, "reason": "金额“bad”不是数字"}]
    resp = client.post("/reports/orders/import/", {"file": SimpleUploadedFile("x.pdf", b"%PDF")}, follow=True)
    assert "只支持 .csv 或 .xlsx" in resp.content.decode()


def test_large_import_goes_to_the_reports_task(world, buyer, django_capture_on_commit_callbacks, monkeypatch):
    from analytics import imports, tasks

    monkeypatch.setattr(imports, "SYNC_MAX_ROWS", 1)
    sent = []
    monkeypatch.setattr(tasks.import_orders, "delay", lambda *a: sent.append(a))
    client = world.client_for(world.operator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/reports/orders/import/", {"file": SimpleUploadedFile("pos.csv", CSV.encode())})
    job = OrderImport.objects.get()
    assert job.status == "pending" and sent == [(job.pk, None)]
    assert tasks.import_orders.name == "analytics.imports.orders"
    tasks.import_orders(job.pk, None)  # what the worker runs
    tasks.import_orders(job.pk, None)  # a redelivery changes nothing
    job.refresh_from_db()
    assert job.status == "done" and job.created_rows == 2
    assert Order.objects.count() == 2


def test_api_create_is_idempotent_by_external_ref_and_refund(world, buyer):
    client = world.client_for(world.operator)
    body = {"external_ref": "API-1", "phone": "13800000001", "amount": "300.00", "paid_at": "2026-05-01T10:00:00+08:00"}
    r1 = client.post("/api/v1/orders/", body, content_type="application/json")
    r2 = client.post("/api/v1/orders/", body, content_type="application/json")
    assert (r1.status_code, r2.status_code) == (201, 200)
    assert r1.json()["id"] == r2.json()["id"] and r1.json()["channel"] == buyer.source_channel
    oid = r1.json()["id"]
    r = client.post(f"/api/v1/orders/{oid}/refund/", {"amount": "100"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "partially_refunded"
    r = client.post(f"/api/v1/orders/{oid}/refund/", {"amount": "500"}, content_type="application/json")
    assert r.status_code == 400 and "最多还可退" in r.json()["detail"]
    listed = client.get("/api/v1/orders/?source=api").json()
    assert listed["count"] == 1
    # Outsider: cannot see or refund it; store staff may read but not write.
    outsider = world.client_for(world.outsider)
    assert outsider.get("/api/v1/orders/").json()["count"] == 0
    assert (
        outsider.post(f"/api/v1/orders/{oid}/refund/", {"amount": "1"}, content_type="application/json").status_code
        == 404
    )
    clerk = world.client_for(world.store_staff)
    assert (
        clerk.post("/api/v1/orders/", {**body, "external_ref": "API-2"}, content_type="application/json").status_code
        == 403
    )
    assert world.client_for(world.no_role).get("/api/v1/orders/").status_code == 403


def test_api_hides_orders_of_other_stores_from_a_manager(world):
    a = CustomerFactory(organization=world.org, home_store=world.store_a)
    b = CustomerFactory(organization=world.org, home_store=world.store_b)
    record(a, 10, at(2026, 3, 1), "A1")
    record(b, 10, at(2026, 3, 1), "B1")
    refs = [o["external_ref"] for o in world.client_for(world.manager).get("/api/v1/orders/").json()["results"]]
    assert refs == ["A1"]


REPORTS = ["overview", "ltv", "repurchase", "cohorts", "rfm", "funnel", "staff"]


def _url(name):
    return "/reports/" if name == "overview" else f"/reports/{name}/"


@pytest.mark.parametrize("name", REPORTS)
def test_report_access_by_role(world, name):
    record(CustomerFactory(organization=world.org, home_store=world.store_a), 10, at(2026, 3, 1), "R1")
    assert world.client_for(world.operator).get(_url(name)).status_code == 200
    assert world.client_for(world.manager).get(_url(name)).status_code == 200
    clerk = world.client_for(world.store_staff).get(_url(name)).status_code
    assert clerk == (200 if name in ("overview", "staff") else 403)
    assert world.client_for(world.no_role).get(_url(name)).status_code == 403
    # The outsider reads their own (empty) organization; asking for our store is refused.
    outsider = world.client_for(world.outsider)
    assert outsider.get(_url(name) + f"?store={world.store_a.pk}").status_code == 403


def test_manager_cannot_pick_another_store_and_export_respects_scope(world):
    a = CustomerFactory(organization=world.org, home_store=world.store_a)
    b = CustomerFactory(organization=world.org, home_store=world.store_b)
    record(a, 111, at(2026, 3, 1), "A1")
    record(b, 999, at(2026, 3, 1), "B1")
    mgr = world.client_for(world.manager)
    assert mgr.get(f"/reports/?store={world.store_b.pk}").status_code == 403
    resp = mgr.get("/reports/overview/export.csv?start=2026-03-01&end=2026-03-01")
    text = resp.content.decode("utf-8-sig")
    assert resp["Content-Disposition"].startswith("attachment")
    assert "111.00" in text and "999" not in text
    resp = mgr.get("/reports/overview/export.xlsx?start=2026-03-01&end=2026-03-01")
    wb = load_workbook(io.BytesIO(resp.content))
    values = [c for row in wb["每日明细"].iter_rows(values_only=True) for c in row]
    assert 111.0 in values and 999.0 not in values


def test_store_staff_sees_only_their_own_performance(world):
    from contacts.models import Follow

    mine = CustomerFactory(organization=world.org, home_store=world.store_a)
    Follow.objects.create(organization=world.org, customer=mine, staff=world.store_staff, added_at=at(2026, 1, 1))
    other = CustomerFactory(organization=world.org, home_store=world.store_a)
    record(mine, 50, at(2026, 3, 1), "M1")
    record(other, 70, at(2026, 3, 1), "O1", staff=world.manager)
    clerk = world.client_for(world.store_staff)
    # Even when asking for the manager's numbers.
    text = clerk.get(
        f"/reports/staff/export.csv?start=2026-03-01&end=2026-03-01&staff={world.manager.pk}"
    ).content.decode("utf-8-sig")
    assert "clerk" in text and "mgr" not in text
    text = clerk.get("/reports/overview/export.csv?start=2026-03-01&end=2026-03-01").content.decode("utf-8-sig")
    assert "50.00" in text and "70.00" not in text


def test_rfm_segment_saves_as_segment_in_one_click(world):
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    from datetime import timedelta

    from django.utils import timezone

    for i in range(3):
        record(c, 900, timezone.now() - timedelta(days=i + 1), f"V{i}")
    c.refresh_from_db()
    assert c.rfm_segment == "important_value"
    from contacts.models import Segment

    resp = world.client_for(world.operator).post("/reports/rfm/save/", {"code": "important_value"})
    assert resp.status_code == 302
    seg = Segment.objects.get(organization=world.org)
    from contacts.access import actor_for_user
    from contacts.segments import segment_queryset

    actor = actor_for_user(world.operator.user)
    assert list(segment_queryset(actor=actor, expression=seg.expression).values_list("pk", flat=True)) == [c.pk]
    assert (
        world.client_for(world.store_staff).post("/reports/rfm/save/", {"code": "important_value"}).status_code == 403
    )
