"""Customer import page: upload a CSV/.xlsx, watch the job's progress, read the rejected rows.

The import itself (parsing, OneID dedupe, the Celery job) belongs to the contacts backend; this page
starts it through ``contacts.imports.import_start`` and reads the ``ImportJob`` row it keeps current.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from contacts.access import OPERATOR_ONLY, Actor, console_view
from contacts.forms import ImportForm


def _backend() -> tuple[Any, Any]:
    """(ImportJob model, import_start function), either ``None`` while the backend has not landed."""
    try:
        model = apps.get_model("contacts", "ImportJob")
    except LookupError:
        model = None
    start = None
    for module_name in ("contacts.imports", "contacts.services"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        start = getattr(module, "import_start", None)
        if start is not None:
            break
    return model, start


def _job_payload(job: Any) -> dict[str, Any]:
    total = int(getattr(job, "total_rows", 0) or 0)
    done = int(getattr(job, "processed_rows", 0) or 0)
    errors = getattr(job, "errors", None) or []
    return {
        "id": job.pk,
        "status": str(getattr(job, "status", "")),
        "total": total,
        "processed": done,
        "percent": int(done * 100 / total) if total else (100 if str(getattr(job, "status", "")) == "done" else 0),
        "created": int(getattr(job, "created_count", 0) or 0),
        "updated": int(getattr(job, "updated_count", 0) or 0),
        "rejected": [{"line": e.get("line"), "reason": e.get("reason")} for e in errors[:500] if isinstance(e, dict)],
        "rejected_count": len(errors),
        "finished": str(getattr(job, "status", "")) in ("done", "failed"),
    }


@console_view(OPERATOR_ONLY)
def import_page(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
    model, start = _backend()
    form = ImportForm(request.POST or None, request.FILES or None)
    error = ""
    if request.method == "POST":
        if start is None:
            error = _("导入服务尚未启用，请联系管理员部署后再试")
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            job = start(organization=actor.organization, by=actor.staff, filename=upload.name, content=upload.read())
            return redirect(f"{reverse('contacts:customer_import')}?job={job.pk}")
    job = None
    if model is not None:
        jobs = actor.scope(model.objects.all())
        job_id = request.GET.get("job")
        job = jobs.filter(pk=job_id).first() if job_id and job_id.isdigit() else None
    context = {"form": form, "error": error, "job": _job_payload(job) if job else None, "enabled": start is not None}
    return render(request, "contacts/import.html", context, status=400 if error or form.errors else 200)


@console_view(OPERATOR_ONLY)
def import_status(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
    model, _start = _backend()
    job = actor.scope(model.objects.all()).filter(pk=pk).first() if model is not None else None
    if job is None:
        raise Http404(_("导入任务不存在"))
    return JsonResponse(_job_payload(job))
