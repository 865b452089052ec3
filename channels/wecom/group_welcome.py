"""入群欢迎语素材: save here first, then push to WeCom (docs/platforms.md#wecom-group-welcome-templates).

A template is text plus at most one image, link or miniprogram; the image (or the miniprogram's
cover) is a library material, uploaded through ``channels.wecom.media``. The row is committed with
``push_state`` pending before ``group_welcome_template/add`` (or ``edit``) is called; the answer's
``template_id`` is stored with it. A refused push keeps the row, marked failed with WeCom's reason, so
the operator sees why and can save again. Deleting pushes ``del`` first and removes the row only
when WeCom agreed (or never had it).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from channels.errors import PlatformError, TransientError
from channels.media_models import (
    GroupWelcomeKind,
    GroupWelcomeTemplate,
    Material,
    MaterialKind,
    MediaPurpose,
    PushState,
)
from channels.models import ChannelAccount, ChannelPlatform
from channels.wecom import media
from channels.wecom.client import WeComClient
from contacts.models import Organization, Staff

log = logging.getLogger(__name__)

TEXT_MAX_BYTES = 3000
LINK_TITLE_MAX_BYTES = 128
LINK_DESC_MAX_BYTES = 512
URL_MAX_BYTES = 2048
MINIPROGRAM_TITLE_MAX_BYTES = 64


def _nbytes(value: str) -> int:
    return len(value.encode("utf-8"))


def _url_ok(value: str) -> bool:
    return value.startswith(("http://", "https://")) and _nbytes(value) <= URL_MAX_BYTES


def _clean(
    *, organization: Organization, account: ChannelAccount, name: str, text: str, kind: str, material: Material | None,
    attachment: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The fields to store, or ``ValidationError`` ({field: message}) with every problem."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("请填写名称")
    elif len(name) > 100:
        errors["name"] = _("名称最多 100 个字")
    if account.organization_id != organization.pk or account.platform != ChannelPlatform.WECOM:
        errors["account"] = _("所选企业微信账号不存在或无权使用")
    if _nbytes(text) > TEXT_MAX_BYTES:
        errors["text"] = _("入群欢迎语文字最多 %(n)d 字节（约 %(c)d 个汉字），当前 %(m)d 字节") % {
            "n": TEXT_MAX_BYTES,
            "c": TEXT_MAX_BYTES // 3,
            "m": _nbytes(text),
        }
    if kind not in GroupWelcomeKind.values:
        errors["kind"] = _("附件类型无效：请选择仅文字、图片、链接或小程序")
    keep: dict[str, Any] = {}
    if kind in (GroupWelcomeKind.IMAGE, GroupWelcomeKind.MINIPROGRAM):
        if material is None or material.organization_id != organization.pk or material.kind != MaterialKind.IMAGE:
            errors["material"] = (
                _("请从素材库选择一张图片") if kind == GroupWelcomeKind.IMAGE else _("请从素材库选择小程序封面图片")
            )
    else:
        material = None
    if kind == GroupWelcomeKind.LINK:
        keep = {k: str(attachment.get(k) or "").strip() for k in ("title", "url", "desc")}
        if not keep["title"]:
            errors["link_title"] = _("请填写链接标题")
        elif _nbytes(keep["title"]) > LINK_TITLE_MAX_BYTES:
            errors["link_title"] = _("链接标题最多 %(n)d 字节") % {"n": LINK_TITLE_MAX_BYTES}
        if not _url_ok(keep["url"]):
            errors["link_url"] = _("链接地址须以 http:// 或 https:// 开头且不超过 2048 字节")
        if _nbytes(keep["desc"]) > LINK_DESC_MAX_BYTES:
            errors["link_desc"] = _("链接描述最多 %(n)d 字节") % {"n": LINK_DESC_MAX_BYTES}
    elif kind == GroupWelcomeKind.MINIPROGRAM:
        keep = {k: str(attachment.get(k) or "").strip() for k in ("title", "appid", "page")}
        if not keep["title"]:
            errors["mini_title"] = _("请填写小程序标题")
        elif _nbytes(keep["title"]) > MINIPROGRAM_TITLE_MAX_BYTES:
            errors["mini_title"] = _("小程序标题最多 %(n)d 字节") % {"n": MINIPROGRAM_TITLE_MAX_BYTES}
        if not keep["appid"]:
            errors["mini_appid"] = _("请填写已关联的小程序 AppID")
        if not keep["page"]:
            errors["mini_page"] = _("请填写小程序页面路径，例如 pages/index/index.html")
    if not text.strip() and kind == GroupWelcomeKind.NONE:
        errors["text"] = _("请填写文字内容，或添加一个图片、链接或小程序")
    if errors:
        raise ValidationError(errors)
    return {"name": name, "text": text, "kind": kind, "material": material, "attachment": keep}


def _attachments(template: GroupWelcomeTemplate) -> list[dict[str, Any]]:
    """The template's one attachment in our stored shape (materials by id), for ``media.with_media``."""
    if template.kind == GroupWelcomeKind.IMAGE:
        return [{"msgtype": "image", "image": {"material_id": template.material_id}}]
    if template.kind == GroupWelcomeKind.LINK:
        return [{"msgtype": "link", "link": {k: v for k, v in template.attachment.items() if v}}]
    if template.kind == GroupWelcomeKind.MINIPROGRAM:
        return [
            {"msgtype": "miniprogram", "miniprogram": {**template.attachment, "pic_material_id": template.material_id}}
        ]
    return []


def _push(template: GroupWelcomeTemplate) -> GroupWelcomeTemplate:
    """add (no template_id yet) or edit; records the outcome on the row."""
    account = template.account
    client = WeComClient.for_account(account)

    def call(resolved: list[dict[str, Any]]) -> str:
        body: dict[str, Any] = {"text": {"content": template.text}} if template.text.strip() else {}
        for att in resolved:
            body[att["msgtype"]] = att[att["msgtype"]]
        if template.template_id:
            client.group_welcome_edit(template.template_id, body)
            return template.template_id
        return client.group_welcome_add(body)

    try:
        template_id = media.with_media(
            account=account, attachments=_attachments(template), purpose=MediaPurpose.MESSAGE, call=call, client=client
        )
    except (PlatformError, TransientError) as exc:
        reason = f"{exc.code} {exc.message}" if isinstance(exc, PlatformError) else str(exc)
        GroupWelcomeTemplate.objects.filter(pk=template.pk).update(push_state=PushState.FAILED, push_error=reason[:300])
        log.warning("group welcome %s: push refused (%s)", template.pk, reason[:80])
    else:
        GroupWelcomeTemplate.objects.filter(pk=template.pk).update(
            template_id=template_id, push_state=PushState.OK, push_error=""
        )
    template.refresh_from_db()
    return template


def group_welcome_save(
    *,
    organization: Organization,
    account: ChannelAccount,
    name: str,
    text: str = "",
    kind: str = GroupWelcomeKind.NONE,
    material: Material | None = None,
    attachment: dict[str, Any] | None = None,
    template: GroupWelcomeTemplate | None = None,
    by: Staff | None = None,
) -> GroupWelcomeTemplate:
    """Create or change a template, then push it. Bad input: ``ValidationError``, nothing written.

    A template that WeCom already holds stays on its account (its ``template_id`` is WeCom's for that corp).
    """
    if template is not None and template.template_id and template.account_id != account.pk:
        raise ValidationError({"account": _("已同步到企业微信的入群欢迎语不能换到另一个企业微信账号，请新建一条")})
    values = _clean(
        organization=organization, account=account, name=name, text=text, kind=kind, material=material,
        attachment=attachment or {},
    )  # fmt: skip
    with transaction.atomic():  # committed before WeCom is called
        if template is None:
            template = GroupWelcomeTemplate.objects.create(
                organization=organization, account=account, created_by=by, push_state=PushState.PENDING, **values
            )
        else:
            for key, value in values.items():
                setattr(template, key, value)
            template.account = account
            template.push_state, template.push_error = PushState.PENDING, ""
            template.save()
    return _push(template)


def group_welcome_delete(*, template: GroupWelcomeTemplate) -> None:
    """Delete in WeCom first (``del``), then here; raises ``PlatformError`` when WeCom refuses."""
    if template.template_id:
        try:
            WeComClient.for_account(template.account).group_welcome_del(template.template_id)
        except PlatformError as exc:
            if exc.code != 40058:  # 40058: WeCom no longer has it (docs/platforms.md#wecom-group-welcome-templates)
                raise
    template.delete()
