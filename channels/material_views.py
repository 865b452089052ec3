"""The 素材库 console page: list (by type, paginated), upload, preview, delete (refused while in use)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from channels.materials import material_create, material_delete, material_usage
from channels.media_models import MATERIAL_MAX_BYTES, Material, MaterialKind
from channels.selectors import materials_for
from channels.views import page_of, query_without_page
from contacts.access import OPERATOR_AND_MANAGER, AuthenticatedHttpRequest, console_view


class MaterialUploadForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("类型"), choices=MaterialKind.choices)
    name = forms.CharField(label=gettext_lazy("名称"), max_length=200, required=False)
    file = forms.FileField(
        label=gettext_lazy("文件"),
        help_text=gettext_lazy("图片 JPG/PNG 不超过 10 MB，视频 MP4 不超过 10 MB，文件不超过 20 MB"),
        error_messages={"required": gettext_lazy("请选择要上传的文件")},
    )


def _list(request: AuthenticatedHttpRequest, form: MaterialUploadForm, status: int = 200) -> HttpResponse:
    actor = request.actor_obj
    kind = request.GET.get("kind", "")
    page = page_of(request, materials_for(actor, kind))
    uses = material_usage(organization_id=actor.organization_id, material_ids=[m.pk for m in page])
    context = {
        "page": page,
        "rows": [{"material": m, "uses": uses.get(m.pk, [])} for m in page],
        "kinds": MaterialKind.choices,
        "kind": kind,
        "query": query_without_page(request),
        "form": form,
        "max_mb": {k: v // (1024 * 1024) for k, v in MATERIAL_MAX_BYTES.items()},
    }
    return render(request, "channels/materials.html", context, status=status)


@console_view(OPERATOR_AND_MANAGER)
def material_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _list(request, MaterialUploadForm(initial={"kind": request.GET.get("kind") or MaterialKind.IMAGE}))


@console_view(OPERATOR_AND_MANAGER)
@require_POST
def material_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    form = MaterialUploadForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            stored = material_create(
                organization=actor.organization,
                kind=form.cleaned_data["kind"],
                name=form.cleaned_data["name"] or upload.name,
                data=upload.read(),
                content_type=upload.content_type or "",
                by=actor.staff,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if stored.created:
                messages.success(request, _("已上传素材「%(name)s」") % {"name": stored.material.name})
            else:
                messages.info(
                    request, _("素材库里已有相同的文件「%(name)s」，未重复保存") % {"name": stored.material.name}
                )
            return redirect(f"{reverse('channels:material_list')}?kind={stored.material.kind}")
    return _list(request, form, status=400)


@console_view(OPERATOR_AND_MANAGER)
def material_file(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The stored bytes: images and videos shown inline (preview), files downloaded."""
    material = get_object_or_404(request.actor_obj.scope(Material.objects.all()), pk=pk)
    # Images and videos carry the type we sniffed; a file's type came from the browser, so it is only
    # ever offered as a download.
    is_file = material.kind == MaterialKind.FILE
    response = HttpResponse(
        bytes(material.data), content_type="application/octet-stream" if is_file else material.content_type
    )
    disposition = "attachment" if is_file else "inline"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{_quote(material.name)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@console_view(OPERATOR_AND_MANAGER)
@require_POST
def material_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    material = get_object_or_404(request.actor_obj.scope(Material.objects.defer("data")), pk=pk)
    try:
        material_delete(material=material)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已删除素材「%(name)s」") % {"name": material.name})
    return redirect("channels:material_list")
