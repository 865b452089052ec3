"""Order import from POS / mall exports (CSV or .xlsx with Chinese headers).

Each row becomes ``order_record`` (idempotent per 外部单号, so re-importing a file is safe). Bad rows
are reported with their line number and the reason, never silently skipped; good rows still import.
Small files import in the request; larger ones go to the ``analytics.imports.orders`` task.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import uuid
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from analytics import services
from analytics.models import ImportStatus, OrderImport, OrderSource
from analytics.rollups import SHANGHAI
from contacts import crypto
from contacts import services as contact_services
from contacts.access import Actor, scope_queryset, store_in_scope
from contacts.models import Customer, Organization, Staff, Store
from scrm.celery import enqueue_on_commit

logger = logging.getLogger(__name__)
SYNC_MAX_ROWS = 300
MAX_ERRORS = 500
MAX_BYTES = 50 * 1024 * 1024

# Accepted header spellings → field.
HEADERS = {
    "external_ref": ["外部单号", "订单号", "单号", "小票号", "流水号", "external_ref"],
    "amount": ["金额", "实付金额", "订单金额", "支付金额", "实收金额", "amount"],
    "paid_at": ["支付时间", "下单时间", "交易时间", "付款时间", "paid_at"],
    "phone": ["手机号", "会员手机号", "手机", "电话", "phone"],
    "customer_id": ["客户ID", "客户编号", "customer_id"],
    "name": ["姓名", "会员姓名", "客户姓名", "name"],
    "store": ["门店编码", "门店代码", "门店", "store"],
    "staff": ["导购", "导购工号", "员工", "收银员", "staff"],
    "refunded": ["退款金额", "refunded_amount"],
    "source": ["来源", "source"],
    "items": ["商品", "商品明细", "items"],
}
REQUIRED = ["external_ref", "amount", "paid_at"]
TEMPLATE_HEADERS = ["外部单号", "手机号", "姓名", "门店编码", "导购", "金额", "退款金额", "支付时间", "商品"]
SOURCE_NAMES = {str(label): value for value, label in OrderSource.choices} | {v: v for v in OrderSource.values}
DATE_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"]


class ImportFileError(ValueError):
    """The file as a whole cannot be read; the message says what to do."""


class RowError(ValueError):
    pass


def _rows_csv(data: bytes) -> Iterator[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError("无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV")
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        yield from reader
    except csv.Error as exc:  # e.g. a quote never closed: the rest of the file would vanish into one cell
        raise ImportFileError(f"CSV 第 {reader.line_num} 行附近格式错误（引号未闭合或多余），请检查后重新导出") from exc


def _rows_xlsx(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError("无法打开 .xlsx 文件，请确认文件未损坏、不是旧版 .xls") from exc
    try:
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True):
            yield ["" if v is None else v for v in row]
    except Exception as exc:  # the sheet is read lazily: a broken or hostile sheet fails here, not at open
        raise ImportFileError("无法读取 .xlsx 文件的内容，请确认文件未损坏，另存后重新上传") from exc
    finally:
        wb.close()


def read_rows(file_name: str, data: bytes) -> Iterator[list[Any]]:
    name = file_name.lower()
    if name.endswith(".xlsx"):
        return _rows_xlsx(data)
    if name.endswith((".csv", ".txt")):
        return _rows_csv(data)
    raise ImportFileError("只支持 .csv 或 .xlsx 文件，请另存为这两种格式之一再上传")


def file_check(file_name: str, data: bytes) -> None:
    """Read the whole file once without importing: raises ``ImportFileError`` when any part of it cannot
    be read, so a file broken near its end is refused before its first rows are written."""
    for _row in read_rows(file_name, data):
        pass


def _header_map(header: list[Any]) -> dict[str, int]:
    cleaned = [str(h).strip() for h in header]
    mapping: dict[str, int] = {}
    for field, names in HEADERS.items():
        for i, h in enumerate(cleaned):
            if h in names:
                mapping[field] = i
                break
    missing = [HEADERS[f][0] for f in REQUIRED if f not in mapping]
    if missing:
        raise ImportFileError(
            f"缺少必填列：{'、'.join(missing)}。第一行须为表头，可参照模板：{'，'.join(TEMPLATE_HEADERS)}"
        )
    if "phone" not in mapping and "customer_id" not in mapping:
        raise ImportFileError("缺少客户列：请提供“手机号”或“客户ID”列，用来找到下单客户")
    return mapping


def _parse_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time(12), tzinfo=SHANGHAI)
    else:
        text = str(value).strip()
        for fmt in DATE_FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
                break
            except ValueError:
                continue
        else:
            raise RowError(f"支付时间“{text}”格式不对，请用 2026-03-01 14:30 这样的格式")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)  # platform time (Asia/Shanghai)
    if parsed > timezone.now() + dt.timedelta(days=1):
        raise RowError("支付时间晚于今天，请检查日期")
    return parsed


def _parse_amount(value: Any, label: str) -> Decimal:
    text = str(value).replace("¥", "").replace("￥", "").replace(",", "").strip()
    if not text:
        raise RowError(f"{label}为空")
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise RowError(f"{label}“{value}”不是数字") from exc
    if amount < 0:
        raise RowError(f"{label}不能为负数")
    return amount


class _Lookups:
    """Per-import caches so a 100k-row file does not look up the same store/staff 100k times."""

    def __init__(self, organization: Organization, store_ids: frozenset[int] | None) -> None:
        self.organization = organization
        stores = Store.objects.filter(organization=organization)
        self.stores = {s.code: s for s in stores} | {s.name: s for s in stores}
        self.store_ids = store_ids
        self.staff: dict[str, Staff | None] = {}

    def store(self, value: str) -> Store | None:
        if not value:
            return None
        store = self.stores.get(value)
        if store is None:
            raise RowError(f"找不到门店“{value}”，请填写系统里的门店编码")
        if not store_in_scope(self.store_ids, store.pk):
            raise RowError(f"门店“{value}”不在你的管理范围内")
        return store

    def staff_member(self, value: str) -> Staff | None:
        if not value:
            return None
        if value not in self.staff:
            self.staff[value] = (
                Staff.objects.filter(organization=self.organization, wecom_userid=value).first()
                or Staff.objects.filter(organization=self.organization, name=value).first()
            )
        if self.staff[value] is None:
            raise RowError(f"找不到员工“{value}”，请填写员工的企业微信账号或姓名")
        return self.staff[value]


def _customer(lookups: _Lookups, cells: dict[str, str], store: Store | None) -> Customer:
    """The row's customer by 客户ID or phone, inside the importer's stores.

    A key naming a customer of the organization outside those stores is refused — never taken as a
    new customer — as is a new customer whose home store would fall outside them.
    """
    org = lookups.organization
    in_org = Customer.objects.filter(organization=org)
    in_scope = scope_queryset(in_org, organization_id=org.pk, store_ids=lookups.store_ids)
    if cells.get("customer_id"):
        try:
            pk = int(cells["customer_id"])
        except ValueError as exc:
            raise RowError(f"找不到客户ID {cells['customer_id']}") from exc
        found = in_scope.filter(pk=pk).first()
        if found is not None:
            return found
        if in_org.filter(pk=pk).exists():
            raise RowError(f"客户ID {pk} 的客户不属于你管理的门店")
        raise RowError(f"找不到客户ID {cells['customer_id']}")
    phone = cells.get("phone", "").replace(" ", "").replace("-", "")
    if not phone:
        raise RowError("手机号和客户ID都为空，无法确定下单客户")
    try:
        phone_key = crypto.phone_hash(phone)
    except Exception as exc:
        raise RowError("手机号格式不对，请填写 11 位手机号") from exc
    found = in_scope.filter(phone_hash=phone_key).first()
    if found is not None:
        return found
    if in_org.filter(phone_hash=phone_key).exists():
        raise RowError("手机号对应的客户不属于你管理的门店")
    if not store_in_scope(lookups.store_ids, store.pk if store is not None else None):
        raise RowError("新客户须归属你管理的门店，请填写门店编码")
    try:
        customer, _created = contact_services.customer_resolve(
            organization=org,
            phone=phone,
            defaults={"name": cells.get("name", ""), "home_store": store, "source_channel": "import"},
            source="order_import",
        )
    except ValueError as exc:
        raise RowError("手机号格式不对，请填写 11 位手机号") from exc
    return customer


def import_rows(job: OrderImport, rows: Iterator[list[Any]], store_ids: frozenset[int] | None) -> OrderImport:
    """Import every row; one savepoint per row so a bad row never undoes the good ones."""
    try:
        header = next(rows)
    except StopIteration as exc:
        raise ImportFileError("文件是空的，请检查") from exc
    mapping = _header_map(header)
    lookups = _Lookups(job.organization, store_ids)
    errors: list[dict[str, Any]] = []
    total = created = dupes = bad = 0
    for line, row in enumerate(rows, start=2):
        if not any(str(v).strip() for v in row):
            continue
        total += 1
        cells = {f: (row[i] if i < len(row) else "") for f, i in mapping.items()}
        text = {f: str(v).strip() for f, v in cells.items()}
        try:
            ref = text.get("external_ref", "")
            if not ref:
                raise RowError("外部单号为空（重复导入靠它去重）")
            amount = _parse_amount(cells["amount"], "金额")
            refunded = _parse_amount(cells["refunded"], "退款金额") if text.get("refunded") else Decimal(0)
            if refunded > amount:
                raise RowError("退款金额大于订单金额")
            paid_at = _parse_time(cells["paid_at"])
            source = (
                SOURCE_NAMES.get(text.get("source", ""), OrderSource.POS_IMPORT)
                if text.get("source")
                else OrderSource.POS_IMPORT
            )
            with transaction.atomic():
                store = lookups.store(text.get("store", ""))
                staff = lookups.staff_member(text.get("staff", ""))
                customer = _customer(lookups, text, store)
                items = [{"name": text["items"]}] if text.get("items") else []
                _order, was_created = services.order_record(
                    organization=job.organization,
                    customer=customer,
                    store=store,
                    amount=amount,
                    paid_at=paid_at,
                    source=source,
                    external_ref=ref,
                    staff=staff,
                    items=items,
                    refunded_amount=refunded,
                    store_ids=store_ids,
                )
            if was_created:
                created += 1
            else:
                dupes += 1
        except services.OrderScopeError as exc:
            bad += 1
            if len(errors) < MAX_ERRORS:
                label = "外部单号" if exc.field == "external_ref" else "门店"
                errors.append({"line": line, "reason": f"{label}：{exc}"})
        except (RowError, services.OrderError) as exc:
            bad += 1
            if len(errors) < MAX_ERRORS:
                errors.append({"line": line, "reason": str(exc)})
    job.total_rows, job.created_rows, job.duplicate_rows, job.error_rows = total, created, dupes, bad
    job.errors = errors
    job.status = ImportStatus.DONE
    job.finished_at = timezone.now()
    job.save()
    return job


def _count_rows(file_name: str, data: bytes) -> int:
    if file_name.lower().endswith(".xlsx"):
        return len(data) // 40  # rough; only decides sync vs. background
    return data.count(b"\n")


def order_import_start(*, actor: Actor, upload: UploadedFile[Any]) -> OrderImport:
    """Read an upload: import now when small, else store it and hand it to the worker."""
    if upload.size and upload.size > MAX_BYTES:
        raise ImportFileError("文件超过 50 MB，请拆分后分批导入")
    data = upload.read()
    name = upload.name or "orders.csv"
    file_check(name, data)  # a file that cannot be read to its end is refused whole: no job, no row
    rows = read_rows(name, data)
    job = OrderImport.objects.create(organization=actor.organization, created_by=actor.staff, file_name=name[:200])
    if _count_rows(name, data) <= SYNC_MAX_ROWS:
        try:
            return import_rows(job, rows, actor.store_ids)
        except ImportFileError as exc:
            job.status, job.message, job.finished_at = ImportStatus.FAILED, str(exc)[:300], timezone.now()
            job.save()
            raise
    folder = Path(settings.MEDIA_ROOT) / "order_imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job.pk}-{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    path.write_bytes(data)
    job.file_path = str(path)
    job.save(update_fields=["file_path"])
    store_ids = sorted(actor.store_ids) if actor.store_ids is not None else None
    enqueue_on_commit("analytics.imports.orders", job.pk, store_ids)
    return job


def order_import_run(*, job_id: int, store_ids: list[int] | None) -> None:
    """Worker side of a large import (claims the job with a conditional UPDATE: safe to run twice)."""
    claimed = OrderImport.objects.filter(pk=job_id, status=ImportStatus.PENDING).update(status=ImportStatus.RUNNING)
    if not claimed:
        logger.info("order import %s already claimed or gone", job_id)
        return
    job = OrderImport.objects.select_related("organization").get(pk=job_id)
    path = Path(job.file_path)
    try:
        data = path.read_bytes()
        file_check(job.file_name, data)
        import_rows(job, read_rows(job.file_name, data), frozenset(store_ids) if store_ids is not None else None)
    except (ImportFileError, OSError) as exc:
        job.status, job.message, job.finished_at = ImportStatus.FAILED, str(exc)[:300], timezone.now()
        job.save()
    finally:
        path.unlink(missing_ok=True)
