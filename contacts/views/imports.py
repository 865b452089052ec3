"""Customer import page: upload a CSV/.xlsx, watch the job's progress, read the rejected rows; and the
customer export download (the API's ``/customers/export/``).

The import itself (parsing, OneID dedupe, the Celery job for large files) is the backend's
``contacts.imports.import_start``; this page starts it and polls the ``ImportJob`` row it keeps current.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import selectors
from contacts.access import OPERATOR_ONLY, Actor, AuthenticatedHttpRequest, console_view
from contacts.forms import ImportForm
from contacts.imports import export_csv, export_xlsx, import_start
from contacts.models import AuditAction, Customer, ImportJob, ImportStatus
from contacts.services import audit_record


def _job_payload(job: ImportJob) -> dict[str, Any]:
    finished = job.status in (ImportStatus.DONE, ImportStatus.FAILED)
    total, done = job.total_rows, job.processed_rows
    percent = 100 if finished else (int(done * 100 / total) if total else 0)
    return {
        "id": job.pk,
        "filename": job.filename,
        "status": job.status,
        "status_label": job.get_status_display(),
        "message": job.message,
        "total": total,
        "processed": done,
        "percent": percent,
        "created": job.created_count,
        "updated": job.updated_count,
        "rejected_count": job.rejected_count or len(job.errors),
        "rejected": [
            {"line": e.get("line"), "reason": e.get("reason")} for e in job.errors[:1000] if isinstance(e, dict)
        ],
        "finished": finished,
    }


@console_view(OPERATOR_ONLY)
def import_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    form = ImportForm(request.POST or None, request.FILES or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            started = import_start(
                organization=actor.organization,
                by=actor.staff,
                filename=upload.name,
                content=upload.read(),
                to_lead_pool=bool(form.cleaned_data.get("to_lead_pool")),
            )
        except ValueError as exc:  # an unreadable file; the message says what to fix
            error = str(exc)
        else:
            return redirect(f"{reverse('contacts:customer_import')}?job={started.pk}")
    job_id = request.GET.get("job") or ""
    job = selectors.import_job_get(actor=actor, pk=int(job_id)) if job_id.isdigit() else None
    context = {
        "form": form,
        "error": error,
        "job": _job_payload(job) if job else None,
        "recent": selectors.import_job_list(actor=actor)[:10],
    }
    return render(request, "contacts/import.html", context, status=400 if error or form.errors else 200)


@console_view(OPERATOR_ONLY)
def import_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    job = selectors.import_job_get(actor=actor, pk=pk)
    if job is None:
        raise Http404(_("导入任务不存在"))
    return JsonResponse(_job_payload(job))


def export_response(
    *, actor: Actor, queryset: QuerySet[Customer], export_format: str = "csv", filters: Iterable[str] = ()
) -> HttpResponseBase:
    """The customer export as a download: streamed CSV, or an .xlsx file (``contacts.imports`` builds both).
    Audited: who, the format and the names of the filters used (never their values: ``q`` may be a phone)."""
    audit_record(
        organization_id=actor.organization_id,
        action=AuditAction.CUSTOMER_EXPORT,
        target_type="customer_list",
        actor_staff_id=actor.staff.pk,
        actor_user_id=actor.staff.user_id,
        fields=filters,
        details={"format": export_format},
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if export_format == "xlsx":
        return FileResponse(
            export_xlsx(actor=actor, queryset=queryset),
            as_attachment=True,
            filename=f"customers-{stamp}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response = StreamingHttpResponse(export_csv(actor=actor, queryset=queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
    return response
