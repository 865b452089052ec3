"""WeCom app messages (应用消息) to members: recorded, then sent, never twice.

Producers (to-do reminders, the lead pool, churn alerts, journeys) call :func:`app_message_send` with a
key of their own; the :class:`~channels.models.AppMessage` row is written in the caller's transaction
and a Celery task sends it after commit through ``message/send`` with the account's app (AgentId).
The same key again returns the row and sends nothing. A delivery interrupted mid-call is retried only
inside WeCom's duplicate-check window (``enable_duplicate_check``, 30 minutes), so WeCom itself drops
the copy if the first call got through; past it the message is marked failed rather than risk a
second copy (docs/platforms.md#wecom-app-messages).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.errors import PlatformError, RateLimited, TransientError
from channels.models import AppMessage, AppMessageStatus, ChannelAccount, ChannelPlatform
from channels.wecom.client import WeComClient
from contacts.models import Staff
from scrm.celery import enqueue, enqueue_on_commit

log = logging.getLogger(__name__)

TASK = "channels.sync.wecom_app_message"
MAX_RECIPIENTS = 1000  # message/send's touser limit
TEXT_MAX_BYTES = 2048
CARD_TITLE_MAX_BYTES = 128
CARD_DESCRIPTION_MAX_BYTES = 512
# WeCom drops a repeated identical message inside this window; a retry after a crash stays inside it.
DUPLICATE_WINDOW = timedelta(seconds=1800)
RESEND_BEFORE = timedelta(minutes=25)
STUCK_AFTER = timedelta(minutes=2)


class AppMessageError(ValueError):
    """A message that cannot be recorded (no recipients, too many); the text says what to do."""


def _cut(text: str, max_bytes: int) -> str:
    """``text`` cut to ``max_bytes`` of UTF-8 (with an ellipsis), never inside a character."""
    if len(text.encode()) <= max_bytes:
        return text
    cut = text.encode()[: max_bytes - len("…".encode())].decode(errors="ignore")
    return cut + "…"


def app_message_send(
    *,
    organization_id: int,
    staff_ids: Iterable[int],
    text: str,
    source_key: str,
    url: str = "",
    title: str = "",
    customer_id: int | None = None,
) -> AppMessage:
    """Record an app message to members and send it after commit; the same ``source_key`` sends nothing.

    ``url`` (absolute) makes it a text card whose button opens the page; ``title`` is the card's title.
    A message that names a customer passes ``customer_id``, so the customer's erasure blanks it.
    """
    staff = sorted(set(staff_ids))
    if not staff:
        raise AppMessageError(_("应用消息至少要有一位接收员工"))
    if len(staff) > MAX_RECIPIENTS:
        raise AppMessageError(_("一条应用消息最多发给 %(max)s 位员工") % {"max": MAX_RECIPIENTS})
    text = text.strip()
    if not text:
        raise AppMessageError(_("应用消息内容不能为空"))
    card = bool(url)
    with transaction.atomic():
        message, created = AppMessage.objects.get_or_create(
            organization_id=organization_id,
            source_key=source_key[:120],
            defaults={
                "staff_ids": staff,
                "text": _cut(text, CARD_DESCRIPTION_MAX_BYTES if card else TEXT_MAX_BYTES),
                "title": _cut(title.strip() or text.splitlines()[0], CARD_TITLE_MAX_BYTES) if card else "",
                "url": url[:2048],
                "customer_id": customer_id,
            },
        )
        if created:
            enqueue_on_commit(TASK, message.pk)
    return message


def _fail(message: AppMessage, error: str) -> AppMessage:
    AppMessage.objects.filter(pk=message.pk).update(status=AppMessageStatus.FAILED, error=error[:300])
    message.refresh_from_db()
    return message


def app_message_deliver(*, message_id: int) -> AppMessage:
    """Send one recorded message (the task). Rate limits and transient errors put it back to pending and
    re-raise, so the task retries; a refusal is recorded with WeCom's code and reason."""
    claimed = AppMessage.objects.filter(pk=message_id, status=AppMessageStatus.PENDING).update(
        status=AppMessageStatus.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    message = AppMessage.objects.get(pk=message_id)
    if not claimed:
        return message
    account = (
        ChannelAccount.objects.filter(
            organization_id=message.organization_id, platform=ChannelPlatform.WECOM, is_active=True
        )
        .order_by("pk")
        .first()
    )
    if account is None:
        return _fail(message, _("未连接企业微信，无法发送应用消息：请在 设置 › 渠道 连接企业微信"))
    if not account.agent_id.strip().isdigit():
        return _fail(message, _("企业微信账号没有填写应用 AgentId：请在 设置 › 渠道 编辑账号，填写自建应用的 AgentId"))
    userids = dict(
        Staff.objects.filter(organization_id=message.organization_id, pk__in=message.staff_ids, is_active=True)
        .exclude(wecom_userid="")
        .values_list("pk", "wecom_userid")
    )
    skipped = [pk for pk in message.staff_ids if pk not in userids]
    AppMessage.objects.filter(pk=message.pk).update(
        account=account, touser=list(userids.values()), skipped_staff_ids=skipped
    )
    if not userids:
        return _fail(message, _("接收员工都没有企业微信账号（或已离职），消息未发送"))
    body: dict[str, Any] = {
        "touser": "|".join(userids.values()),
        "agentid": int(account.agent_id),
        "enable_duplicate_check": 1,
        "duplicate_check_interval": int(DUPLICATE_WINDOW.total_seconds()),
    }
    if message.url:
        body["msgtype"] = "textcard"
        body["textcard"] = {
            "title": message.title,
            "description": message.text,
            "url": message.url,
            "btntxt": _("查看"),
        }
    else:
        body["msgtype"] = "text"
        body["text"] = {"content": message.text}
    try:
        answer = WeComClient.for_account(account, max_wait=10.0).post("message/send", body)
    except (RateLimited, TransientError) as exc:
        AppMessage.objects.filter(pk=message.pk).update(status=AppMessageStatus.PENDING, error=str(exc)[:300])
        raise
    except PlatformError as exc:
        if exc.code == 81013:
            return _fail(
                message, _("接收员工都不在企业微信应用的可见范围内（81013）：请在企业微信管理后台调整应用可见范围")
            )
        return _fail(
            message, _("企业微信拒绝了应用消息（%(code)s）：%(reason)s") % {"code": exc.code, "reason": exc.message}
        )
    invalid = [u for u in str(answer.get("invaliduser") or "").split("|") if u]
    AppMessage.objects.filter(pk=message.pk).update(
        status=AppMessageStatus.PARTIAL if invalid else AppMessageStatus.SENT,
        invalid_users=invalid,
        msgid=str(answer.get("msgid") or "")[:128],
        sent_at=timezone.now(),
        error="",
    )
    message.refresh_from_db()
    return message


def app_messages_sweep(*, now: Any = None) -> int:
    """Beat: re-enqueue messages whose task was lost (pending) or whose worker died mid-call (sending),
    while WeCom's duplicate check still guards a resend; older ones are marked failed. Returns how many
    were re-enqueued."""
    now = now or timezone.now()
    AppMessage.objects.filter(
        status__in=[AppMessageStatus.PENDING, AppMessageStatus.SENDING], created_at__lt=now - RESEND_BEFORE
    ).update(status=AppMessageStatus.FAILED, error=_("发送结果未知（进程中断），为避免重复发送未再重试"))
    stuck = AppMessage.objects.filter(
        Q(status=AppMessageStatus.PENDING, created_at__lt=now - timedelta(minutes=1))
        | Q(status=AppMessageStatus.SENDING, updated_at__lt=now - STUCK_AFTER),
        created_at__gte=now - RESEND_BEFORE,
    )
    ids = list(stuck.values_list("pk", flat=True))
    AppMessage.objects.filter(pk__in=ids, status=AppMessageStatus.SENDING).update(status=AppMessageStatus.PENDING)
    for pk in ids:
        enqueue(TASK, pk)
    return len(ids)


def customer_app_messages_erase(customer_id: int) -> dict[str, int]:
    """Erasure handler: messages about the person keep their outcome but lose their text. One UPDATE."""
    count = AppMessage.objects.filter(customer_id=customer_id).update(
        customer=None, text=_("（客户信息已删除）"), title="", url=""
    )
    return {"app_messages": count}
