"""Message content checked against WeCom's limits, with messages that say what to fix.

Limits: docs/platforms.md#wecom-broadcasts, docs/platforms.md#wecom-moments and docs/platforms.md#wecom-media.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from campaigns.models import MAX_ATTACHMENTS, CampaignKind
from channels.models import Material, MaterialKind

TEXT_MAX_BYTES = 4000
MOMENT_TEXT_MAX_CHARS = 2000
LINK_TITLE_MAX_BYTES = 128
LINK_DESC_MAX_BYTES = 512
URL_MAX_BYTES = 2048
MINIPROGRAM_TITLE_MAX_BYTES = 64
ATTACHMENT_TYPES = ("image", "video", "file", "link", "miniprogram")
MATERIAL_TYPES = ("image", "video", "file")


def _nbytes(value: str) -> int:
    return len(value.encode("utf-8"))


def _url_ok(value: str) -> bool:
    return value.startswith(("http://", "https://")) and _nbytes(value) <= URL_MAX_BYTES


def _material_errors(organization_id: int, attachments: list[dict[str, Any]]) -> list[str]:
    """Every library material named must be this brand's and of the right kind (素材库, channels.materials)."""
    wanted: list[tuple[int, int, str]] = []  # (position, material id, kind it must be)
    for i, att in enumerate(attachments, start=1):
        if not isinstance(att, dict):
            continue
        body = att.get(str(att.get("msgtype"))) or {}
        if att.get("msgtype") in MATERIAL_TYPES and isinstance(body.get("material_id"), int):
            wanted.append((i, body["material_id"], str(att["msgtype"])))
        if att.get("msgtype") == "miniprogram" and isinstance(body.get("pic_material_id"), int):
            wanted.append((i, body["pic_material_id"], MaterialKind.IMAGE))
    kinds = dict(
        Material.objects.filter(organization_id=organization_id, pk__in=[m for _i, m, _k in wanted]).values_list(
            "pk", "kind"
        )
    )
    errors = []
    for i, material_id, kind in wanted:
        if kinds.get(material_id) != kind:
            errors.append(
                _("第 %(i)d 个附件的素材不存在或不是%(kind)s，请从素材库重新选择")
                % {"i": i, "kind": MaterialKind(kind).label}
            )
    return errors


def validate_content(
    *, kind: str, text: str, attachments: list[dict[str, Any]] | None, organization_id: int
) -> list[dict[str, Any]]:
    """Return the normalized attachments or raise ``ValidationError`` with every problem found.

    Images, videos and files are library materials (``{"material_id": id}``), never URLs: WeCom takes
    only its own media ids there, which ``channels.wecom.media`` uploads and caches at send time.
    """
    attachments = list(attachments or [])
    errors: list[str] = []
    if not text.strip() and not attachments:
        errors.append(_("请填写文字内容或添加至少一个附件"))
    if kind == CampaignKind.MOMENT:
        if len(text) > MOMENT_TEXT_MAX_CHARS:
            errors.append(
                _("朋友圈文字最多 %(n)d 个字，当前 %(m)d 个，请删减") % {"n": MOMENT_TEXT_MAX_CHARS, "m": len(text)}
            )
    elif _nbytes(text) > TEXT_MAX_BYTES:
        errors.append(
            _("群发文字最多 %(n)d 字节（约 %(c)d 个汉字），当前 %(m)d 字节，请删减")
            % {"n": TEXT_MAX_BYTES, "c": TEXT_MAX_BYTES // 3, "m": _nbytes(text)}
        )
    if len(attachments) > MAX_ATTACHMENTS:
        errors.append(
            _("附件最多 %(n)d 个，当前 %(m)d 个，请移除多余的附件") % {"n": MAX_ATTACHMENTS, "m": len(attachments)}
        )
    types = [a.get("msgtype") for a in attachments if isinstance(a, dict)]
    if kind == CampaignKind.MOMENT and ("link" in types or "video" in types) and len(attachments) > 1:
        errors.append(_("朋友圈只能带 9 张图片、1 个视频或 1 个链接，视频和链接不能与其他附件同时发布"))
    if kind == CampaignKind.MOMENT and ("miniprogram" in types or "file" in types):
        errors.append(_("朋友圈不支持小程序和文件附件，请改用图片、视频或链接"))
    normalized: list[dict[str, Any]] = []
    for i, att in enumerate(attachments, start=1):
        if not isinstance(att, dict) or att.get("msgtype") not in ATTACHMENT_TYPES:
            errors.append(_("第 %(i)d 个附件类型无效：只支持图片、视频、文件、链接、小程序") % {"i": i})
            continue
        msgtype = att["msgtype"]
        body = att.get(msgtype) or {}
        if not isinstance(body, dict):
            errors.append(_("第 %(i)d 个附件格式无效") % {"i": i})
            continue
        if msgtype in MATERIAL_TYPES:
            if not isinstance(body.get("material_id"), int):
                errors.append(
                    _("第 %(i)d 个附件（%(kind)s）缺少素材：请从素材库选择，不能填写网址")
                    % {"i": i, "kind": MaterialKind(msgtype).label}
                )
            body = {"material_id": body.get("material_id")}
        elif msgtype == "link":
            title, url = str(body.get("title", "")), str(body.get("url", ""))
            if not title:
                errors.append(_("第 %(i)d 个附件（链接）缺少标题") % {"i": i})
            elif _nbytes(title) > LINK_TITLE_MAX_BYTES:
                errors.append(
                    _("第 %(i)d 个附件（链接）标题超过 %(n)d 字节，请缩短") % {"i": i, "n": LINK_TITLE_MAX_BYTES}
                )
            if _nbytes(str(body.get("desc", ""))) > LINK_DESC_MAX_BYTES:
                errors.append(
                    _("第 %(i)d 个附件（链接）描述超过 %(n)d 字节，请缩短") % {"i": i, "n": LINK_DESC_MAX_BYTES}
                )
            if not _url_ok(url):
                errors.append(
                    _("第 %(i)d 个附件（链接）地址须以 http:// 或 https:// 开头且不超过 2048 字节") % {"i": i}
                )
            if body.get("picurl") and not _url_ok(str(body["picurl"])):
                errors.append(_("第 %(i)d 个附件（链接）封面地址无效，须以 http(s):// 开头") % {"i": i})
        else:
            title = str(body.get("title", ""))
            if not title:
                errors.append(_("第 %(i)d 个附件（小程序）缺少标题") % {"i": i})
            elif _nbytes(title) > MINIPROGRAM_TITLE_MAX_BYTES:
                errors.append(
                    _("第 %(i)d 个附件（小程序）标题超过 %(n)d 字节，请缩短")
                    % {"i": i, "n": MINIPROGRAM_TITLE_MAX_BYTES}
                )
            if not body.get("appid"):
                errors.append(_("第 %(i)d 个附件（小程序）缺少 AppID，请填写已关联的小程序 AppID") % {"i": i})
            if not str(body.get("page", "")):
                errors.append(_("第 %(i)d 个附件（小程序）缺少页面路径，例如 pages/index/index.html") % {"i": i})
            if not isinstance(body.get("pic_material_id"), int):
                errors.append(_("第 %(i)d 个附件（小程序）缺少封面图片：请从素材库选择") % {"i": i})
            body = {k: body.get(k) for k in ("title", "appid", "page", "pic_material_id")}
        normalized.append({"msgtype": msgtype, msgtype: body})
    if not errors:
        errors = _material_errors(organization_id, normalized)
    if errors:
        raise ValidationError(errors)
    return normalized
