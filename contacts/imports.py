"""Customer import (CSV / .xlsx with Chinese headers) and export (same list, same permissions).

Import:
1. ``import_start`` stores the file on an ``ImportJob`` row; small files run inline, larger ones as the
   Celery task ``contacts.imports.run`` (enqueued on commit).
2. ``import_run`` claims the job with a conditional UPDATE (safe to run twice), imports the next
   ``CHUNK_ROWS`` rows (the task re-enqueues itself for the rest; a beat sweep re-enqueues jobs whose
   message was lost or whose worker died) and resolves each row through ``customer_resolve`` (OneID
   dedupe: phone / unionid / WeCom external_userid), one savepoint per row, so a bad row never spoils
   its neighbours.
3. Every row not imported is in ``job.errors`` as ``{"line": n, "reason": "..."}`` (line 1 = header);
   progress (processed/created/updated/rejected) is written every ``PROGRESS_EVERY`` rows.

Export streams CSV (UTF-8 with BOM, so Excel opens Chinese correctly) or writes a write-only .xlsx,
with phone numbers masked for store staff and cells that a spreadsheet would run as a formula defused;
``contacts.views.imports.export_response`` wraps either in the download response.

Every write (the job row, a row's customer) goes through ``contacts.services``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import crypto, services
from contacts.access import Actor
from contacts.models import (
    Customer,
    Gender,
    ImportJob,
    ImportStatus,
    Lifecycle,
    Organization,
    Platform,
    SourceChannel,
    Staff,
    Store,
    Tag,
    TagSource,
)
from scrm.celery import enqueue_on_commit

logger = logging.getLogger(__name__)

INLINE_MAX_ROWS = 300
MAX_ROWS = 200_000
MAX_BYTES = 50 * 1024 * 1024  # an upload larger than this is refused before it is read or stored
PROGRESS_EVERY = 200
# One task run imports at most this many rows (~20–40 s), far below the Celery time limit; the task
# re-enqueues itself for the rest.
CHUNK_ROWS = 2000
LOST_MESSAGE = timedelta(minutes=5)

# Header (as users write it) → field. Several spellings are accepted for the common ones.
HEADERS = {
    "姓名": "name",
    "客户姓名": "name",
    "手机号": "phone",
    "手机": "phone",
    "手机号码": "phone",
    "电话": "phone",
    "性别": "gender",
    "门店编码": "store_code",
    "归属门店编码": "store_code",
    "标签": "tags",
    "备注": "note",
    "跟进记录": "note",
    "unionid": "unionid",
    "来源渠道": "source_channel",
    "生命周期": "lifecycle",
    "同意营销": "consent",
    "企业微信外部联系人id": "external_userid",
    "external_userid": "external_userid",
}
KEY_FIELDS = ("phone", "unionid", "external_userid")
GENDERS = {"男": Gender.MALE, "女": Gender.FEMALE, "未知": Gender.UNKNOWN, "1": 1, "2": 2, "0": 0, "": 0}
YES = {"是", "同意", "1", "true", "yes", "y", "已同意"}
NO = {"否", "不同意", "0", "false", "no", "n", "未同意", ""}
TAG_SPLIT = re.compile(r"[,，、;；|]+")


class ImportFileError(ValueError):
    """The file as a whole cannot be read; the message says what to fix."""


@dataclass
class Row:
    line: int
    values: dict[str, str]


@dataclass
class Progress:
    processed: int = 0
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


# --- parsing -------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores 13800138000 as a number
    return str(value).strip()


def _table(filename: str, content: bytes) -> Iterator[list[str]]:
    name = filename.lower()
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:
            raise ImportFileError(_("无法读取 Excel 文件，请确认是 .xlsx 格式（不是 .xls），另存后重新上传")) from exc
        try:
            sheet = workbook.worksheets[0]
            for values in sheet.iter_rows(values_only=True):
                yield [_cell(v) for v in values]
        except Exception as exc:  # read lazily: a broken or hostile sheet fails here, not at open
            raise ImportFileError(_("无法读取 Excel 文件的内容，请确认文件未损坏，另存后重新上传")) from exc
        finally:
            workbook.close()
        return
    if not name.endswith(".csv"):
        raise ImportFileError(_("只支持 .csv 或 .xlsx 文件，请另存为其中一种格式后重新上传"))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ImportFileError(_("无法识别文件编码，请另存为 UTF-8 编码的 CSV"))
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        for values in reader:
            yield [_cell(v) for v in values]
    except csv.Error as exc:  # e.g. a quote never closed: the rest of the file would vanish into one cell
        raise ImportFileError(
            _("CSV 第 %(line)s 行附近格式错误（引号未闭合或多余），请检查后重新导出") % {"line": reader.line_num}
        ) from exc


def parse(filename: str, content: bytes) -> tuple[list[Row], list[str]]:
    """Rows (with their line numbers) and the unknown header names. Raises ``ImportFileError``."""
    table = _table(filename, content)
    header = next(table, None)
    if not header or not any(header):
        raise ImportFileError(_("文件是空的：第 1 行应为表头，例如 姓名,手机号,门店编码,标签"))
    columns: list[str | None] = []
    unknown = []
    for raw in header:
        key = HEADERS.get(raw) or HEADERS.get(raw.lower())
        columns.append(key)
        if raw and key is None:
            unknown.append(raw)
    if not any(c in KEY_FIELDS for c in columns):
        raise ImportFileError(_("表头缺少用于识别客户的列：至少需要“手机号”“unionid”或“external_userid”之一"))
    rows = []
    for line, values in enumerate(table, start=2):
        if not any(values):
            continue  # a blank line holds no customer
        record = {key: values[i] if i < len(values) else "" for i, key in enumerate(columns) if key}
        rows.append(Row(line=line, values=record))
        if len(rows) > MAX_ROWS:
            raise ImportFileError(_("一次最多导入 %(n)s 行，请拆分文件后分批导入") % {"n": MAX_ROWS})
    return rows, unknown


# --- running -------------------------------------------------------------------------------------


@dataclass
class Lookups:
    stores: dict[str, Store]
    tags_by_name: dict[str, list[Tag]]
    tags_by_path: dict[str, Tag]

    @classmethod
    def load(cls, organization_id: int) -> Lookups:
        stores = {s.code: s for s in Store.objects.filter(organization_id=organization_id)}
        by_name: dict[str, list[Tag]] = {}
        by_path: dict[str, Tag] = {}
        for tag in Tag.objects.filter(organization_id=organization_id).select_related("group"):
            by_name.setdefault(tag.name, []).append(tag)
            by_path[f"{tag.group.name}/{tag.name}"] = tag
        return cls(stores=stores, tags_by_name=by_name, tags_by_path=by_path)


def _choice(value: str, choices: Any, label: str) -> str:
    by_label = {str(lbl): val for val, lbl in choices.choices}
    if value in choices.values:
        return value
    if value in by_label:
        return str(by_label[value])
    allowed = "、".join(str(lbl) for _value, lbl in choices.choices)
    raise ValueError(
        _("%(field)s“%(value)s”无法识别，可填：%(allowed)s") % {"field": label, "value": value, "allowed": allowed}
    )


def _prepare(row: Row, lookups: Lookups) -> dict[str, Any]:
    """Check one row and turn it into resolve arguments; raises ValueError with the reason."""
    v = row.values
    if not any(v.get(k) for k in KEY_FIELDS):
        raise ValueError(_("缺少手机号、unionid 或 external_userid，无法识别客户"))
    phone = v.get("phone", "")
    if phone:
        if "*" in phone:
            raise ValueError(_("手机号是打码的（如 138****8000），请填写完整号码"))
        crypto.normalize_phone(phone)  # raises InvalidPhone with the reason
    defaults: dict[str, Any] = {"source_channel": SourceChannel.IMPORT}
    if v.get("name"):
        defaults["name"] = v["name"][:100]
    gender = v.get("gender", "")
    if gender not in GENDERS:
        raise ValueError(_("性别“%(value)s”无法识别，可填：男、女、未知") % {"value": gender})
    if gender:
        defaults["gender"] = GENDERS[gender]
    code = v.get("store_code", "")
    if code:
        if code not in lookups.stores:
            raise ValueError(_("门店编码“%(code)s”不存在，请先在系统中创建该门店或改正编码") % {"code": code})
        defaults["home_store"] = lookups.stores[code]
    if v.get("source_channel"):
        defaults["source_channel"] = _choice(v["source_channel"], SourceChannel, _("来源渠道"))
    lifecycle = _choice(v["lifecycle"], Lifecycle, _("生命周期")) if v.get("lifecycle") else ""
    consent = v.get("consent", "").lower()
    if consent not in YES | NO:
        raise ValueError(_("同意营销“%(value)s”无法识别，可填：是、否") % {"value": v["consent"]})
    if consent in YES:
        defaults["marketing_consent"], defaults["consent_source"] = True, "import"
    tags = []
    for name in filter(None, (t.strip() for t in TAG_SPLIT.split(v.get("tags", "")))):
        if "/" in name:
            tag = lookups.tags_by_path.get(name)
        else:
            matches = lookups.tags_by_name.get(name, [])
            if len(matches) > 1:
                raise ValueError(_("标签“%(name)s”在多个标签组中都有，请写成“标签组/标签”") % {"name": name})
            tag = matches[0] if matches else None
        if tag is None:
            raise ValueError(_("标签“%(name)s”不存在，请先在标签管理中创建") % {"name": name})
        tags.append(tag)
    return {
        "resolve": {
            "unionid": v.get("unionid", ""),
            "phone": phone,
            "platform": Platform.WECOM if v.get("external_userid") else "",
            "external_id": v.get("external_userid", ""),
            "defaults": defaults,
            "source": "import",
        },
        "lifecycle": lifecycle,
        "tags": tags,
        "note": v.get("note", ""),
    }


@transaction.atomic
def _import_row(
    *, organization: Organization, prepared: dict[str, Any], by: Staff | None, since: Any = None
) -> tuple[Customer, bool]:
    # ``since``: the file's upload — a person erased after it was uploaded is never brought back by it.
    customer, created = services.customer_resolve(organization=organization, since=since, **prepared["resolve"])
    if prepared["lifecycle"]:
        services.customer_lifecycle_set(customer=customer, lifecycle=prepared["lifecycle"])
    for tag in prepared["tags"]:
        services.customer_tag_add(customer=customer, tag=tag, by=by, source=TagSource.IMPORT)
    if prepared["note"]:
        services.note_add(customer=customer, author=by, body=prepared["note"])
    return customer, created


def _save_progress(job_id: int, total: int, progress: Progress) -> None:
    services.import_job_progress_save(
        job_id=job_id,
        total=total,
        processed=progress.processed,
        created=progress.created,
        updated=progress.updated,
        errors=progress.errors,
    )


def import_run(*, job_id: int, max_rows: int | None = None) -> bool:
    """Run (a chunk of) one import job; returns whether rows remain (the job is pending again).

    Resumable: it starts after ``processed_rows`` with the counters and errors saved so far, so a
    chunk that was killed resumes from its last progress save (``PROGRESS_EVERY`` rows). A job that
    is already running elsewhere or finished is left alone.
    """
    if not services.import_job_claim(job_id=job_id):
        logger.info("import job %s is not pending; nothing to do", job_id)
        return False
    job = ImportJob.objects.select_related("organization", "created_by").get(pk=job_id)
    try:
        rows, unknown = parse(job.filename, bytes(job.content))
    except ImportFileError as exc:
        services.import_job_fail(job_id=job_id, message=str(exc))
        return False
    if job.processed_rows == 0:
        message = _("已忽略无法识别的列：%(columns)s") % {"columns": "、".join(unknown)} if unknown else ""
        services.import_job_begin(job_id=job_id, total=len(rows), message=message)
    lookups = Lookups.load(job.organization_id)
    progress = Progress(
        processed=job.processed_rows,
        created=job.created_count,
        updated=job.updated_count,
        errors=list(job.errors or []),
    )
    stop = len(rows) if max_rows is None else min(len(rows), progress.processed + max_rows)
    imported: list[int] = []
    for row in rows[progress.processed : stop]:
        try:
            prepared = _prepare(row, lookups)
            customer, created = _import_row(
                organization=job.organization, prepared=prepared, by=job.created_by, since=job.created_at
            )
        except (ValueError, services.ContactsError) as exc:
            progress.errors.append({"line": row.line, "reason": str(exc)})
        except Exception:
            logger.exception("import job %s: line %s failed", job_id, row.line)
            progress.errors.append({"line": row.line, "reason": _("系统错误，该行未导入；请稍后重试或联系管理员")})
        else:
            imported.append(customer.pk)
            if created:
                progress.created += 1
            else:
                progress.updated += 1
        progress.processed += 1
        if progress.processed % PROGRESS_EVERY == 0:
            _save_progress(job_id, len(rows), progress)
    _save_progress(job_id, len(rows), progress)
    # The chunk's customers to the higher layers (the lead pool); set-based on their side.
    services.customers_imported(
        organization_id=job.organization_id, customer_ids=imported, to_lead_pool=job.to_lead_pool
    )
    remaining = progress.processed < len(rows)
    services.import_job_release(job_id=job_id, finished=not remaining)
    return remaining


def import_jobs_stalled() -> list[int]:
    """Jobs to (re-)enqueue: pending for a while (lost message) or running without a heartbeat."""
    now = timezone.now()
    pending = ImportJob.objects.filter(status=ImportStatus.PENDING, created_at__lt=now - LOST_MESSAGE).exclude(
        heartbeat_at__gte=now - LOST_MESSAGE
    )
    running = ImportJob.objects.filter(status=ImportStatus.RUNNING, heartbeat_at__lt=now - services.STALE_RUNNING)
    return sorted(set(pending.values_list("pk", flat=True)) | set(running.values_list("pk", flat=True)))


def import_start(
    *, organization: Organization, by: Staff | None, filename: str, content: bytes, to_lead_pool: bool = False
) -> ImportJob:
    """Store the upload as a job; run it now when small, else enqueue ``contacts.imports.run``.
    ``to_lead_pool``: 导入后进入线索公海 (the listeners of ``register_import_listener`` act on it)."""
    job = services.import_job_create(
        organization=organization, by=by, filename=filename, content=content, to_lead_pool=to_lead_pool
    )
    inline = len(content) < 64 * 1024 and content.count(b"\n") <= INLINE_MAX_ROWS
    if inline:
        import_run(job_id=job.pk)
        job.refresh_from_db()
    else:
        enqueue_on_commit("contacts.imports.run", job.pk)
    return job


# --- export --------------------------------------------------------------------------------------

EXPORT_HEADERS = [
    "姓名",
    "手机号",
    "性别",
    "门店编码",
    "门店",
    "标签",
    "来源渠道",
    "生命周期",
    "同意营销",
    "退订时间",
    "累计消费",
    "订单数",
    "最近下单",
    "建档时间",
    "unionid",
]


def _safe(value: Any) -> Any:
    """Defuse spreadsheet formulas (``=cmd|…``) in text cells."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _local(dt_value: Any) -> str:
    return timezone.localtime(dt_value).strftime("%Y-%m-%d %H:%M") if dt_value else ""


def export_rows(*, actor: Actor, queryset: QuerySet[Customer]) -> Iterator[list[Any]]:
    tag_names = dict(Tag.objects.filter(organization_id=actor.organization_id).values_list("pk", "name"))
    channels = dict(SourceChannel.choices)
    stages = dict(Lifecycle.choices)
    genders = dict(Gender.choices)
    qs = queryset.select_related("home_store")
    for c in qs.iterator(chunk_size=2000):
        phone = c.phone if actor.sees_full_phone else c.phone_masked
        yield [
            _safe(c.name),
            phone,
            str(genders.get(c.gender, "")),
            _safe(c.home_store.code if c.home_store else ""),
            _safe(c.home_store.name if c.home_store else ""),
            _safe("、".join(tag_names[t] for t in c.tag_ids if t in tag_names)),
            str(channels.get(c.source_channel, c.source_channel)),
            str(stages.get(c.lifecycle, c.lifecycle)),
            "是" if c.can_receive_marketing() else "否",
            _local(c.opted_out_at),
            float(c.ltv),
            c.order_count,
            _local(c.last_order_at),
            _local(c.created_at),
            _safe(c.unionid),
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_csv(*, actor: Actor, queryset: QuerySet[Customer]) -> Iterator[str]:
    """The export as CSV lines, lazily (UTF-8 BOM first, so Excel reads the Chinese headers)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(EXPORT_HEADERS)
    for row in export_rows(actor=actor, queryset=queryset):
        yield writer.writerow(row)


def export_xlsx(*, actor: Actor, queryset: QuerySet[Customer]) -> IO[bytes]:
    """The export as a write-only .xlsx in a spooled temporary file, rewound; the caller closes it."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("客户")
    sheet.append(EXPORT_HEADERS)
    for row in export_rows(actor=actor, queryset=queryset):
        sheet.append(row)
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - the caller closes it
    workbook.save(spool)
    spool.seek(0)
    return spool


def upload_refusal(size: int | None) -> str | None:
    """Why an upload of ``size`` bytes cannot be imported (too large), or ``None``."""
    if size is not None and size > MAX_BYTES:
        return _("文件超过 %(mb)s MB，请拆分后分批导入") % {"mb": MAX_BYTES // (1024 * 1024)}
    return None
