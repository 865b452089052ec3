"""客户群继承: hand a member's customer groups to a colleague (docs/platforms.md#wecom-group-handover).

``groupchat/onjob_transfer`` for a member still on the job, ``groupchat/transfer`` for one who left
(离职); ≤ 100 groups per call; WeCom answers per group in ``failed_chat_list`` (90500 the owner has not
resigned, 90502 the owner has resigned, 90504 no change, 90507/90508 a resigned group already being or
already handed over…) and the owner of every other group changes at once. The request is a
:class:`~channels.models.GroupTransfer` row committed before the call; the groups WeCom moved get their
new owner here through ``contacts.services.groups_owner_set`` (audited); the full sync reconciles.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from channels.errors import PlatformError, TransientError
from channels.models import ChannelAccount, GroupTransfer, TransferKind, TransferStatus
from channels.wecom.client import WeComClient
from contacts import services as contacts
from contacts.models import CustomerGroup, Staff
from scrm.celery import enqueue_on_commit

log = logging.getLogger(__name__)

BATCH = 100
RESULT_LABELS: dict[int, Any] = {
    0: _l("已转给新群主"),
    40050: _l("群不存在或已解散"),
    90500: _l("群主未离职，请用在职继承"),
    90501: _l("该群不是客户群"),
    90502: _l("群主已离职，请用离职继承"),
    90503: _l("群已满员，需新群主在客户端确认"),
    90504: _l("群主没有变化"),
    90507: _l("离职群正在继承处理中"),
    90508: _l("离职群已经继承"),
}


class GroupTransferError(ValueError):
    """Refused input; the message (Chinese) says what to fix."""


def groups_of(account: ChannelAccount, staff: Staff) -> list[str]:
    """The WeCom chat ids of the live customer groups ``staff`` owns."""
    return list(
        CustomerGroup.objects.filter(organization_id=account.organization_id, owner=staff, dismissed_at__isnull=True)
        .exclude(wecom_chat_id="")
        .order_by("id")
        .values_list("wecom_chat_id", flat=True)
    )


def group_transfer_start(
    *,
    account: ChannelAccount,
    kind: str,
    handover: Staff,
    takeover: Staff,
    by: Staff | None = None,
    chat_ids: list[str] | None = None,
) -> GroupTransfer:
    """Record the request, submit it in batches of 100 (outside any transaction), apply what moved."""
    if kind not in TransferKind.values:
        raise GroupTransferError(_("请选择在职继承或离职继承"))
    if handover.pk == takeover.pk:
        raise GroupTransferError(_("新群主不能与原群主相同"))
    if not handover.wecom_userid or not takeover.wecom_userid:
        raise GroupTransferError(_("原群主和新群主都需要企业微信账号"))
    if {handover.organization_id, takeover.organization_id} != {account.organization_id}:
        raise GroupTransferError(_("员工不属于该企业"))
    if not takeover.is_active:
        raise GroupTransferError(_("%(name)s 已离职，不能接手客户群") % {"name": takeover.name})
    ids = chat_ids if chat_ids is not None else groups_of(account, handover)
    if not ids:
        raise GroupTransferError(_("%(name)s 名下没有可转接的客户群") % {"name": handover.name})
    transfer = GroupTransfer.objects.create(
        organization_id=account.organization_id,
        account=account,
        kind=kind,
        handover=handover,
        takeover=takeover,
        chat_ids=ids,
        created_by=by,
    )
    try:
        return group_transfer_run(transfer_id=transfer.pk)
    except TransientError:
        # Recorded on the row (what moved so far, the error); the task resubmits the rest with a backoff.
        enqueue_on_commit("channels.sync.wecom_group_transfer", transfer.pk)
        transfer.refresh_from_db()
        return transfer


def group_transfer_run(*, transfer_id: int) -> GroupTransfer:
    """Submit the groups of a recorded transfer WeCom has not answered for yet, in batches of 100, and
    give the ones it moved their new owner here. A transient error keeps what was answered, records the
    error and raises (``channels.sync.wecom_group_transfer`` retries); a redelivered run after the
    last answer changes nothing."""
    transfer = GroupTransfer.objects.select_related("account", "takeover", "created_by").get(pk=transfer_id)
    results: dict[str, dict[str, Any]] = dict(transfer.results or {})
    ids = [chat_id for chat_id in transfer.chat_ids if chat_id not in results]
    if transfer.status in (TransferStatus.DONE, TransferStatus.FAILED) or not ids:
        return transfer
    path = (
        "externalcontact/groupchat/transfer"
        if transfer.kind == TransferKind.RESIGNED
        else "externalcontact/groupchat/onjob_transfer"
    )
    client = WeComClient.for_account(transfer.account, max_wait=10.0)
    error, pending = "", None
    moved_now: list[str] = []
    for i in range(0, len(ids), BATCH):
        chunk = ids[i : i + BATCH]
        try:
            data = client.post(path, {"chat_id_list": chunk, "new_owner": transfer.takeover.wecom_userid})
        except PlatformError as exc:
            error = _("企业微信拒绝了转接（错误码 %(code)s）：%(m)s") % {"code": exc.code, "m": exc.message}
            break
        except TransientError as exc:
            error = _("企业微信暂时无法连接（%(e)s），剩下的客户群稍后自动重新提交") % {"e": exc}
            pending = exc
            break
        failed = {str(row.get("chat_id")): row for row in data.get("failed_chat_list") or []}
        for chat_id in chunk:
            row = failed.get(chat_id)
            results[chat_id] = (
                {"errcode": int(row.get("errcode") or 0), "errmsg": str(row.get("errmsg") or "")[:100]}
                if row
                else {"errcode": 0, "errmsg": ""}
            )
            if not row:
                moved_now.append(chat_id)
    if moved_now:
        contacts.groups_owner_set(
            organization=transfer.account.organization,
            wecom_chat_ids=moved_now,
            owner=transfer.takeover,
            by=transfer.created_by,
            transfer_id=transfer.pk,
            kind=transfer.kind,
        )
    moved = any(row["errcode"] == 0 for row in results.values())
    if pending is not None:
        status = TransferStatus.SUBMITTED
    else:
        status = TransferStatus.DONE if moved else TransferStatus.FAILED
    GroupTransfer.objects.filter(pk=transfer.pk).update(results=results, status=status, error=error[:300])
    if pending is not None:
        raise pending
    transfer.refresh_from_db()
    return transfer


def summary(transfer: GroupTransfer) -> dict[str, int]:
    """Groups per outcome label, for the console."""
    out: dict[str, int] = {}
    for row in transfer.results.values():
        code = int(row.get("errcode") or 0)
        label = str(RESULT_LABELS.get(code) or _("失败（%(code)s）") % {"code": code})
        out[label] = out.get(label, 0) + 1
    return out
