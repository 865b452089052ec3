"""The material library (素材库): store a file once, checked against what WeCom accepts; delete it when unused.

Limits (docs/platforms.md#wecom-media): an image is JPG or PNG ≤ 10 MB, a video MP4 ≤ 10 MB, a file
≤ 20 MB, everything more than 5 bytes. They are checked here, before anything is stored, from the
bytes themselves (not the file name), so WeCom never refuses an upload we accepted.

Who uses a material is asked of the registered usage providers: campaigns (群发, 朋友圈, 欢迎语)
registers one in ``CampaignsConfig.ready()`` (channels never imports campaigns, docs/architecture.md#layers);
the 入群欢迎语 templates of channels are checked here directly.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from channels.filetypes import sniff
from channels.media_models import MATERIAL_MAX_BYTES, MATERIAL_MIN_BYTES, GroupWelcomeTemplate, Material, MaterialKind
from contacts.models import Organization, Staff

log = logging.getLogger(__name__)

NAME_MAX = 200
# What each kind must be, by magic number: the formats WeCom's media/upload takes.
FORMATS = {MaterialKind.IMAGE: {"jpg": "image/jpeg", "png": "image/png"}, MaterialKind.VIDEO: {"mp4": "video/mp4"}}


def _mb(n: int) -> int:
    return n // (1024 * 1024)


@dataclass(frozen=True)
class Stored:
    material: Material
    created: bool  # False: the same bytes were already in the library


def material_create(
    *, organization: Organization, kind: str, name: str, data: bytes, content_type: str = "", by: Staff | None = None
) -> Stored:
    """Store ``data`` as a material of ``kind``; the same bytes twice give the stored one back.

    Raises ``ValidationError`` ({field: message}) for a kind, format, size or name WeCom would refuse.
    """
    if kind not in MaterialKind.values:
        raise ValidationError({"kind": _("素材类型无效：请选择图片、视频或文件")})
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("请填写素材名称")})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": _("素材名称最多 %(n)d 个字") % {"n": NAME_MAX}})
    size = len(data)
    if size < MATERIAL_MIN_BYTES:
        raise ValidationError({"file": _("文件太小或为空：企业微信要求文件大于 5 字节")})
    if size > MATERIAL_MAX_BYTES[kind]:
        raise ValidationError(
            {
                "file": _("%(kind)s最大 %(n)d MB，这个文件有 %(m).1f MB，请压缩后再上传")
                % {"kind": MaterialKind(kind).label, "n": _mb(MATERIAL_MAX_BYTES[kind]), "m": size / 1024 / 1024}
            }
        )
    fmt = sniff(data)
    formats = FORMATS.get(MaterialKind(kind))
    if formats is not None:
        if fmt not in formats:
            raise ValidationError(
                {"file": _("图片只支持 JPG 或 PNG 格式") if kind == MaterialKind.IMAGE else _("视频只支持 MP4 格式")}
            )
        content_type = formats[fmt]
    sha = hashlib.sha256(data).hexdigest()
    existing = Material.objects.filter(organization=organization, sha256=sha).first()
    if existing is not None:
        return Stored(existing, created=False)
    try:
        with transaction.atomic():
            material = Material.objects.create(
                organization=organization,
                kind=kind,
                name=name,
                content_type=(content_type or "application/octet-stream")[:100],
                size=size,
                sha256=sha,
                data=data,
                created_by=by,
            )
    except IntegrityError:  # the same bytes stored concurrently
        return Stored(Material.objects.get(organization=organization, sha256=sha), created=False)
    return Stored(material, created=True)


# -- who uses a material ----------------------------------------------------------------------------
UsageProvider = Callable[[int, list[int]], dict[int, list[str]]]
_USAGE: list[UsageProvider] = []


def register_material_usage(provider: UsageProvider) -> None:
    """``provider(organization_id, material_ids) -> {material_id: [what uses it, …]}``; once per function."""
    if provider not in _USAGE:
        _USAGE.append(provider)


def material_usage(*, organization_id: int, material_ids: list[int]) -> dict[int, list[str]]:
    """What uses each material (only materials in use are keys)."""
    out: dict[int, list[str]] = {}
    if not material_ids:
        return out
    for template in GroupWelcomeTemplate.objects.filter(
        organization_id=organization_id, material_id__in=material_ids
    ).only("pk", "name", "material_id"):
        out.setdefault(int(template.material_id or 0), []).append(_("入群欢迎语「%(name)s」") % {"name": template.name})
    for provider in _USAGE:
        for material_id, uses in provider(organization_id, material_ids).items():
            out.setdefault(material_id, []).extend(uses)
    return out


def material_delete(*, material: Material) -> None:
    """Delete a material no draft, pending or running send and no template uses; else ``ValidationError``."""
    uses = material_usage(organization_id=material.organization_id, material_ids=[material.pk]).get(material.pk)
    if uses:
        raise ValidationError(
            _("素材正在使用中，不能删除：%(uses)s。请先修改或结束这些内容。") % {"uses": "、".join(uses[:5])}
        )
    material.delete()
