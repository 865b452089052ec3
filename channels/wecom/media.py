"""WeCom media ids for library materials, cached per (material, account, purpose) (docs/platforms.md#wecom-media).

* ``message`` (群发, 欢迎语, 入群欢迎语): ``media/upload``; ``moment`` (朋友圈): ``media/upload_attachment``
  with ``attachment_type`` 1 — Moments refuse the ids of ``media/upload``.
* A media id lives 3 days from WeCom's ``created_at``; the cache hands it out until an hour before that,
  then uploads again. :func:`media_forget` drops ids WeCom no longer knows (it answered 40007), and
  :func:`with_media` retries a refused call once with fresh ids — safe, since a refused call created nothing.
* Like every outbound call, the upload is recorded first: the :class:`MaterialUpload` row (state
  ``uploading``, attempt time, count) is committed before WeCom is called.

Attachments name materials in our stored shape — ``{"msgtype": "image", "image": {"material_id": 7}}``,
``video``/``file`` alike, a miniprogram's cover as ``pic_material_id`` — and :func:`resolve_attachments`
turns them into WeCom's (``media_id``, ``pic_media_id``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from channels.errors import PlatformError
from channels.media_models import Material, MaterialUpload, MediaPurpose, UploadState
from channels.models import ChannelAccount
from channels.wecom.client import WeComClient

log = logging.getLogger(__name__)

MEDIA_TTL = timedelta(days=3)
MARGIN = timedelta(hours=1)
INVALID_MEDIA = 40007
T = TypeVar("T")


def media_id_for(
    *, account: ChannelAccount, material: Material, purpose: str, client: WeComClient | None = None
) -> str:
    """A media id of ``material`` valid for at least another hour: from the cache, or uploaded now."""
    now = timezone.now()
    cached = (
        MaterialUpload.objects.filter(
            material=material, account=account, purpose=purpose, state=UploadState.OK, expires_at__gt=now
        )
        .values_list("media_id", flat=True)
        .first()
    )
    if cached:
        return cached
    with transaction.atomic():  # recorded (and committed) before the call
        row, _created = MaterialUpload.objects.select_for_update().get_or_create(
            material=material, account=account, purpose=purpose
        )
        row.state, row.attempted_at, row.uploads, row.error = UploadState.UPLOADING, now, row.uploads + 1, ""
        row.save(update_fields=["state", "attempted_at", "uploads", "error"])
    client = client or WeComClient.for_account(account)
    content = bytes(material.data)
    filename = material.name if "." in material.name else f"{material.name}.{_extension(material)}"
    try:
        if purpose == MediaPurpose.MOMENT:
            data = client.upload_attachment(
                kind=material.kind, filename=filename, content=content, content_type=material.content_type
            )
        else:
            data = client.media_upload(
                kind=material.kind, filename=filename, content=content, content_type=material.content_type
            )
    except PlatformError as exc:
        MaterialUpload.objects.filter(pk=row.pk).update(
            state=UploadState.FAILED, error=f"{exc.code} {exc.message}"[:300]
        )
        raise
    except Exception as exc:
        MaterialUpload.objects.filter(pk=row.pk).update(state=UploadState.FAILED, error=type(exc).__name__)
        raise
    media_id = str(data["media_id"])
    created = int(data.get("created_at") or now.timestamp())
    expires = datetime.fromtimestamp(created, UTC) + MEDIA_TTL - MARGIN
    MaterialUpload.objects.filter(pk=row.pk).update(state=UploadState.OK, media_id=media_id, expires_at=expires)
    log.info("material %s uploaded to account %s for %s", material.pk, account.pk, purpose)
    return media_id


def _extension(material: Material) -> str:
    return {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4"}.get(material.content_type, "bin")


def media_forget(*, account_id: int, material_ids: list[int], purpose: str) -> int:
    """WeCom no longer knows these ids (40007): the next use uploads again."""
    return MaterialUpload.objects.filter(
        account_id=account_id, material_id__in=material_ids, purpose=purpose, state=UploadState.OK
    ).update(state=UploadState.FAILED, error="40007 invalid media_id", expires_at=timezone.now())


def material_ids_in(attachments: list[dict[str, Any]] | None) -> list[int]:
    """Every material an attachment list names (``material_id``, a miniprogram's ``pic_material_id``)."""
    ids: list[int] = []
    for att in attachments or []:
        body = att.get(str(att.get("msgtype"))) if isinstance(att, dict) else None
        if not isinstance(body, dict):
            continue
        ids.extend(body[key] for key in ("material_id", "pic_material_id") if isinstance(body.get(key), int))
    return ids


def resolve_attachments(
    *,
    account: ChannelAccount,
    attachments: list[dict[str, Any]] | None,
    purpose: str,
    client: WeComClient | None = None,
) -> list[dict[str, Any]]:
    """The attachments in WeCom's shape, each material replaced by its media id for ``account`` and ``purpose``.

    A material that is gone (or belongs to another brand) raises ``PlatformError(0, …)`` with what to fix.
    """
    wanted = material_ids_in(attachments)
    materials = {m.pk: m for m in Material.objects.filter(organization_id=account.organization_id, pk__in=wanted)}
    missing = sorted(set(wanted) - set(materials))
    if missing:
        raise PlatformError(0, f"附件引用的素材已删除（#{', #'.join(map(str, missing))}），请重新选择素材")
    out: list[dict[str, Any]] = []
    for att in attachments or []:
        msgtype = str(att.get("msgtype"))
        body = copy.deepcopy(att.get(msgtype) or {})
        if isinstance(body.get("material_id"), int):
            body["media_id"] = media_id_for(
                account=account, material=materials[body.pop("material_id")], purpose=purpose, client=client
            )
        if isinstance(body.get("pic_material_id"), int):
            # A miniprogram cover is a media/upload id even in contexts that are not messages.
            body["pic_media_id"] = media_id_for(
                account=account,
                material=materials[body.pop("pic_material_id")],
                purpose=MediaPurpose.MESSAGE,
                client=client,
            )
        out.append({"msgtype": msgtype, msgtype: body})
    return out


def with_media(
    *,
    account: ChannelAccount,
    attachments: list[dict[str, Any]] | None,
    purpose: str,
    call: Callable[[list[dict[str, Any]]], T],
    client: WeComClient | None = None,
) -> T:
    """``call(resolved attachments)``; on 40007 forget the ids, upload again and call once more."""
    resolved = resolve_attachments(account=account, attachments=attachments, purpose=purpose, client=client)
    try:
        return call(resolved)
    except PlatformError as exc:
        ids = material_ids_in(attachments)
        if exc.code != INVALID_MEDIA or not ids:
            raise
        log.info("account %s: WeCom forgot media of materials %s; uploading again", account.pk, ids)
        media_forget(account_id=account.pk, material_ids=ids, purpose=purpose)
        media_forget(account_id=account.pk, material_ids=ids, purpose=MediaPurpose.MESSAGE)
        resolved = resolve_attachments(account=account, attachments=attachments, purpose=purpose, client=client)
        return call(resolved)
