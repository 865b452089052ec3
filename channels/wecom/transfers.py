"""在职继承 / 离职继承: hand a staff member's customers to a colleague (docs/platforms.md#wecom-transfers).

WeCom takes ≤ 100 customers per call and completes each transfer within 24 h (the customer may
refuse: ``transfer_fail`` callback). The follow itself moves through the callbacks and the sync;
this module submits the request and polls ``transfer_result`` for the console.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from channels.errors import PlatformError
from channels.models import ChannelAccount, CustomerTransfer, TransferKind, TransferStatus
from channels.wecom.client import WeComClient
from contacts.models import Follow, Identity, Platform, Staff

BATCH = 100
RESULT_LABELS = {1: "接替完毕", 2: "等待接替", 3: "客户拒绝", 4: "接替成员客户达到上限", 5: "无接替记录"}


class TransferError(ValueError):
    """Refused input; the message (Chinese) says what to fix."""


def _customers_of(account: ChannelAccount, staff: Staff) -> list[str]:
    customer_ids = Follow.objects.filter(staff=staff, deleted_at__isnull=True).values("customer_id")
    return list(
        Identity.objects.filter(
            customer_id__in=customer_ids, platform=Platform.WECOM, account=account.external_id
        ).values_list("external_id", flat=True)
    )


def transfer_start(
    *,
    account: ChannelAccount,
    kind: str,
    handover: Staff,
    takeover: Staff,
    by: Staff | None = None,
    message: str = "",
    external_userids: list[str] | None = None,
) -> CustomerTransfer:
    """Record the request, then submit it to WeCom in batches of 100 (outside the transaction)."""
    if handover.pk == takeover.pk:
        raise TransferError("接替人不能与原跟进人相同")
    if not handover.wecom_userid or not takeover.wecom_userid:
        raise TransferError("原跟进人和接替人都需要企业微信账号")
    if {handover.organization_id, takeover.organization_id} != {account.organization_id}:
        raise TransferError("员工不属于该企业")
    if len(message) > 200:
        raise TransferError("转接提示语最多 200 个字")
    ids = external_userids if external_userids is not None else _customers_of(account, handover)
    if not ids:
        raise TransferError(f"{handover.name} 名下没有可转接的企业微信客户")
    with transaction.atomic():
        transfer = CustomerTransfer.objects.create(
            organization_id=account.organization_id,
            account=account,
            kind=kind,
            handover=handover,
            takeover=takeover,
            external_userids=ids,
            transfer_success_msg=message,
            created_by=by,
        )
    client = WeComClient.for_account(account, max_wait=10.0)
    path = (
        "externalcontact/transfer_customer"
        if kind == TransferKind.ON_JOB
        else "externalcontact/resigned/transfer_customer"
    )
    results: dict[str, Any] = {}
    error = ""
    for i in range(0, len(ids), BATCH):
        body: dict[str, Any] = {
            "handover_userid": handover.wecom_userid,
            "takeover_userid": takeover.wecom_userid,
            "external_userid": ids[i : i + BATCH],
        }
        if message and kind == TransferKind.ON_JOB:
            body["transfer_success_msg"] = message
        try:
            data = client.post(path, body)
        except PlatformError as exc:
            error = f"企业微信返回错误 {exc.code}：{exc.message}"
            break
        for row in data.get("customer") or []:
            results[row["external_userid"]] = {"errcode": int(row.get("errcode") or 0), "status": 2}
    status = TransferStatus.FAILED if error and not results else TransferStatus.SUBMITTED
    CustomerTransfer.objects.filter(pk=transfer.pk).update(results=results, status=status, error=error[:300])
    transfer.refresh_from_db()
    return transfer


def transfer_refresh(*, transfer: CustomerTransfer) -> CustomerTransfer:
    """Poll ``transfer_result``; the transfer is done when no customer is still waiting (status 2)."""
    client = WeComClient.for_account(transfer.account, max_wait=10.0)
    path = (
        "externalcontact/transfer_result"
        if transfer.kind == TransferKind.ON_JOB
        else "externalcontact/resigned/transfer_result"
    )
    results = dict(transfer.results)
    for row in client.paginate(
        path,
        {"handover_userid": transfer.handover.wecom_userid, "takeover_userid": transfer.takeover.wecom_userid},
        "customer",
    ):
        ext = row["external_userid"]
        if ext in results:
            results[ext] = {**results[ext], "status": int(row.get("status") or 0)}
    waiting = any(r.get("errcode", 0) == 0 and r.get("status") == 2 for r in results.values())
    status = transfer.status if waiting else TransferStatus.DONE
    CustomerTransfer.objects.filter(pk=transfer.pk).update(results=results, status=status)
    transfer.refresh_from_db()
    return transfer


def summary(transfer: CustomerTransfer) -> dict[str, int]:
    """Counts per outcome label, for the console."""
    out: dict[str, int] = {}
    for row in transfer.results.values():
        label = RESULT_LABELS.get(row.get("status", 0), "提交失败") if row.get("errcode", 0) == 0 else "提交失败"
        out[label] = out.get(label, 0) + 1
    return out
