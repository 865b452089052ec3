"""Customer import: CSV/.xlsx with Chinese headers, OneID dedupe, every rejected row with line and reason,
the Celery job and its progress, idempotent reruns."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from contacts import imports
from contacts.models import Customer, CustomerTag, ImportJob, ImportStatus, Note
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db

HEADER = "姓名,手机号,性别,门店编码,标签,备注,unionid,来源渠道\n"


def csv_bytes(body: str, encoding: str = "utf-8") -> bytes:
    return (HEADER + body).encode(encoding)


@pytest.fixture
def tags(world: Any) -> dict[str, Any]:
    return {
        "护肤": TagFactory(group__organization=world.org, name="护肤"),
        "彩妆": TagFactory(group__organization=world.org, name="彩妆"),
    }


def start(world: Any, filename: str, content: bytes) -> ImportJob:
    job = imports.import_start(organization=world.org, by=world.operator, filename=filename, content=content)
    job.refresh_from_db()
    return job


def test_good_duplicate_and_bad_rows_are_all_accounted_for(world: Any, tags: dict[str, Any]) -> None:
    existing = CustomerFactory(organization=world.org, phone="13700137000", name="老客户")
    body = (
        "王芳,13800138000,女,A,护肤、彩妆,想试用精华,,抖音\n"  # line 2: created
        "王芳,138-0013-8000,女,A,,,,\n"  # line 3: same person -> updated
        "老客户,13700137000,,B,护肤,,,\n"  # line 4: existing customer -> updated
        "\n"  # line 5: blank, not a row
        "坏号码,12345,,,,,,\n"  # line 6
        "没门店,13600136000,,ZZ,,,,\n"  # line 7
        "没标签,13500135000,,,不存在的标签,,,\n"  # line 8
        "打码,138****8000,,,,,,\n"  # line 9
        "无主键,,,,,,,\n"  # line 10
        "怪性别,13400134000,不详,,,,,\n"  # line 11
        "怪渠道,13300133000,,,,,,火星\n"  # line 12
        "只有unionid,,男,,,,u-77,\n"  # line 13: created
    )
    job = start(world, "客户.csv", csv_bytes(body))

    assert job.status == ImportStatus.DONE
    assert (job.total_rows, job.processed_rows, job.created_count, job.updated_count) == (11, 11, 2, 2)
    assert job.rejected_count == 7
    reasons = {e["line"]: e["reason"] for e in job.errors}
    assert sorted(reasons) == [6, 7, 8, 9, 10, 11, 12]
    assert "手机号" in reasons[6] and "ZZ" in reasons[7] and "不存在的标签" in reasons[8]
    assert "打码" in reasons[9] and "无法识别客户" in reasons[10] and "性别" in reasons[11] and "火星" in reasons[12]

    wang = Customer.objects.get(organization=world.org, name="王芳")
    assert wang.home_store == world.store_a and wang.gender == 2 and wang.source_channel == "douyin"
    assert wang.tag_ids == sorted(t.pk for t in tags.values())
    assert Note.objects.filter(customer=wang, body="想试用精华").exists()
    existing.refresh_from_db()
    assert existing.home_store == world.store_b and existing.tag_ids == [tags["护肤"].pk]
    assert Customer.objects.filter(organization=world.org, unionid="u-77", gender=1).exists()
    assert Customer.objects.filter(organization=world.org).count() == 3


def test_xlsx_with_numeric_phones(world: Any, tags: dict[str, Any]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "手机号", "门店编码", "标签"])
    sheet.append(["赵敏", 13800138000, "A", "彩妆"])
    sheet.append(["钱多", 123, "A", ""])
    buffer = BytesIO()
    workbook.save(buffer)
    job = start(world, "customers.xlsx", buffer.getvalue())
    assert (job.status, job.created_count, job.rejected_count) == (ImportStatus.DONE, 1, 1)
    assert job.errors[0]["line"] == 3
    customer = Customer.objects.get(organization=world.org, name="赵敏")
    assert customer.phone == "13800138000" and customer.tag_ids == [tags["彩妆"].pk]


def test_gbk_csv_from_excel_is_read(world: Any) -> None:
    job = start(world, "excel.csv", csv_bytes("孙丽,13800138000,女,A,,,,\n", encoding="gb18030"))
    assert job.created_count == 1 and Customer.objects.get(organization=world.org).name == "孙丽"


def test_a_file_without_a_key_column_fails_with_a_reason(world: Any) -> None:
    job = start(world, "x.csv", "姓名,备注\n张三,hi\n".encode())
    assert job.status == ImportStatus.FAILED and "手机号" in job.message
    assert not Customer.objects.filter(organization=world.org).exists()


def test_rerunning_a_finished_job_changes_nothing(world: Any, tags: dict[str, Any]) -> None:
    job = start(world, "a.csv", csv_bytes("王芳,13800138000,女,A,护肤,第一次,,\n"))
    imports.import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.created_count == 1 and Note.objects.count() == 1 and CustomerTag.objects.count() == 1


def test_api_import_for_operators_only(world: Any) -> None:
    upload = SimpleUploadedFile("c.csv", csv_bytes("王芳,13800138000,女,A,,,,\n坏,1,,,,,,\n"))
    response = world.client_for(world.operator).post(reverse("contacts:api-import-create"), {"file": upload})
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["created_count"], body["rejected_count"]) == ("done", 1, 1)
    assert body["errors"] == [{"line": 3, "reason": body["errors"][0]["reason"]}]
    status = world.client_for(world.operator).get(reverse("contacts:api-import-detail", args=[body["id"]]))
    assert status.status_code == 200 and status.json()["processed_rows"] == 2
    assert (
        world.client_for(world.outsider).get(reverse("contacts:api-import-detail", args=[body["id"]])).status_code
        == 404
    )
    for staff in (world.manager, world.store_staff, world.no_role):
        upload = SimpleUploadedFile("c.csv", csv_bytes("李四,13900139000,男,A,,,,\n"))
        response = world.client_for(staff).post(reverse("contacts:api-import-create"), {"file": upload})
        assert response.status_code == 403
    assert not Customer.objects.filter(name="李四").exists()


def test_large_file_is_enqueued_on_commit(
    world: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    sent: list[int] = []
    from contacts import tasks

    monkeypatch.setattr(tasks.import_run_task, "delay", lambda job_id: sent.append(job_id))
    body = "".join(f"客户{i},138{i:08d},,A,,,,\n" for i in range(400))
    with django_capture_on_commit_callbacks(execute=True):
        job = start(world, "big.csv", csv_bytes(body))
    assert sent == [job.pk] and job.status == ImportStatus.PENDING


@pytest.mark.slow
def test_celery_worker_runs_a_large_import_with_progress(world: Any, celery_worker: Any) -> None:
    body = "".join(f"客户{i},138{i:08d},,A,,,,\n" for i in range(350)) + "坏,1,,,,,,\n"
    job = imports.import_start(organization=world.org, by=world.operator, filename="big.csv", content=csv_bytes(body))
    done = celery_worker.wait_for(
        lambda: ImportJob.objects.filter(pk=job.pk, status=ImportStatus.DONE).first(), timeout=90
    )
    assert (done.total_rows, done.processed_rows, done.created_count, done.rejected_count) == (351, 351, 350, 1)
    assert done.errors == [{"line": 352, "reason": done.errors[0]["reason"]}]


def queued_job(world: Any, body: str) -> ImportJob:
    return ImportJob.objects.create(
        organization=world.org, created_by=world.operator, filename="big.csv", content=csv_bytes(body)
    )


def test_a_job_runs_in_chunks_and_resumes_where_it_stopped(world: Any, monkeypatch: Any) -> None:
    from contacts import tasks

    job = queued_job(
        world, "甲,13800138001,,A,,,,\n坏,1,,,,,,\n乙,13800138002,,A,,,,\n丙,13800138003,,B,,,,\n丁,2,,,,,,\n"
    )
    assert imports.import_run(job_id=job.pk, max_rows=2) is True
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.created_count, job.rejected_count) == (ImportStatus.PENDING, 2, 1, 1)

    sent: list[int] = []
    monkeypatch.setattr(tasks.import_run_task, "delay", lambda job_id: sent.append(job_id))
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    tasks.import_run_task(job.pk)  # rows 3-4, then queues the rest
    assert sent == [job.pk]
    tasks.import_run_task(job.pk)  # row 5: done, queues nothing more
    assert sent == [job.pk]
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert (job.processed_rows, job.created_count, job.rejected_count) == (5, 3, 2)
    assert [e["line"] for e in job.errors] == [3, 6]
    assert set(Customer.objects.filter(organization=world.org).values_list("name", flat=True)) == {"甲", "乙", "丙"}


def test_sweep_requeues_lost_and_abandoned_jobs_only(world: Any, monkeypatch: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from contacts import tasks

    old = timezone.now() - timedelta(hours=1)
    lost = queued_job(world, "甲,13800138001,,A,,,,\n")
    ImportJob.objects.filter(pk=lost.pk).update(created_at=old)
    abandoned = queued_job(world, "甲,13800138001,,A,,,,\n")
    ImportJob.objects.filter(pk=abandoned.pk).update(status=ImportStatus.RUNNING, heartbeat_at=old, created_at=old)
    busy = queued_job(world, "甲,13800138001,,A,,,,\n")
    ImportJob.objects.filter(pk=busy.pk).update(
        status=ImportStatus.RUNNING, heartbeat_at=timezone.now(), created_at=old
    )
    fresh = queued_job(world, "甲,13800138001,,A,,,,\n")  # its message is probably still in the queue
    sent: list[int] = []
    monkeypatch.setattr(tasks.import_run_task, "delay", lambda job_id: sent.append(job_id))
    tasks.import_sweep_task()
    assert sorted(sent) == sorted([lost.pk, abandoned.pk])
    assert fresh.pk not in sent and busy.pk not in sent
    assert imports.import_run(job_id=busy.pk) is False  # a live worker's job is not taken over
    busy.refresh_from_db()
    assert busy.processed_rows == 0
