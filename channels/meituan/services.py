"""Meituan redemption: prepare → consume, idempotent per request; history polling; orders.

The consume path follows docs/architecture.md#invariants, "every outbound call is recorded before it is made":

1. ``MeituanRedemption`` is written (committed) with the request id BEFORE calling Meituan.
2. The consume call carries the same id as Meituan's ``requestId``; a double tap or a retry reuses the
   row and the id, so Meituan answers the first result again and nothing is consumed twice.
3. The success is finished in one transaction: the customer, the order (``analytics.order_record``,
   source ``meituan``, staff = the redeemer), a REDEEMED timeline entry; a conditional UPDATE on
   ``status = pending`` makes a concurrent second finisher a no-op.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from analytics import services as analytics
from channels.meituan.adapter import ConsumedVoucher, VoucherInfo, consumed_from_history, consumed_from_result
from channels.meituan.adapter import voucher_from_prepare as _voucher
from channels.meituan.client import MeituanClient, MeituanError, MeituanTransient
from channels.models import (
    ChannelAccount,
    ChannelPlatform,
    ContactWay,
    ContactWayKind,
    LeadSyncCursor,
    MeituanRedemption,
    RedemptionOrigin,
    RedemptionStatus,
)
from contacts import crypto
from contacts import services as contacts
from contacts.models import Organization, SourceChannel, Staff, Store, TagSource, TimelineKind

logger = logging.getLogger(__name__)
SHANGHAI_DAYS_POLLED = 2  # today and yesterday: a redemption just before midnight is still found


class RedemptionRefused(Exception):
    """A redemption that cannot go on; ``hint`` tells the staff member what to do."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


def meituan_client(account: ChannelAccount) -> MeituanClient:
    creds = account.credentials()
    kwargs: dict[str, Any] = {
        "developer_id": str(creds.get("developer_id") or ""),
        "sign_key": str(creds.get("sign_key") or ""),
        "app_auth_token": str(creds.get("app_auth_token") or ""),
    }
    if account.api_base:
        kwargs["base_url"] = account.api_base
    return MeituanClient(**kwargs)


def meituan_account_for(*, organization: Organization, store: Store | None) -> ChannelAccount | None:
    """The store's Meituan shop authorisation (one Meituan account = one authorised shop)."""
    accounts = ChannelAccount.objects.filter(
        organization=organization, platform=ChannelPlatform.MEITUAN, is_active=True
    ).select_related("default_store")
    if store is not None:
        return accounts.filter(default_store=store).first()
    return accounts.first()


def store_contact_way(*, organization: Organization, store: Store | None) -> ContactWay | None:
    """The store's 渠道活码 to show after a redemption: a Meituan-channel one first, else any of the store."""
    if store is None:
        return None
    ways = ContactWay.objects.filter(
        organization=organization, store=store, kind=ContactWayKind.CONTACT, is_active=True
    )
    # Prefer one whose QR image exists (WeCom generated it), then a Meituan-channel one.
    ordered = sorted(ways, key=lambda w: (not w.qr_code, w.channel != SourceChannel.MEITUAN, -w.pk))
    return ordered[0] if ordered else None


def redemption_prepare(*, account: ChannelAccount, receipt_code: str) -> VoucherInfo:
    code = "".join(ch for ch in receipt_code if ch.isdigit())
    if not 8 <= len(code) <= 20:
        raise RedemptionRefused(gettext("券码应为 8–20 位数字：请核对顾客美团 App 中的券码"))
    try:
        return _voucher(meituan_client(account).prepare(receipt_code=code))
    except MeituanTransient as exc:
        raise RedemptionRefused(gettext("连接美团超时：请稍后点击“查询”重试")) from exc
    except MeituanError as exc:
        raise RedemptionRefused(exc.hint) from exc


def _claim(
    *, account: ChannelAccount, staff: Staff | None, store: Store | None, request_id: str, receipt_code: str, count: int
) -> MeituanRedemption:
    """Write (or find) the redemption row and commit it before any call to Meituan."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                redemption = MeituanRedemption.objects.create(
                    organization=account.organization,
                    account=account,
                    store=store,
                    staff=staff,
                    request_id=request_id,
                    receipt_code=receipt_code,
                    count=count,
                )
        except IntegrityError:
            redemption = MeituanRedemption.objects.select_for_update().get(request_id=request_id)
        if redemption.account_id != account.pk or redemption.receipt_code != receipt_code:
            raise RedemptionRefused(gettext("该核销请求号已用于其他券码：请刷新页面后重新核销"))
        MeituanRedemption.objects.filter(pk=redemption.pk).update(attempts=redemption.attempts + 1)
    return redemption


def redemption_consume(
    *,
    account: ChannelAccount,
    staff: Staff | None,
    store: Store | None,
    request_id: str,
    receipt_code: str,
    count: int = 1,
    phone: str = "",
) -> MeituanRedemption:
    """Consume a voucher once per ``request_id``; returns the (consumed) redemption row.

    Raises :class:`RedemptionRefused` with a message for the staff member. On a timeout the row
    stays pending and the same request may be submitted again safely.
    """
    if phone:
        try:
            phone = crypto.normalize_phone(phone)
        except crypto.InvalidPhone as exc:
            raise RedemptionRefused(str(exc)) from exc
    if not 1 <= count <= 100:
        raise RedemptionRefused(gettext("核销数量应在 1–100 之间"))
    redemption = _claim(
        account=account, staff=staff, store=store, request_id=request_id, receipt_code=receipt_code, count=count
    )
    if redemption.status == RedemptionStatus.CONSUMED:
        return redemption  # a double tap: already done, nothing more to do
    if redemption.status == RedemptionStatus.FAILED:
        raise RedemptionRefused(redemption.error or gettext("该次核销已失败：请刷新页面后重新核销"))
    try:
        rows = meituan_client(account).consume(
            receipt_code=receipt_code,
            count=count,
            request_id=request_id,
            shop_account=(staff.wecom_userid or str(staff.pk)) if staff else "scrm",
            shop_account_name=staff.name if staff else "SCRM",
        )
    except MeituanTransient as exc:
        MeituanRedemption.objects.filter(pk=redemption.pk).update(error="连接美团超时")
        raise RedemptionRefused(gettext("连接美团超时：请再点一次“确认核销”（同一请求不会重复核销）")) from exc
    except MeituanError as exc:
        MeituanRedemption.objects.filter(pk=redemption.pk, status=RedemptionStatus.PENDING).update(
            status=RedemptionStatus.FAILED, error=exc.hint[:300]
        )
        raise RedemptionRefused(exc.hint) from exc
    if not rows:
        raise RedemptionRefused("美团未返回核销结果：请在核销记录中确认后再试")
    return redemption_finish(redemption_id=redemption.pk, consumed=consumed_from_result(rows, count=count), phone=phone)


@transaction.atomic
def redemption_finish(*, redemption_id: int, consumed: ConsumedVoucher, phone: str = "") -> MeituanRedemption:
    """Customer + order + timeline for a consumed voucher (idempotent: only a pending row is finished)."""

    redemption = (
        MeituanRedemption.objects.select_for_update(of=("self",))
        .select_related("account", "store", "staff", "organization")
        .get(pk=redemption_id)
    )
    if redemption.status == RedemptionStatus.CONSUMED:
        return redemption
    account, store = redemption.account, redemption.store or redemption.account.default_store
    consumed_at = consumed.consumed_at or timezone.now()
    # Meituan masks the phone: without the number typed by staff, the buyer is known by the
    # Meituan order only (one customer per voucher order) — docs/platforms.md#meituan-has-no-redemption-webhook.
    customer, _created = contacts.customer_resolve(
        organization=redemption.organization,
        platform="meituan",
        account=account.external_id,
        external_id=f"order:{consumed.order_id or redemption.request_id}",
        phone=phone,
        defaults={
            # Only fills a blank name: a buyer known by the voucher alone is still findable in the list.
            "name": f"美团顾客 {consumed.mobile_masked}".strip(),
            "home_store": store,
            "source_channel": SourceChannel.MEITUAN,
            "first_touch": {"channel": "meituan", "deal_id": consumed.deal_id, "deal_title": consumed.deal_title},
            "first_touch_at": consumed_at,
            "attributes": {"meituan_mobile": consumed.mobile_masked} if consumed.mobile_masked else {},
        },
        source="meituan",
    )
    order, _ = analytics.order_record(
        organization=redemption.organization,
        customer=customer,
        store=store,
        amount=consumed.amount,
        paid_at=consumed_at,
        source="meituan",
        external_ref=f"redemption:{redemption.pk}",
        staff=redemption.staff,
        items=[{"sku": consumed.deal_id, "name": consumed.deal_title, "quantity": consumed.count}],
    )
    for tag in account.default_tags.all():  # auto-tags of the source (e.g. 美团客户)
        contacts.customer_tag_add(customer=customer, tag=tag, source=TagSource.CHANNEL)
    contacts.timeline_add(
        customer=customer,
        kind=TimelineKind.REDEEMED,
        summary=f"美团核销：{consumed.deal_title} ×{consumed.count}",
        data={"redemption_id": redemption.pk, "receipt_code": redemption.receipt_code, "amount": str(consumed.amount)},
        actor=redemption.staff,
        occurred_at=consumed_at,
    )
    MeituanRedemption.objects.filter(pk=redemption.pk).update(
        status=RedemptionStatus.CONSUMED,
        error="",
        deal_id=consumed.deal_id[:32],
        deal_title=consumed.deal_title[:200],
        amount=consumed.amount,
        mobile_masked=consumed.mobile_masked[:20],
        meituan_order_id=consumed.order_id[:64],
        customer=customer,
        order_id=order.pk,
        raw=consumed.raw,
        consumed_at=consumed_at,
        updated_at=timezone.now(),
    )
    redemption.refresh_from_db()
    return redemption


def meituan_redemptions_sync(*, account_id: int, today: date | None = None) -> dict[str, int]:
    """Find redemptions made elsewhere (美团开店宝, another POS) in the redemption history.

    Each history row not already known (a consumed redemption of the same account and code) becomes
    a redemption with a deterministic request id, so two polls never record it twice.
    """
    account = ChannelAccount.objects.select_related("organization", "default_store").get(pk=account_id)
    today = today or timezone.localdate()
    client = meituan_client(account)
    stats = {"seen": 0, "recorded": 0}
    for offset in range(SHANGHAI_DAYS_POLLED):
        day = (today - timedelta(days=offset)).isoformat()
        try:
            rows = client.consumed_on(date=day)
        except MeituanError as exc:
            LeadSyncCursor.objects.update_or_create(
                account=account,
                kind="meituan_history",
                defaults={"organization": account.organization, "last_error": exc.hint[:300]},
            )
            logger.warning("meituan history poll failed", extra={"account": account.pk, "code": exc.code})
            return stats
        for row in rows:
            stats["seen"] += 1
            consumed = consumed_from_history(row)
            if _history_known(account, consumed):
                continue
            request_id = f"hist:{consumed.order_id}:{consumed.receipt_code}"[:64]
            redemption, _created = MeituanRedemption.objects.get_or_create(
                request_id=request_id,
                defaults={
                    "organization": account.organization,
                    "account": account,
                    "store": account.default_store,
                    "origin": RedemptionOrigin.HISTORY,
                    "receipt_code": consumed.receipt_code[:32],
                    "count": consumed.count,
                },
            )
            if redemption.status != RedemptionStatus.CONSUMED:
                redemption_finish(redemption_id=redemption.pk, consumed=consumed)
                stats["recorded"] += 1
    LeadSyncCursor.objects.update_or_create(
        account=account,
        kind="meituan_history",
        defaults={"organization": account.organization, "position": timezone.now(), "last_error": "", "state": stats},
    )
    return stats


def _history_known(account: ChannelAccount, consumed: ConsumedVoucher) -> bool:
    known = MeituanRedemption.objects.filter(
        account=account, receipt_code=consumed.receipt_code, status=RedemptionStatus.CONSUMED
    )
    return known.filter(Q(meituan_order_id=consumed.order_id) | Q(meituan_order_id="")).exists()


def meituan_accounts() -> list[int]:
    active = ChannelAccount.objects.filter(platform=ChannelPlatform.MEITUAN, is_active=True)
    return list(active.values_list("pk", flat=True))


def recent_redemptions(*, actor: Any, limit: int = 10) -> list[MeituanRedemption]:
    return list(actor.scope(MeituanRedemption.objects.select_related("staff", "store")).order_by("-created_at")[:limit])
