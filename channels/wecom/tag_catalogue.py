"""Tag catalogue pushed to WeCom: tags and tag groups created, renamed, reordered or deleted here.

contacts calls :func:`catalogue_push` (registered in ``channels.apps``) before it writes a catalogue
change, outside its transactions. The call is a :class:`~channels.models.TagPush` row committed first,
then ``add_corp_tag`` / ``edit_corp_tag`` / ``del_corp_tag``:

* accepted → the WeCom ids go back to contacts, which writes the change;
* refused → the push is marked refused and contacts refuses the change with WeCom's reason in Chinese,
  so our side stays as it was;
* rate limited or transient → the push is retried by ``channels.sync.wecom_tag_catalogue_push`` and
  contacts tells the operator; when WeCom accepts, the task applies the change (``source=sync``).

WeCom sorts a larger ``order`` first, we sort a smaller one first: :func:`to_wecom_order` maps one onto
the other (docs/platforms.md#wecom-corp-tags). The full sync reconciles whatever changed on WeCom itself.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from channels.errors import PlatformError, RateLimited, TransientError
from channels.models import ChannelAccount, ChannelPlatform, RemarkStatus, TagPush, TagPushOp
from channels.wecom.client import WeComClient
from contacts import services as contacts
from contacts.models import Tag, TagGroup, TagSource
from scrm.celery import enqueue_on_commit

log = logging.getLogger(__name__)

INT4_MAX = 2**31 - 1
UNKNOWN_TAG = 40068

# WeCom's refusals of a catalogue change, said for the operator (docs/platforms.md#wecom-corp-tags).
REFUSALS = {
    40068: _l("企业微信里没有这个标签或标签组（可能已在企业微信删除），请先同步企业微信"),
    40071: _l("企业微信里已有同名标签（同一标签组内）或同名标签组，请换一个名称或先同步企业微信"),
    40072: _l("名称长度不符合企业微信要求（1–30 个字）"),
    40058: _l("企业微信认为参数不合法"),
    41017: _l("缺少标签 ID"),
    48002: _l("企业微信应用没有管理客户标签的权限（需使用“客户联系”secret）"),
    60011: _l("企业微信应用没有这个操作的权限"),
}


def to_wecom_order(order: int) -> int:
    """Our order (smaller first, INT4) → WeCom's (larger first, [0, 2^32)); a bijection."""
    return INT4_MAX - max(-(2**31), min(INT4_MAX, order))


def from_wecom_order(order: int) -> int:
    return INT4_MAX - max(0, min(2**32 - 1, int(order or 0)))


def refusal_text(code: int, message: str) -> str:
    reason = REFUSALS.get(code) or _("企业微信返回：%(m)s") % {"m": message}
    return _("企业微信拒绝了这次修改（错误码 %(code)s：%(reason)s），本地未作改动") % {"code": code, "reason": reason}


def _account(organization_id: int) -> ChannelAccount | None:
    return (
        ChannelAccount.objects.filter(organization_id=organization_id, platform=ChannelPlatform.WECOM, is_active=True)
        .order_by("id")
        .first()
    )


def _request(change: contacts.CatalogueChange) -> tuple[str, str, dict[str, Any]] | None:
    """(op, path, body) of the WeCom call for a change, or None when WeCom holds nothing to change."""
    group = TagGroup.objects.filter(pk=change.group_id).first()
    if group is None:
        return None
    if change.op == TagPushOp.TAG_CREATE:
        tag: dict[str, Any] = {"name": change.name, "order": to_wecom_order(change.order or 0)}
        if group.wecom_group_id:
            return change.op, "externalcontact/add_corp_tag", {"group_id": group.wecom_group_id, "tag": [tag]}
        body = {"group_name": group.name, "order": to_wecom_order(group.order), "tag": [tag]}
        return change.op, "externalcontact/add_corp_tag", body
    if change.op in (TagPushOp.TAG_UPDATE, TagPushOp.TAG_DELETE):
        wecom_id = Tag.objects.filter(pk=change.tag_id or 0).values_list("wecom_tag_id", flat=True).first()
        if not wecom_id:
            return None
        if change.op == TagPushOp.TAG_DELETE:
            return change.op, "externalcontact/del_corp_tag", {"tag_id": [wecom_id]}
        return change.op, "externalcontact/edit_corp_tag", _edit_body(wecom_id, change)
    if change.op == TagPushOp.GROUP_UPDATE:
        if not group.wecom_group_id:
            return None
        return change.op, "externalcontact/edit_corp_tag", _edit_body(group.wecom_group_id, change)
    if change.op == TagPushOp.GROUP_DELETE:
        body = {}
        if group.wecom_group_id:
            body["group_id"] = [group.wecom_group_id]
        # Tags linked before their group was (older syncs matched groups by name only).
        loose = list(group.tags.exclude(wecom_tag_id="").values_list("wecom_tag_id", flat=True))
        if loose and not group.wecom_group_id:
            body["tag_id"] = loose
        return (change.op, "externalcontact/del_corp_tag", body) if body else None
    raise ValueError(f"unknown catalogue change {change.op!r}")


def _edit_body(wecom_id: str, change: contacts.CatalogueChange) -> dict[str, Any]:
    body: dict[str, Any] = {"id": wecom_id}
    if change.name is not None:
        body["name"] = change.name
    if change.order is not None:
        body["order"] = to_wecom_order(change.order)
    return body


def catalogue_push(change: contacts.CatalogueChange) -> dict[str, str]:
    """The pusher contacts calls: record, call WeCom, answer with its ids (or refuse / defer)."""
    account = _account(change.organization_id)
    if account is None:
        return {}
    request = _request(change)
    if request is None:
        return {}
    op, path, body = request
    push = TagPush.objects.create(
        organization_id=change.organization_id,
        account=account,
        op=op,
        path=path,
        body=body,
        change=dict(vars(change)),
        by_id=change.by_id,
    )
    try:
        return tag_push_call(push)
    except (RateLimited, TransientError):
        enqueue_on_commit("channels.sync.wecom_tag_catalogue_push", push.pk)
        raise contacts.CataloguePending(
            _("企业微信暂时无法连接：这次修改已记录，将自动重试，企业微信接受后才会在这里生效")
        ) from None


def tag_push_call(push: TagPush) -> dict[str, str]:
    """Make the recorded call once. Returns WeCom's ids; raises ContactsError on a refusal (recorded)
    and RateLimited / TransientError (recorded) for the caller to retry."""
    TagPush.objects.filter(pk=push.pk).update(attempts=F("attempts") + 1, updated_at=timezone.now())
    try:
        data = WeComClient.for_account(push.account, max_wait=10.0).post(push.path, push.body)
    except (RateLimited, TransientError) as exc:
        TagPush.objects.filter(pk=push.pk).update(status=RemarkStatus.RETRYING, error=str(exc)[:300])
        raise
    except PlatformError as exc:
        if exc.code == UNKNOWN_TAG and push.op in (TagPushOp.TAG_DELETE, TagPushOp.GROUP_DELETE):
            data = {}  # already gone on WeCom: what the deletion wanted
        else:
            text = refusal_text(exc.code, exc.message)
            TagPush.objects.filter(pk=push.pk).update(status=RemarkStatus.REFUSED, error=text[:300])
            raise contacts.ContactsError(text) from exc
    TagPush.objects.filter(pk=push.pk).update(status=RemarkStatus.DONE, error="")
    if push.op != TagPushOp.TAG_CREATE:
        return {"pushed": "1"}
    group = data.get("tag_group") or {}
    tags = group.get("tag") or []
    return {"group_id": str(group.get("group_id") or ""), "tag_id": str(tags[0]["id"]) if tags else ""}


def tag_push_run(*, push_id: int) -> str:
    """The retry task: call again; once WeCom accepts, apply the change here as WeCom's (source sync)."""
    push = TagPush.objects.select_related("account").filter(pk=push_id).first()
    if push is None or push.status in (RemarkStatus.DONE, RemarkStatus.REFUSED):
        return "nothing to do"
    try:
        ids = tag_push_call(push)
    except contacts.ContactsError as exc:
        log.info("tag push %s refused on retry: %s", push.pk, exc)
        return "refused"
    _apply(push, ids)
    return "done"


def _apply(push: TagPush, ids: dict[str, str]) -> None:
    change = push.change
    group = TagGroup.objects.filter(pk=change.get("group_id")).first()
    tag = Tag.objects.filter(pk=change.get("tag_id")).first() if change.get("tag_id") else None
    sync = TagSource.SYNC
    if push.op == TagPushOp.TAG_CREATE and group is not None:
        if ids.get("group_id") and not group.wecom_group_id:
            contacts.tag_group_update(group=group, wecom_group_id=ids["group_id"], source=sync)
        if not Tag.objects.filter(group=group, name=change["name"]).exists():
            contacts.tag_create(
                group=group,
                name=change["name"],
                order=change.get("order") or 0,
                wecom_tag_id=ids["tag_id"],
                source=sync,
            )
    elif push.op == TagPushOp.TAG_UPDATE and tag is not None:
        contacts.tag_update(tag=tag, name=change.get("name"), order=change.get("order"), source=sync)
    elif push.op == TagPushOp.TAG_DELETE and tag is not None:
        contacts.tag_delete(tag=tag, source=sync)
    elif push.op == TagPushOp.GROUP_UPDATE and group is not None:
        contacts.tag_group_update(group=group, name=change.get("name"), order=change.get("order"), source=sync)
    elif push.op == TagPushOp.GROUP_DELETE and group is not None:
        contacts.tag_group_delete(group=group, source=sync)


def catalogue_notices(organization_id: int) -> list[str]:
    """For the tag page: changes still waiting for WeCom, and queued ones WeCom refused this week."""
    week = timezone.now() - timedelta(days=7)
    pushes = TagPush.objects.filter(organization_id=organization_id).filter(
        Q(status__in=[RemarkStatus.PENDING, RemarkStatus.RETRYING])
        | Q(status=RemarkStatus.REFUSED, attempts__gt=1, updated_at__gte=week)
    )[:20]
    lines = []
    for push in pushes:
        what = push.get_op_display()
        name = (
            push.change.get("name")
            or Tag.objects.filter(pk=push.change.get("tag_id") or 0).values_list("name", flat=True).first()
            or TagGroup.objects.filter(pk=push.change.get("group_id") or 0).values_list("name", flat=True).first()
            or ""
        )
        if push.status == RemarkStatus.REFUSED:
            lines.append(
                _("排队重试的“%(what)s %(name)s”被企业微信拒绝：%(e)s") % {"what": what, "name": name, "e": push.error}
            )
        else:
            lines.append(_("“%(what)s %(name)s”正在等待企业微信接受，接受后生效") % {"what": what, "name": name})
    return lines
