"""Remarks pushed to WeCom (``externalcontact/remark``): recorded, then called, then applied.

A member's remark, description and remark phones for a customer live on WeCom (per follow). A change
made here is a :class:`~channels.models.RemarkPush` row committed before the call; only when WeCom
accepts it does our follow change, so a refusal (code and message kept for the member) leaves both
sides as they were. Rate limits and transient errors are retried by ``channels.sync.wecom_remark_push``.
A remark phone is the person's phone: once accepted it resolves the customer (OneID), which may merge
two records of one person. The full sync reconciles whatever changed on WeCom itself
(docs/platforms.md#wecom-remarks).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from channels.errors import PlatformError, RateLimited, TransientError
from channels.models import ChannelAccount, ContactWay, RemarkPush, RemarkStatus
from channels.wecom.client import WeComClient
from contacts import crypto
from contacts import services as contacts
from contacts.models import Customer, Follow, Identity, Platform, SourceChannel, Staff
from scrm.celery import enqueue_on_commit

log = logging.getLogger(__name__)

# WeCom's own bounds (docs/platforms.md#wecom-remarks); the sandbox refuses beyond them with 40058.
REMARK_MAX = 20
DESCRIPTION_MAX = 150
MOBILES_MAX = 5


class RemarkError(ValueError):
    """Refused input or a refused push; the message (Chinese) says what to do."""


def _wecom_identity(follow: Follow) -> tuple[ChannelAccount, str] | None:
    for identity in Identity.objects.filter(customer_id=follow.customer_id, platform=Platform.WECOM):
        account = ChannelAccount.objects.filter(
            organization_id=follow.organization_id, platform="wecom", external_id=identity.account, is_active=True
        ).first()
        if account is not None:
            return account, identity.external_id
    return None


def normalize_mobiles(raw: list[str]) -> list[str]:
    """Clear, normalized, de-duplicated mainland numbers; raises :class:`RemarkError` on a bad one."""
    phones: list[str] = []
    for value in raw:
        value = value.strip()
        if not value:
            continue
        try:
            phones.append(crypto.normalize_phone(value))
        except crypto.InvalidPhone as exc:
            raise RemarkError(str(exc)) from exc
    return list(dict.fromkeys(phones))


@transaction.atomic
def remark_push_record(
    *,
    follow: Follow,
    remark: str,
    description: str,
    mobiles: list[str],
    by: Staff | None,
    source: str = "staff",
) -> RemarkPush:
    """Write the push row (committed with the caller's transaction) for :func:`remark_push_run`."""
    target = _wecom_identity(follow)
    if target is None:
        raise RemarkError("这位客户没有企业微信身份（或账号已停用），不能修改企业微信备注")
    if follow.deleted_at is not None:
        raise RemarkError("该员工已不是这位客户的好友，不能修改备注")
    return RemarkPush.objects.create(
        organization_id=follow.organization_id,
        account=target[0],
        follow=follow,
        by=by,
        source=source[:20],
        remark=remark.strip()[:100],
        description=description.strip()[:200],
        mobiles_encrypted=[crypto.encrypt_phone(m) for m in normalize_mobiles(mobiles)],
    )


def remark_push_run(*, push_id: int) -> RemarkPush:
    """Call ``externalcontact/remark`` for one recorded push and apply the outcome.

    Raises ``RateLimited``/``TransientError`` (after recording them) so the task can retry.
    """
    push = RemarkPush.objects.select_related("follow__staff", "follow__customer", "account").get(pk=push_id)
    if push.status in (RemarkStatus.DONE, RemarkStatus.REFUSED):
        return push
    follow = push.follow
    target = _wecom_identity(follow)
    if target is None:
        RemarkPush.objects.filter(pk=push.pk).update(status=RemarkStatus.REFUSED, error="客户已没有企业微信身份")
        push.refresh_from_db()
        return push
    mobiles = [crypto.decrypt_phone(m) for m in push.mobiles_encrypted]
    body: dict[str, Any] = {
        "userid": follow.staff.wecom_userid,
        "external_userid": target[1],
        "remark": push.remark,
        "description": push.description,
        # WeCom clears the remark phones with [""] (an empty list leaves them unchanged).
        "remark_mobiles": mobiles or [""],
    }
    RemarkPush.objects.filter(pk=push.pk).update(attempts=F("attempts") + 1, updated_at=timezone.now())
    try:
        WeComClient.for_account(push.account, max_wait=10.0).post("externalcontact/remark", body)
    except (RateLimited, TransientError) as exc:
        RemarkPush.objects.filter(pk=push.pk).update(status=RemarkStatus.RETRYING, error=str(exc)[:300])
        raise
    except PlatformError as exc:
        RemarkPush.objects.filter(pk=push.pk).update(
            status=RemarkStatus.REFUSED, error=f"企业微信拒绝了修改（{exc.code}）：{exc.message}"[:300]
        )
        push.refresh_from_db()
        return push
    _apply(push, account=push.account, external_userid=target[1], mobiles=mobiles)
    push.refresh_from_db()
    return push


@transaction.atomic
def _apply(push: RemarkPush, *, account: ChannelAccount, external_userid: str, mobiles: list[str]) -> None:
    Follow.objects.filter(pk=push.follow_id).update(
        remark=push.remark, description=push.description, remark_mobiles=push.mobiles_encrypted
    )
    RemarkPush.objects.filter(pk=push.pk).update(status=RemarkStatus.DONE, error="")
    if mobiles:
        # The phone the member typed is the person's: one customer per phone (OneID).
        contacts.customer_resolve(
            organization=account.organization,
            platform=Platform.WECOM,
            account=account.external_id,
            external_id=external_userid,
            phone=mobiles[0],
            source="wecom_remark",
        )


def follow_remark_set(
    *, follow: Follow, remark: str, description: str, mobiles: list[str], by: Staff | None
) -> RemarkPush:
    """What the console and the sidebar call: record, push now, retry later on a transient error."""
    push = remark_push_record(follow=follow, remark=remark, description=description, mobiles=mobiles, by=by)
    try:
        return remark_push_run(push_id=push.pk)
    except (RateLimited, TransientError):
        enqueue_on_commit("channels.sync.wecom_remark_push", push.pk)
        push.refresh_from_db()
        return push


# --- 活码 auto-remark ------------------------------------------------------------------------------
def remark_render(template: str, *, way: ContactWay, customer: Customer, staff: Staff) -> str:
    """Fill ``{channel}``, ``{store}``, ``{staff}``, ``{name}``, ``{code}`` and cut to WeCom's 20 characters."""
    values = {
        "channel": str(SourceChannel(way.channel).label) if way.channel in SourceChannel.values else way.channel,
        "store": way.store.name if way.store_id and way.store else "",
        "staff": staff.name,
        "name": customer.name,
        "code": way.name,
    }
    text = template
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.strip(" -·")[:REMARK_MAX]


def auto_remark_queue(*, way: ContactWay, follow: Follow) -> RemarkPush | None:
    """Inside the add's transaction: record the 活码's remark for this new friend; pushed on commit."""
    if not way.remark_template.strip():
        return None
    text = remark_render(way.remark_template, way=way, customer=follow.customer, staff=follow.staff)
    if not text or text == follow.remark:
        return None
    try:
        push = remark_push_record(
            follow=follow,
            remark=text,
            description=follow.description,
            mobiles=follow.remark_phones,
            by=None,
            source="contact_way",
        )
    except RemarkError as exc:
        log.info("auto-remark skipped for follow %s: %s", follow.pk, exc)
        return None
    enqueue_on_commit("channels.sync.wecom_remark_push", push.pk)
    return push
