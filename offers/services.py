"""Writes to offers: coupon templates, issuing coupons, redemption (核销) and its undoing on refund.

Limits the database holds (docs/architecture.md#invariants):

1. Per-customer limit: one ``INSERT … ON CONFLICT DO UPDATE … WHERE issued < limit`` on
   ``offers_couponholding`` per target; a customer at the limit returns no row and gets no coupon.
   Concurrent issues to one customer serialize on that row.
2. Stock: ``UPDATE offers_coupontemplate SET issued = issued + n WHERE issued + n <= stock`` in the
   same transaction (and the check constraint ``coupontemplate_issued_within_stock`` behind it); no
   row back means the stock is gone and the whole issue rolls back.
3. Redemption: ``UPDATE offers_issuedcoupon SET status = 'redeemed' WHERE status = 'issued'``; of two
   devices redeeming one code the second finds no row to change; ``redemption_active_once`` (one
   un-reverted redemption per coupon) stands behind it.
4. Stacking on one order (``external_ref``): the exclusion constraint ``redemption_stacking_per_order``
   lets two un-reverted redemptions share an order only when both coupons are stackable; of two devices
   putting two coupons on one order at once, the second waits for the first and is then refused.

Locks are always taken in the same order (holding rows by customer id, then the template row), so
concurrent issues never deadlock.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import services as order_services
from analytics.models import Order, OrderSource, OrderStatus
from contacts import services as contact_services
from contacts.access import store_in_scope
from contacts.models import Customer, CustomerGroup, Organization, Segment, Staff, Store, TimelineKind
from contacts.segments import compile_sql
from offers.models import (
    CouponSource,
    CouponStatus,
    CouponTemplate,
    DiscountKind,
    IssuedCoupon,
    Redemption,
    ValidityKind,
)

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
# Codes are typed by staff and read aloud: no 0/O, 1/I/L (offers_new_code() in the migration).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TOKEN_SALT = "offers.coupon"  # noqa: S105 - a signing salt, not a secret


class CouponError(ValueError):
    """A refused coupon write; the message (Chinese) says what to do, ``field`` names the input."""

    def __init__(self, message: str, *, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.field = field


class CouponStockError(CouponError):
    """The template's stock cannot cover the issue (the conditional UPDATE changed no row)."""


# -- templates --------------------------------------------------------------------------------------
TEMPLATE_FIELDS = (
    "name",
    "kind",
    "amount_off",
    "percent_off",
    "threshold",
    "validity",
    "valid_from",
    "valid_to",
    "valid_days",
    "stock",
    "per_customer_limit",
    "stackable",
    "refund_restores",
    "is_active",
)


def template_errors(data: dict[str, Any], *, issued: int = 0) -> dict[str, str]:
    """Field → message for a template's values (the form and the API both use it)."""
    errors: dict[str, str] = {}
    if not str(data.get("name") or "").strip():
        errors["name"] = _("请填写券名称")
    kind = data.get("kind")
    if kind == DiscountKind.AMOUNT:
        if not data.get("amount_off") or Decimal(data["amount_off"]) <= 0:
            errors["amount_off"] = _("立减券请填写大于 0 的立减金额")
        data["percent_off"] = None
    elif kind == DiscountKind.PERCENT:
        percent = data.get("percent_off")
        if percent is None or not 1 <= int(percent) <= 99:
            errors["percent_off"] = _("折扣券请填写 1–99 之间的优惠百分比（如 15 表示 8.5 折）")
        data["amount_off"] = None
    else:
        errors["kind"] = _("请选择优惠方式")
    threshold = data.get("threshold") or Decimal(0)
    if Decimal(threshold) < 0:
        errors["threshold"] = _("使用门槛不能为负数")
    if kind == DiscountKind.AMOUNT and data.get("amount_off") and threshold and data["amount_off"] > threshold:
        errors["amount_off"] = _("立减金额不能大于使用门槛")
    validity = data.get("validity")
    if validity == ValidityKind.FIXED:
        if not data.get("valid_to"):
            errors["valid_to"] = _("固定日期的券请填写失效时间")
        elif data.get("valid_from") and data["valid_from"] >= data["valid_to"]:
            errors["valid_to"] = _("失效时间必须晚于生效时间")
        data["valid_days"] = None
    elif validity == ValidityKind.RELATIVE:
        if not data.get("valid_days") or int(data["valid_days"]) < 1:
            errors["valid_days"] = _("请填写领取后有效的天数（至少 1 天）")
        data["valid_from"] = data["valid_to"] = None
    else:
        errors["validity"] = _("请选择有效期类型")
    stock = data.get("stock")
    if stock is None or int(stock) < 1:
        errors["stock"] = _("总库存至少为 1")
    elif int(stock) < issued:
        errors["stock"] = _("总库存不能少于已发放的 %(n)s 张") % {"n": issued}
    if data.get("per_customer_limit") is not None and int(data["per_customer_limit"]) < 1:
        errors["per_customer_limit"] = _("每人限领至少为 1")
    return errors


@transaction.atomic
def coupon_template_save(
    *,
    organization: Organization,
    data: dict[str, Any],
    stores: list[Store],
    template: CouponTemplate | None = None,
    by: Staff | None = None,
) -> CouponTemplate:
    """Create (``template=None``) or update a template; raises :class:`CouponError` naming the field."""
    values = {key: data[key] for key in TEMPLATE_FIELDS if key in data}
    if template is not None:
        merged = {key: getattr(template, key) for key in TEMPLATE_FIELDS} | values
    else:
        merged = {"threshold": Decimal(0), "per_customer_limit": 1, "is_active": True} | values
    errors = template_errors(merged, issued=template.issued if template else 0)
    if errors:
        field, message = next(iter(errors.items()))
        raise CouponError(message, field=field)
    if any(store.organization_id != organization.pk for store in stores):
        raise CouponError(_("所选门店不存在或无权使用"), field="stores")
    name = str(merged["name"]).strip()
    same_name = CouponTemplate.objects.filter(organization=organization, name=name)
    if template is not None:
        same_name = same_name.exclude(pk=template.pk)
    if same_name.exists():
        raise CouponError(_("已有同名的优惠券，请换一个名称"), field="name")
    if template is None:
        template = CouponTemplate(organization=organization, created_by=by)
    for key in TEMPLATE_FIELDS:
        if key in merged:
            setattr(template, key, merged[key])
    template.name = name
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError as exc:
        # The stock was lowered under a concurrent issue: the check constraint refused it.
        raise CouponError(_("总库存不能少于已发放的张数"), field="stock") from exc
    template.stores.set(stores)
    return template


@transaction.atomic
def coupon_template_delete(*, template: CouponTemplate) -> None:
    """Delete a template nothing was issued from; one with coupons out is disabled instead."""
    locked = CouponTemplate.objects.select_for_update().get(pk=template.pk)
    if locked.issued or IssuedCoupon.objects.filter(template=locked).exists():
        raise CouponError(
            _("已发放过的券不能删除（客户手中的券仍要可用、报表要能统计），请编辑并取消“启用”来停止发放"),
            field="template",
        )
    try:
        with transaction.atomic():
            locked.delete()
    except ProtectedError as exc:
        raise CouponError(_("有欢迎语模板附带这张券，请先在欢迎语模板中去掉它或停用该模板"), field="template") from exc


# -- issuing ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssueResult:
    """What one issue did: ``targets`` customers asked for, ``issued`` coupons written, the rest were
    at their per-customer limit."""

    targets: int
    issued: int
    coupon_ids: list[int]

    @property
    def at_limit(self) -> int:
        return self.targets - self.issued


def validity_window(template: CouponTemplate, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if template.validity == ValidityKind.RELATIVE:
        return now, now + dt.timedelta(days=template.valid_days or 1)
    # coupontemplate_validity_consistent: a fixed template always has valid_to.
    return template.valid_from or now, template.valid_to or now


def new_token() -> str:
    """An unguessable coupon token (the customer's link carries it signed)."""
    return secrets.token_hex(16)


def _issue(
    *,
    template: CouponTemplate,
    targets_sql: str,
    targets_params: list[Any],
    source: str,
    issued_by: Staff | None = None,
    group: CustomerGroup | None = None,
    segment: Segment | None = None,
    campaign_id: int | None = None,
    journey_id: int | None = None,
    token: str | None = None,
    issue_job_id: int | None = None,
) -> IssueResult:
    """Issue one coupon of ``template`` to each customer id ``targets_sql`` selects (column ``id``)."""
    now = timezone.now()
    if not template.is_active:
        raise CouponError(_("该优惠券已停用，请先在券模板中启用"), field="template")
    valid_from, valid_until = validity_window(template, now)
    if valid_until <= now:
        raise CouponError(_("该券已过失效时间，无法再发放；请修改券模板的有效期"), field="template")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM (SELECT DISTINCT id FROM ({targets_sql}) s) t", targets_params)
        targets = int(cursor.fetchone()[0])
        if targets == 0:
            return IssueResult(targets=0, issued=0, coupon_ids=[])
        # 1. Per-customer limit (ordered: locks in customer id order).
        cursor.execute(
            f"""
            INSERT INTO offers_couponholding (template_id, customer_id, issued)
            SELECT %s, t.id, 1 FROM (SELECT DISTINCT id FROM ({targets_sql}) s) t ORDER BY t.id
            ON CONFLICT (template_id, customer_id) DO UPDATE
               SET issued = offers_couponholding.issued + 1
             WHERE offers_couponholding.issued < %s
            RETURNING customer_id, issued
            """,
            [template.pk, *targets_params, template.per_customer_limit],
        )
        held = cursor.fetchall()
        if not held:
            return IssueResult(targets=targets, issued=0, coupon_ids=[])
        n = len(held)
        # 2. Stock.
        cursor.execute(
            "UPDATE offers_coupontemplate SET issued = issued + %s, updated_at = now() "
            "WHERE id = %s AND issued + %s <= stock RETURNING issued",
            [n, template.pk, n],
        )
        if cursor.fetchone() is None:
            left = CouponTemplate.objects.filter(pk=template.pk).values_list("stock", "issued").first() or (0, 0)
            raise CouponStockError(
                _("库存不足：本次要发 %(n)s 张，只剩 %(left)s 张；请增加总库存或缩小发放范围")
                % {"n": n, "left": max(0, left[0] - left[1])},
                field="template",
            )
        # 3. The coupons. A code collision (31^8 codes) fails the statement; try again with new codes.
        for attempt in range(3):
            try:
                with transaction.atomic():
                    cursor.execute(
                        """
                        INSERT INTO offers_issuedcoupon
                               (organization_id, template_id, customer_id, code, token, seq, status, source,
                                issued_by_id, group_id, segment_id, campaign_id, journey_id, issued_at, valid_from,
                                valid_until, issue_job_id)
                        SELECT %s, %s, h.customer_id, offers_new_code(),
                               COALESCE(%s, replace(gen_random_uuid()::text, '-', '')), h.seq, 'issued', %s,
                               %s, %s, %s, %s, %s, %s, %s, %s, %s
                          FROM unnest(%s::bigint[], %s::int[]) AS h(customer_id, seq)
                        RETURNING id, customer_id
                        """,
                        [
                            template.organization_id,
                            template.pk,
                            token,
                            source,
                            issued_by.pk if issued_by else None,
                            group.pk if group else None,
                            segment.pk if segment else None,
                            campaign_id,
                            journey_id,
                            now,
                            valid_from,
                            valid_until,
                            issue_job_id,
                            [row[0] for row in held],
                            [row[1] for row in held],
                        ],
                    )
                    rows = cursor.fetchall()
                break
            except IntegrityError:
                if attempt == 2 or token is not None:
                    raise
    template.issued += n
    contact_services.timeline_add_bulk(
        organization_id=template.organization_id,
        customer_ids=[row[1] for row in rows],
        kind=TimelineKind.COUPON,
        summary=_("获得优惠券：%(name)s（%(benefit)s）") % {"name": template.name, "benefit": template.benefit},
        data={"template_id": template.pk, "source": source},
        actor=issued_by,
        occurred_at=now,
    )
    return IssueResult(targets=targets, issued=n, coupon_ids=[row[0] for row in rows])


@transaction.atomic
def coupon_issue(
    *,
    template: CouponTemplate,
    customer: Customer,
    by: Staff | None = None,
    source: str = CouponSource.STAFF,
    campaign_id: int | None = None,
    journey_id: int | None = None,
    token: str | None = None,
) -> IssuedCoupon:
    """Issue one coupon to one customer (staff from the sidebar, the API, the welcome message, a referral
    reward, a journey step). ``source`` is a ``CouponSource`` value: the report and the profile show its
    label, so a caller names itself rather than passing as staff."""
    if source not in CouponSource.values:
        raise ValueError(f"unknown coupon source {source!r}")
    if customer.organization_id != template.organization_id:
        raise CouponError(_("客户不属于该企业"), field="customer_id")
    if customer.erased_at is not None:
        raise CouponError(_("该客户的资料已删除，不能发券"), field="customer_id")
    result = _issue(
        template=template,
        targets_sql="SELECT %s::bigint AS id",
        targets_params=[customer.pk],
        source=source,
        issued_by=by,
        campaign_id=campaign_id,
        journey_id=journey_id,
        token=token,
    )
    if not result.issued:
        raise CouponError(
            _("该客户已领满此券（每人限领 %(n)s 张）") % {"n": template.per_customer_limit}, field="customer_id"
        )
    return IssuedCoupon.objects.select_related("template").get(pk=result.coupon_ids[0])


@transaction.atomic
def coupon_issue_group(
    *, template: CouponTemplate, group: CustomerGroup, by: Staff | None = None, campaign_id: int | None = None
) -> IssueResult:
    """Group-exclusive (群专享): one coupon to each current customer member of the group, in one pass."""
    if group.organization_id != template.organization_id:
        raise CouponError(_("所选客户群不存在或无权使用"), field="group_id")
    sql = (
        "SELECT m.customer_id AS id FROM contacts_customergroupmember m "
        "JOIN contacts_customer c ON c.id = m.customer_id "
        "WHERE m.group_id = %s AND m.left_at IS NULL AND c.erased_at IS NULL"
    )
    return _issue(
        template=template,
        targets_sql=sql,
        targets_params=[group.pk],
        source=CouponSource.GROUP,
        issued_by=by,
        group=group,
        campaign_id=campaign_id,
    )


@transaction.atomic
def coupon_issue_segment(
    *,
    template: CouponTemplate,
    segment: Segment,
    store_ids: frozenset[int] | None,
    by: Staff | None = None,
    campaign_id: int | None = None,
) -> IssueResult:
    """One coupon to each customer of a saved segment (within the issuer's stores), ``INSERT … SELECT``."""
    if segment.organization_id != template.organization_id:
        raise CouponError(_("所选分群不存在或无权使用"), field="segment_id")
    sql, params = compile_sql(
        organization_id=template.organization_id, expression=segment.expression, store_ids=store_ids
    )
    sql = f"SELECT s.id FROM ({sql}) s JOIN contacts_customer cu ON cu.id = s.id WHERE cu.erased_at IS NULL"
    return _issue(
        template=template,
        targets_sql=sql,
        targets_params=params,
        source=CouponSource.SEGMENT,
        issued_by=by,
        segment=segment,
        campaign_id=campaign_id,
    )


# -- the customer's link ----------------------------------------------------------------------------
def coupon_link_token(token: str) -> str:
    return signing.Signer(salt=TOKEN_SALT).sign(token)


def coupon_token_from_link(value: str) -> str | None:
    try:
        return signing.Signer(salt=TOKEN_SALT).unsign(value)
    except signing.BadSignature:
        return None


def coupon_link(token: str) -> str:
    """The customer-facing page of a coupon (absolute: it goes into WeCom messages)."""
    return settings.PUBLIC_BASE_URL + reverse("offers:customer_coupon", args=[coupon_link_token(token)])


# -- redemption -------------------------------------------------------------------------------------
def normalize_code(code: str) -> str:
    return "".join(ch for ch in str(code).upper() if ch.isalnum())


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError) as exc:
        raise CouponError(_("订单金额不是有效金额，请填写数字，如 199.00"), field=field) from exc
    if amount <= 0:
        raise CouponError(_("订单金额必须大于 0"), field=field)
    return amount


def _active_redemption(coupon_id: int) -> Redemption | None:
    return Redemption.objects.filter(coupon_id=coupon_id, reverted_at__isnull=True).first()


@transaction.atomic
def coupon_redeem(
    *,
    organization: Organization,
    code: str,
    store: Store | None,
    amount: Any,
    external_ref: str = "",
    staff: Staff | None = None,
    store_ids: frozenset[int] | None = None,
    source: str = OrderSource.MANUAL,
    paid_at: dt.datetime | None = None,
) -> tuple[Redemption, bool]:
    """Redeem a coupon on an order; returns (redemption, created). Idempotent per (code, external_ref).

    ``store_ids`` is the redeemer's store scope (``None`` = every store, a POS integration of an
    operator); the store must be inside it and the coupon valid there. The order is recorded (or
    linked, when that ``external_ref`` already exists) through ``analytics.services.order_record``,
    attributed to the staff member, the store, the coupon's campaign, and — through the redemption
    row — the coupon.
    """
    now = timezone.now()
    code = normalize_code(code)
    if not code:
        raise CouponError(_("请填写券码"), field="code")
    if store is None:
        raise CouponError(_("请选择核销门店"), field="store")
    if store.organization_id != organization.pk or not store_in_scope(store_ids, store.pk):
        raise CouponError(_("该门店不在你管理的门店范围内"), field="store")
    amount = _money(amount, "amount")
    external_ref = str(external_ref or "").strip()
    coupon = (
        IssuedCoupon.objects.select_related("template", "customer").filter(organization=organization, code=code).first()
    )
    if coupon is None:
        raise CouponError(_("券码“%(code)s”不存在，请核对后重新输入") % {"code": code}, field="code")
    template = coupon.template
    if not external_ref:
        external_ref = f"coupon-{coupon.code}"
    done = _active_redemption(coupon.pk)
    if done is not None:
        if done.external_ref == external_ref:
            return done, False
        raise CouponError(
            _("该券已于 %(at)s 核销，不能重复使用")
            % {"at": timezone.localtime(done.redeemed_at).strftime("%Y-%m-%d %H:%M")},
            field="code",
        )
    if coupon.status == CouponStatus.VOID:
        raise CouponError(_("该券已作废"), field="code")
    if coupon.valid_from > now:
        raise CouponError(_("该券尚未生效，生效时间：%(at)s") % {"at": _local(coupon.valid_from)}, field="code")
    if coupon.valid_until <= now:
        raise CouponError(_("该券已过期（有效期至 %(at)s）") % {"at": _local(coupon.valid_until)}, field="code")
    valid_store_ids = set(template.stores.values_list("id", flat=True))
    if valid_store_ids and store.pk not in valid_store_ids:
        raise CouponError(_("该券不能在“%(store)s”使用，请在适用门店核销") % {"store": store.name}, field="code")
    if amount < template.threshold:
        raise CouponError(_("订单金额未达到使用门槛 ¥%(t)s") % {"t": f"{template.threshold:,.2f}"}, field="amount")
    others = list(
        Redemption.objects.filter(
            organization=organization, external_ref=external_ref, reverted_at__isnull=True
        ).select_related("coupon__template")
    )
    if others and (not template.stackable or any(not r.coupon.template.stackable for r in others)):
        raise CouponError(_("该订单已使用其他优惠券，此券不可叠加使用"), field="code")
    # The claim: of two devices redeeming this code, the second changes no row.
    claimed = IssuedCoupon.objects.filter(pk=coupon.pk, status=CouponStatus.ISSUED).update(
        status=CouponStatus.REDEEMED, redeemed_at=now
    )
    if not claimed:
        done = _active_redemption(coupon.pk)
        if done is not None and done.external_ref == external_ref:
            return done, False
        raise CouponError(_("该券刚刚已被核销，不能重复使用"), field="code")
    try:
        order, _created = order_services.order_record(
            organization=organization,
            customer=coupon.customer,
            store=store,
            amount=amount,
            paid_at=paid_at or now,
            source=source,
            external_ref=external_ref,
            staff=staff,
            store_ids=store_ids,
        )
    except order_services.OrderScopeError as exc:
        raise CouponError(str(exc), field="external_ref") from exc
    except order_services.OrderError as exc:
        raise CouponError(str(exc), field="amount") from exc
    if order.customer_id != coupon.customer_id:
        raise CouponError(_("该外部单号的订单属于另一位客户，不能用这张券"), field="external_ref")
    if order.status == OrderStatus.REFUNDED:
        raise CouponError(_("该外部单号的订单已全额退款，不能再用券"), field="external_ref")
    if coupon.campaign_id and not order.campaign_id:
        order_services.order_attribute_campaign(order_ids=[order.pk], campaign_id=coupon.campaign_id)
    try:
        with transaction.atomic():
            redemption = Redemption.objects.create(
                organization=organization,
                coupon=coupon,
                order=order,
                store=store,
                staff=staff,
                external_ref=external_ref,
                amount=amount,
                redeemed_at=now,
                stackable=template.stackable,
            )
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") != "redemption_stacking_per_order":
            raise
        # redemption_stacking_per_order: another device put a coupon on this order at the same time
        # (the check above saw nothing yet); the database refused the second of the two.
        raise CouponError(_("该订单已使用其他优惠券，此券不可叠加使用"), field="code") from exc
    contact_services.timeline_add(
        customer=coupon.customer,
        kind=TimelineKind.REDEEMED,
        summary=_("核销优惠券：%(name)s（%(code)s）") % {"name": template.name, "code": coupon.code},
        data={"coupon_id": coupon.pk, "order_id": order.pk, "store_id": store.pk},
        actor=staff,
        occurred_at=now,
    )
    return redemption, True


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def order_refunded(order: Order) -> None:
    """Refund listener (registered with analytics): a fully refunded order gives back the coupons
    redeemed on it whose template says so (set-based; runs inside the refund's transaction)."""
    if order.status != OrderStatus.REFUNDED:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH reverted AS (
                UPDATE offers_redemption r SET reverted_at = now()
                  FROM offers_issuedcoupon c JOIN offers_coupontemplate t ON t.id = c.template_id
                 WHERE r.order_id = %s AND r.reverted_at IS NULL AND c.id = r.coupon_id AND t.refund_restores
             RETURNING r.coupon_id
            )
            UPDATE offers_issuedcoupon c SET status = 'issued', redeemed_at = NULL
              FROM reverted WHERE c.id = reverted.coupon_id AND c.status = 'redeemed'
            RETURNING c.customer_id, c.code
            """,
            [order.pk],
        )
        restored = cursor.fetchall()
    for customer_id, code in restored:
        customer = Customer.objects.get(pk=customer_id)
        contact_services.timeline_add(
            customer=customer,
            kind=TimelineKind.COUPON,
            summary=_("订单退款，优惠券 %(code)s 已返还") % {"code": code},
            data={"order_id": order.pk},
        )


# -- privacy ----------------------------------------------------------------------------------------
def customer_coupons_export(customer_id: int) -> list[dict[str, Any]]:
    """Personal-data export: the customer's coupons and their redemptions."""
    coupons = IssuedCoupon.objects.filter(customer_id=customer_id).select_related("template").order_by("id")
    return [
        {
            "coupon": coupon.template.name,
            "code": coupon.code,
            "status": coupon.status,
            "source": coupon.source,
            "issued_at": coupon.issued_at.isoformat(),
            "valid_until": coupon.valid_until.isoformat(),
            "redeemed_at": coupon.redeemed_at.isoformat() if coupon.redeemed_at else None,
        }
        for coupon in coupons
    ]


def customer_coupons_erase(customer_id: int) -> dict[str, int]:
    """Erasure handler: the customer's unused coupons are voided and every coupon gets a new token, so
    a link in an old message opens nothing; the counts stay for the reports. Two UPDATEs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE offers_issuedcoupon SET status = 'void' WHERE customer_id = %s AND status = 'issued'",
            [customer_id],
        )
        voided = cursor.rowcount
        cursor.execute(
            "UPDATE offers_issuedcoupon SET token = replace(gen_random_uuid()::text, '-', '') WHERE customer_id = %s",
            [customer_id],
        )
        relinked = cursor.rowcount
    return {"coupons_voided": voided, "coupon_links": relinked}
