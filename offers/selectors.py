"""Reads of offers, scoped to the actor (contacts/access.py).

Templates have no store dimension (the whole brand sees them); issued coupons are scoped by the
customer's home store; redemptions by the store they happened at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from contacts.access import Actor
from contacts.models import Customer
from offers.models import CouponStatus, CouponTemplate, IssuedCoupon, Redemption

# The customer-id column the segment compiler passes (``c.id``, ``contacts_customer.id``).
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.id")


def templates_for(actor: Actor) -> QuerySet[CouponTemplate]:
    return actor.scope(CouponTemplate.objects.all()).prefetch_related("stores")


def template_for(actor: Actor, pk: int) -> CouponTemplate | None:
    return templates_for(actor).filter(pk=pk).first()


def coupons_for(actor: Actor) -> QuerySet[IssuedCoupon]:
    return actor.scope(IssuedCoupon.objects.select_related("template", "customer"))


def customer_coupons(actor: Actor, customer: Customer) -> QuerySet[IssuedCoupon]:
    return coupons_for(actor).filter(customer=customer).order_by("-issued_at", "-id")


def coupon_by_token(token: str) -> IssuedCoupon | None:
    """The customer's page: the token is the credential (no login), so no actor."""
    return (
        IssuedCoupon.objects.select_related("template", "organization")
        .prefetch_related("template__stores")
        .filter(token=token)
        .first()
    )


def redemptions_for(actor: Actor) -> QuerySet[Redemption]:
    return actor.scope(
        Redemption.objects.select_related("coupon__template", "coupon__customer", "order", "store", "staff")
    )


# -- the segment condition ("redeemed a coupon") ----------------------------------------------------
def redeemed_exists_sql(
    *,
    alias: str = "c",
    template_ids: list[int] | None = None,
    since: Any = None,
    until: Any = None,
    store_ids: list[int] | None = None,
    customer: str | None = None,
) -> tuple[str, list[Any]]:
    """An SQL ``EXISTS`` fragment (with params) true for the customer row ``{alias}`` (its ``id``) who
    redeemed a coupon (of ``template_ids`` when given, at one of ``store_ids`` when given, on or after
    ``since`` and before ``until`` when given) and did not get it back by a refund. For the segment
    registry: ``WHERE … AND <fragment>``; works on ``contacts_segmentfact`` as on ``contacts_customer``
    (both keyed by the customer id). ``customer`` is the customer-id SQL expression the segment
    compiler passes (``c.id``), used instead of ``{alias}.id``."""
    if customer is None:
        if not alias.isidentifier():
            raise ValueError("alias must be an SQL identifier")
        customer = alias + ".id"
    elif not _COLUMN.fullmatch(customer):
        raise ValueError("customer must be a qualified SQL column")
    conds = ["ic.customer_id = " + customer, "r.reverted_at IS NULL"]
    params: list[Any] = []
    if template_ids:
        conds.append("ic.template_id = ANY(%s)")
        params.append([int(t) for t in template_ids])
    if store_ids:
        conds.append("r.store_id = ANY(%s)")
        params.append([int(s) for s in store_ids])
    if since is not None:
        conds.append("r.redeemed_at >= %s")
        params.append(since)
    if until is not None:
        conds.append("r.redeemed_at < %s")
        params.append(until)
    sql = (
        "EXISTS (SELECT 1 FROM offers_redemption r JOIN offers_issuedcoupon ic ON ic.id = r.coupon_id WHERE "
        + " AND ".join(conds)
        + ")"
    )
    return sql, params


def valid_coupon_exists_sql(
    *,
    customer: str,
    now: Any,
    template_ids: list[int] | None = None,
    expires_before: Any = None,
) -> tuple[str, list[Any]]:
    """An ``EXISTS`` fragment true for a customer holding an unused coupon valid at ``now`` (of
    ``template_ids`` when given; expiring before ``expires_before`` when given). Served by the
    ``issuedcoupon_customer`` index."""
    if not _COLUMN.fullmatch(customer):
        raise ValueError("customer must be a qualified SQL column")
    conds = [f"ic.customer_id = {customer}", "ic.status = %s", "ic.valid_from <= %s", "ic.valid_until > %s"]
    params: list[Any] = [CouponStatus.ISSUED, now, now]
    if template_ids:
        conds.append("ic.template_id = ANY(%s)")
        params.append([int(t) for t in template_ids])
    if expires_before is not None:
        conds.append("ic.valid_until < %s")
        params.append(expires_before)
    return "EXISTS (SELECT 1 FROM offers_issuedcoupon ic WHERE " + " AND ".join(conds) + ")", params


def redeemer_ids(*, organization_id: int, template_ids: list[int] | None = None) -> QuerySet[Customer]:
    """The same condition as a queryset of customer ids."""
    qs = Redemption.objects.filter(organization_id=organization_id, reverted_at__isnull=True)
    if template_ids:
        qs = qs.filter(coupon__template_id__in=template_ids)
    return Customer.objects.filter(pk__in=qs.values("coupon__customer_id")).values("pk")  # type: ignore[return-value]


# -- reports ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemplateFigures:
    template_id: int
    name: str
    benefit: str
    stock: int
    issued: int
    redeemed: int
    gmv: Decimal
    redeemers: int
    non_redeemers: int
    ltv_redeemers: Decimal | None
    ltv_non_redeemers: Decimal | None

    @property
    def redemption_rate(self) -> float | None:
        return self.redeemed / self.issued if self.issued else None


REPORT_SQL = """
WITH ic AS (
    SELECT ic.id, ic.template_id, ic.customer_id
      FROM offers_issuedcoupon ic JOIN contacts_customer cu ON cu.id = ic.customer_id
     WHERE ic.organization_id = %(org)s AND ic.template_id = ANY(%(templates)s)
       AND (%(all_stores)s OR cu.home_store_id = ANY(%(stores)s))
), r AS (
    SELECT rd.coupon_id, rd.order_id FROM offers_redemption rd
     WHERE rd.organization_id = %(org)s AND rd.reverted_at IS NULL
), per AS (
    SELECT ic.template_id, count(*) AS issued, count(r.coupon_id) AS redeemed
      FROM ic LEFT JOIN r ON r.coupon_id = ic.id GROUP BY ic.template_id
), gmv AS (
    SELECT x.template_id, sum(o.amount - o.refunded_amount) AS gmv
      FROM (SELECT DISTINCT ic.template_id, r.order_id FROM ic JOIN r ON r.coupon_id = ic.id) x
      JOIN analytics_order o ON o.id = x.order_id GROUP BY x.template_id
), holders AS (
    SELECT ic.template_id, ic.customer_id, bool_or(r.coupon_id IS NOT NULL) AS redeemed
      FROM ic LEFT JOIN r ON r.coupon_id = ic.id GROUP BY ic.template_id, ic.customer_id
), ltv AS (
    SELECT h.template_id,
           count(*) FILTER (WHERE h.redeemed) AS redeemers,
           count(*) FILTER (WHERE NOT h.redeemed) AS non_redeemers,
           avg(cu.ltv) FILTER (WHERE h.redeemed) AS ltv_r,
           avg(cu.ltv) FILTER (WHERE NOT h.redeemed) AS ltv_n
      FROM holders h JOIN contacts_customer cu ON cu.id = h.customer_id GROUP BY h.template_id
)
SELECT t.id, COALESCE(per.issued, 0), COALESCE(per.redeemed, 0), COALESCE(gmv.gmv, 0),
       COALESCE(ltv.redeemers, 0), COALESCE(ltv.non_redeemers, 0), ltv.ltv_r, ltv.ltv_n
  FROM unnest(%(templates)s::bigint[]) AS t(id)
  LEFT JOIN per ON per.template_id = t.id LEFT JOIN gmv ON gmv.template_id = t.id
  LEFT JOIN ltv ON ltv.template_id = t.id
"""


def template_figures(actor: Actor, templates: list[CouponTemplate]) -> list[TemplateFigures]:
    """Issued, redeemed, rate, GMV of the redeemed orders (net of refunds) and the average LTV of
    redeemers vs customers who got the coupon but did not redeem it — one statement for a page of
    templates, counting the customers in the actor's stores."""
    if not templates:
        return []
    params: dict[str, Any] = {
        "org": actor.organization_id,
        "templates": [t.pk for t in templates],
        "all_stores": actor.store_ids is None,
        "stores": list(actor.store_ids or []),
    }
    with connection.cursor() as cursor:
        cursor.execute(REPORT_SQL, params)
        rows = {row[0]: row for row in cursor.fetchall()}
    out = []
    for t in templates:
        row = rows[t.pk]
        out.append(
            TemplateFigures(
                template_id=t.pk,
                name=t.name,
                benefit=t.benefit,
                stock=t.stock,
                issued=int(row[1]),
                redeemed=int(row[2]),
                gmv=Decimal(row[3]),
                redeemers=int(row[4]),
                non_redeemers=int(row[5]),
                ltv_redeemers=Decimal(row[6]).quantize(Decimal("0.01")) if row[6] is not None else None,
                ltv_non_redeemers=Decimal(row[7]).quantize(Decimal("0.01")) if row[7] is not None else None,
            )
        )
    return out
