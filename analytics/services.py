"""Writes to analytics: orders (the facts), refunds, campaign attribution, staff behaviour data.

Every order change updates the rollups in the same transaction (``analytics.rollups``).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from analytics import rollups
from analytics.models import Order, OrderStatus, StaffBehaviorDaily
from analytics.registry import refund_listeners
from contacts import services as contact_services
from contacts.access import store_in_scope
from contacts.models import Customer, Follow, Organization, Staff, Store

logger = logging.getLogger(__name__)
CENT = Decimal("0.01")


class OrderError(ValueError):
    """A refused order write; the message (Chinese) says what to fix."""


class OrderScopeError(OrderError):
    """The order (or the store it would go to) is outside the writer's stores; nothing was changed."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(CENT)
    except Exception as exc:
        raise OrderError(f"{field}不是有效金额：{value!r}，请填写数字，如 199.00") from exc
    if amount < 0:
        raise OrderError(f"{field}不能为负数：{amount}")
    return amount


def _status(amount: Decimal, refunded: Decimal) -> str:
    if refunded <= 0:
        return OrderStatus.PAID
    return OrderStatus.REFUNDED if refunded >= amount else OrderStatus.PARTIALLY_REFUNDED


def serving_follower(*, customer: Customer) -> Staff | None:
    """The customer's serving follower: the most recently added active follow."""
    follow = (
        Follow.objects.filter(customer=customer, deleted_at__isnull=True, staff__is_active=True)
        .select_related("staff")
        .order_by("-added_at", "-id")
        .first()
    )
    return follow.staff if follow else None


def _is_private(customer: Customer, at: dt.datetime) -> bool:
    """Private domain = the customer was a WeCom friend of some staff member when paying."""
    return (
        Follow.objects.filter(customer=customer, added_at__lte=at)
        .filter(Q(deleted_at__isnull=True) | Q(deleted_at__gt=at))
        .exists()
    )


def _delta(order: Order) -> rollups.Delta:
    """What a new order adds to its day cell."""
    counted = 1 if order.status != OrderStatus.REFUNDED else 0
    return rollups.Delta(
        orders=counted,
        gmv=order.amount,
        refunds=order.refunded_amount,
        private_orders=counted if order.is_private else 0,
        private_gmv=order.amount if order.is_private else Decimal(0),
        private_refunds=order.refunded_amount if order.is_private else Decimal(0),
    )


def _apply(order: Order, delta: rollups.Delta) -> None:
    rollups.daily_add(
        organization_id=order.organization_id,
        day=rollups.local_day(order.paid_at),
        store_id=order.store_id,
        channel=order.channel,
        staff_id=order.staff_id,
        delta=delta,
    )


def _timeline(customer: Customer, kind: str, summary: str, data: dict[str, Any], at: dt.datetime) -> None:
    contact_services.timeline_add(customer=customer, kind=kind, summary=summary, data=data, occurred_at=at)


def _require_in_scope(order: Order, store_ids: frozenset[int] | None) -> None:
    if not store_in_scope(store_ids, order.store_id):
        raise OrderScopeError(
            f"外部单号（external_ref）“{order.external_ref}”已被其他门店的订单使用，不在你管理的门店范围内",
            field="external_ref",
        )


@transaction.atomic
def order_record(
    *,
    organization: Organization,
    customer: Customer,
    store: Store | None,
    amount: Decimal,
    paid_at: dt.datetime,
    source: str,
    external_ref: str,
    staff: Staff | None = None,
    channel: str = "",
    status: str = "paid",
    items: list[Any] | None = None,
    refunded_amount: Decimal = Decimal(0),
    store_ids: frozenset[int] | None = None,
) -> tuple[Order, bool]:
    """Record an order once per (organization, source, external_ref); returns (order, created).

    ``store_ids`` is the writer's store scope (``Actor.store_ids``; ``None`` = every store, as for
    platform adapters). An existing order with this ``external_ref`` outside it raises
    :class:`OrderScopeError` — it is neither returned, changed nor shadowed by a new order — and so
    does a new order whose store would fall outside it.

    A repeat is a no-op, except that a higher ``refunded_amount`` (or ``status="refunded"``) in the
    repeat applies the difference as a refund, so re-importing an export that now shows refunds works.
    Attribution: ``staff`` (collector/redeemer) else the serving follower; channel = the customer's
    first-touch source channel unless given; store = the customer's home store unless given.
    """
    if customer.organization_id != organization.pk:
        raise OrderError("客户不属于该企业")
    if not external_ref:
        raise OrderError("缺少外部单号（external_ref），重复导入靠它去重，请填写")
    if paid_at is None or paid_at.tzinfo is None:
        raise OrderError("支付时间必须带时区")
    amount = _money(amount, "金额")
    refunded = _money(refunded_amount, "退款金额")
    if status == OrderStatus.REFUNDED and refunded == 0:
        refunded = amount
    if refunded > amount:
        raise OrderError(f"退款金额 {refunded} 大于订单金额 {amount}")
    existing = Order.objects.filter(organization=organization, source=source, external_ref=external_ref).first()
    if existing is not None:
        _require_in_scope(existing, store_ids)
        if refunded > existing.refunded_amount:
            order_refund(order=existing, amount=refunded - existing.refunded_amount, at=paid_at)
            existing.refresh_from_db()
        return existing, False
    if not store_in_scope(store_ids, store.pk if store is not None else customer.home_store_id):
        raise OrderScopeError("订单的门店不在你管理的门店范围内", field="store")
    staff = staff or serving_follower(customer=customer)
    order = Order(
        organization=organization,
        customer=customer,
        store=store if store is not None else customer.home_store,
        staff=staff,
        channel=channel or customer.source_channel,
        is_private=_is_private(customer, paid_at),
        amount=amount,
        refunded_amount=refunded,
        status=_status(amount, refunded),
        paid_at=paid_at,
        refunded_at=paid_at if refunded else None,
        source=source,
        external_ref=external_ref,
        items=items or [],
    )
    try:
        with transaction.atomic():
            order.save(force_insert=True)
    except IntegrityError:
        # A concurrent push of the same order won the race: theirs stands.
        other = Order.objects.filter(organization=organization, source=source, external_ref=external_ref).first()
        if other is None:
            raise
        _require_in_scope(other, store_ids)
        return other, False
    _apply(order, _delta(order))
    rollups.customers_refresh(customer_ids=[customer.pk])
    _timeline(
        customer,
        "ordered",
        f"下单 ¥{amount:,.2f}（{order.get_source_display()}）",
        {"order_id": order.pk, "amount": str(amount), "source": source},
        paid_at,
    )
    return order, True


@transaction.atomic
def order_refund(*, order: Order, amount: Decimal, at: dt.datetime) -> Order:
    """Refund part or all of an order; rollups follow in the same transaction."""
    amount = _money(amount, "退款金额")
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if amount <= 0:
        raise OrderError("退款金额必须大于 0")
    if locked.refunded_amount + amount > locked.amount:
        remaining = locked.amount - locked.refunded_amount
        raise OrderError(f"退款金额超出可退金额：最多还可退 ¥{remaining:,.2f}")
    was_counted = locked.status != OrderStatus.REFUNDED
    locked.refunded_amount += amount
    locked.status = _status(locked.amount, locked.refunded_amount)
    locked.refunded_at = at
    locked.save(update_fields=["refunded_amount", "status", "refunded_at", "updated_at"])
    uncounted = was_counted and locked.status == OrderStatus.REFUNDED
    _apply(
        locked,
        rollups.Delta(
            orders=-1 if uncounted else 0,
            refunds=amount,
            private_orders=-1 if (uncounted and locked.is_private) else 0,
            private_refunds=amount if locked.is_private else Decimal(0),
        ),
    )
    rollups.customers_refresh(customer_ids=[locked.customer_id])
    _timeline(
        locked.customer,
        "refunded",
        f"退款 ¥{amount:,.2f}",
        {"order_id": locked.pk, "amount": str(amount)},
        at,
    )
    order.refunded_amount, order.status, order.refunded_at = locked.refunded_amount, locked.status, at
    for listener in refund_listeners():
        listener(locked)
    return locked


@transaction.atomic
def order_attribute_campaign(*, order_ids: list[int], campaign_id: int) -> int:
    """Stamp a campaign on orders (campaigns computes the attribution); returns the rows changed."""
    return Order.objects.filter(pk__in=order_ids).exclude(campaign_id=campaign_id).update(campaign_id=campaign_id)


@transaction.atomic
def staff_behavior_record(
    *,
    organization: Organization,
    staff: Staff,
    day: dt.date,
    chat_cnt: int,
    message_cnt: int,
    reply_percentage: float | None,
    avg_reply_time: float | None,
    new_contact_cnt: int,
    negative_feedback_cnt: int,
) -> None:
    """Upsert one staff member's WeCom behaviour data for a day (a re-sync overwrites)."""
    if staff.organization_id != organization.pk:
        raise ValueError("员工不属于该企业")
    StaffBehaviorDaily.objects.update_or_create(
        staff=staff,
        day=day,
        defaults={
            "organization": organization,
            "chat_cnt": chat_cnt,
            "message_cnt": message_cnt,
            "reply_percentage": reply_percentage,
            "avg_reply_time": avg_reply_time,
            "new_contact_cnt": new_contact_cnt,
            "negative_feedback_cnt": negative_feedback_cnt,
        },
    )


def analytics_rebuild(*, organization_id: int) -> dict[str, int]:
    """Rebuild every rollup of one organization (the ``analytics_rebuild`` command)."""
    return rollups.organization_rebuild(organization_id=organization_id)


# Item keys kept after an erasure: what the item cost and how many, for reports; every text (the
# item's name, a gift note, a delivery address) may name the person and goes.
ERASURE_KEPT_ITEM_KEYS = ("qty", "price", "amount")


def customer_orders_erase(customer_id: int) -> dict[str, int]:
    """Erasure handler (registered with contacts): the person's orders stay, amounts and all, for
    reports and LTV, but their item lists keep only the numbers; the organization's order-import
    jobs lose the person's name, phone and ids from their file names and rejected-row reasons.
    Two set-based UPDATEs."""
    kept = ", ".join(f"'{key}', e -> '{key}'" for key in ERASURE_KEPT_ITEM_KEYS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE analytics_order o SET items = COALESCE(
                (SELECT jsonb_agg(CASE WHEN jsonb_typeof(e) = 'object'
                                       THEN jsonb_strip_nulls(jsonb_build_object({kept}))
                                       ELSE '{{}}'::jsonb END)
                   FROM jsonb_array_elements(o.items) e),
                '[]'::jsonb), updated_at = now()
            WHERE o.customer_id = %s AND jsonb_typeof(o.items) = 'array' AND o.items <> '[]'::jsonb
            """,
            [customer_id],
        )
        orders = cursor.rowcount
        cursor.execute(
            "UPDATE analytics_order SET items = '[]'::jsonb, updated_at = now() "
            "WHERE customer_id = %s AND jsonb_typeof(items) <> 'array'",
            [customer_id],
        )
        orders += cursor.rowcount
    identifiers = contact_services.customer_identifiers(customer_id)
    imports = 0
    if identifiers is not None:
        imports = contact_services.scrub_columns(
            table="analytics_orderimport",
            columns=["file_name", "errors"],
            where="organization_id = %s",
            where_params=[identifiers.organization_id],
            needles=identifiers.needles(),
        )
    return {"order_items": orders, "order_imports": imports}
