"""Coupons: templates, issuing (1-to-1, group, segment), redemption, refunds and privacy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from analytics import services as order_services
from analytics.models import Order
from contacts.models import CustomerGroupMember, Segment, TimelineEvent
from contacts.services import registry
from offers import selectors, services
from offers.models import CouponHolding, CouponStatus, CouponTemplate, IssuedCoupon, Redemption
from tests.factories import CustomerFactory, CustomerGroupFactory
from tests.offers.helpers import template

pytestmark = pytest.mark.django_db


def customer(world: Any, store: Any = None) -> Any:
    return CustomerFactory(organization=world.org, home_store=store or world.store_a)


# -- templates ---------------------------------------------------------------------------------------
def test_a_template_refuses_inconsistent_values_naming_the_field(world):
    with pytest.raises(services.CouponError) as exc:
        template(world.org, kind="percent", amount_off=None, percent_off=None)
    assert exc.value.field == "percent_off"
    with pytest.raises(services.CouponError) as exc:
        template(world.org, validity="fixed", valid_days=None)
    assert exc.value.field == "valid_to"
    with pytest.raises(services.CouponError) as exc:
        template(world.org, amount_off=Decimal("50"), threshold=Decimal("30"))
    assert exc.value.field == "amount_off"
    assert not CouponTemplate.objects.exists()


def test_the_face_of_a_coupon_reads_as_the_customer_expects(world):
    assert template(world.org, name="a").benefit == "立减 ¥5"
    assert template(world.org, name="b", threshold=Decimal("100")).benefit == "满 ¥100 减 ¥5"
    assert template(world.org, name="c", kind="percent", amount_off=None, percent_off=15).benefit == "8.5 折"


def test_stock_cannot_drop_below_what_was_issued(world):
    t = template(world.org, stock=3, per_customer_limit=5)
    c = customer(world)
    services.coupon_issue(template=t, customer=c)
    services.coupon_issue(template=t, customer=c)
    with pytest.raises(services.CouponError) as exc:
        services.coupon_template_save(organization=world.org, data={"stock": 1}, stores=[], template=t)
    assert exc.value.field == "stock"
    assert CouponTemplate.objects.get(pk=t.pk).stock == 3


# -- issuing -----------------------------------------------------------------------------------------
def test_issuing_gives_a_short_unambiguous_code_a_window_and_a_timeline_entry(world):
    t = template(world.org, valid_days=7)
    c = customer(world)
    coupon = services.coupon_issue(template=t, customer=c, by=world.store_staff)
    assert len(coupon.code) == 8 and not set(coupon.code) & set("01OIL")
    assert coupon.status == CouponStatus.ISSUED
    assert dt.timedelta(days=6, hours=23) < coupon.valid_until - coupon.valid_from <= dt.timedelta(days=7)
    assert CouponTemplate.objects.get(pk=t.pk).issued == 1
    event = TimelineEvent.objects.get(customer=c, kind="coupon")
    assert "新人立减5元" in event.summary and event.actor == world.store_staff


def test_issuing_records_the_callers_source_and_refuses_an_unknown_one(world):
    t = template(world.org, per_customer_limit=3)
    c = customer(world)
    coupon = services.coupon_issue(template=t, customer=c, source="journey", journey_id=42)
    coupon.refresh_from_db()
    assert (coupon.source, coupon.get_source_display(), coupon.journey_id) == ("journey", "客户旅程", 42)
    with pytest.raises(ValueError, match="unknown coupon source"):
        services.coupon_issue(template=t, customer=c, source="friends")
    assert IssuedCoupon.objects.filter(customer=c).count() == 1


def test_the_per_customer_limit_holds(world):
    t = template(world.org, per_customer_limit=2)
    c = customer(world)
    services.coupon_issue(template=t, customer=c)
    services.coupon_issue(template=t, customer=c)
    with pytest.raises(services.CouponError) as exc:
        services.coupon_issue(template=t, customer=c)
    assert exc.value.field == "customer_id"
    assert IssuedCoupon.objects.filter(customer=c).count() == 2
    assert CouponHolding.objects.get(template=t, customer=c).issued == 2
    assert CouponTemplate.objects.get(pk=t.pk).issued == 2


def test_no_coupon_is_issued_past_the_stock(world):
    t = template(world.org, stock=1)
    services.coupon_issue(template=t, customer=customer(world))
    late = customer(world)
    with pytest.raises(services.CouponError) as exc:
        services.coupon_issue(template=t, customer=late)
    assert "库存不足" in str(exc.value)
    assert not IssuedCoupon.objects.filter(customer=late).exists()
    # The refused issue left the late customer's limit untouched (it rolled back).
    assert not CouponHolding.objects.filter(customer=late).exists()


def test_a_group_issue_reaches_current_members_once_and_skips_those_at_their_limit(world):
    t = template(world.org)
    group = CustomerGroupFactory(organization=world.org, store=world.store_a)
    members = [customer(world) for _ in range(4)]
    for m in members:
        CustomerGroupMember.objects.create(organization=world.org, group=group, customer=m, member_id=f"wm{m.pk}")
    left = customer(world)
    CustomerGroupMember.objects.create(
        organization=world.org, group=group, customer=left, member_id="wmleft", left_at=timezone.now()
    )
    services.coupon_issue(template=t, customer=members[0])
    result = services.coupon_issue_group(template=t, group=group)
    assert (result.targets, result.issued, result.at_limit) == (4, 3, 1)
    assert IssuedCoupon.objects.filter(template=t).count() == 4
    assert not IssuedCoupon.objects.filter(customer=left).exists()
    assert set(IssuedCoupon.objects.filter(group=group).values_list("source", flat=True)) == {"group"}
    assert TimelineEvent.objects.filter(kind="coupon").count() == 4


def test_a_segment_issue_is_all_or_nothing_when_stock_is_short(world):
    for _ in range(3):
        customer(world)
    segment = Segment.objects.create(organization=world.org, name="全部", expression={})
    t = template(world.org, stock=2)
    with pytest.raises(services.CouponError):
        services.coupon_issue_segment(template=t, segment=segment, store_ids=None)
    assert not IssuedCoupon.objects.exists() and not CouponHolding.objects.exists()
    t.refresh_from_db()
    services.coupon_template_save(organization=world.org, data={"stock": 10}, stores=[], template=t)
    result = services.coupon_issue_segment(template=t, segment=segment, store_ids=None)
    assert result.issued == 3
    assert CouponTemplate.objects.get(pk=t.pk).issued == 3


def test_a_managers_segment_issue_stays_in_their_stores(world):
    customer(world, world.store_a)
    customer(world, world.store_b)
    segment = Segment.objects.create(organization=world.org, name="全部", expression={})
    t = template(world.org)
    result = services.coupon_issue_segment(template=t, segment=segment, store_ids=frozenset({world.store_a.pk}))
    assert result.issued == 1
    assert IssuedCoupon.objects.get().customer.home_store == world.store_a


# -- redemption -------------------------------------------------------------------------------------
def redeem(world: Any, code: str, **kw: Any) -> tuple[Redemption, bool]:
    args: dict[str, Any] = {
        "organization": world.org,
        "code": code,
        "store": world.store_a,
        "amount": Decimal("88.00"),
        "external_ref": "POS-1",
        "staff": world.store_staff,
        "store_ids": frozenset({world.store_a.pk}),
    }
    args.update(kw)
    return services.coupon_redeem(**args)


def test_redeeming_records_an_attributed_order_once_and_refuses_a_second_use(world):
    c = customer(world)
    coupon = services.coupon_issue(template=template(world.org), customer=c, campaign_id=4242)
    redemption, created = redeem(world, coupon.code.lower())
    assert created
    order = Order.objects.get()
    assert (order.customer, order.store, order.staff, order.campaign_id) == (c, world.store_a, world.store_staff, 4242)
    assert order.amount == Decimal("88.00") and redemption.order == order
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.REDEEMED and coupon.redeemed_at is not None
    # The same POS retry: the same redemption, nothing new.
    again, created = redeem(world, coupon.code)
    assert (again.pk, created) == (redemption.pk, False)
    # Another order: refused, naming the code.
    with pytest.raises(services.CouponError) as exc:
        redeem(world, coupon.code, external_ref="POS-2")
    assert exc.value.field == "code" and "已于" in str(exc.value)
    assert Order.objects.count() == 1 and Redemption.objects.count() == 1
    assert TimelineEvent.objects.filter(customer=c, kind="redeemed").count() == 1


def test_redeeming_links_an_order_the_pos_already_pushed(world):
    c = customer(world)
    order, _ = order_services.order_record(
        organization=world.org, customer=c, store=world.store_a, amount=Decimal("120"), paid_at=timezone.now(),
        source="pos_import", external_ref="POS-9",
    )  # fmt: skip
    coupon = services.coupon_issue(template=template(world.org), customer=c)
    redemption, _created = redeem(world, coupon.code, external_ref="POS-9", source="pos_import", amount="120")
    assert redemption.order_id == order.pk and Order.objects.count() == 1


def test_a_store_staff_member_redeems_only_where_the_coupon_is_valid(world):
    c = customer(world)
    coupon = services.coupon_issue(template=template(world.org, stores=[world.store_b]), customer=c)
    with pytest.raises(services.CouponError) as exc:
        redeem(world, coupon.code)
    assert exc.value.field == "code" and "B店" not in str(exc.value)
    with pytest.raises(services.CouponError) as exc:
        redeem(world, coupon.code, store=world.store_b)
    assert exc.value.field == "store"
    assert not Redemption.objects.exists() and not Order.objects.exists()
    assert IssuedCoupon.objects.get().status == CouponStatus.ISSUED


def test_threshold_expiry_and_unknown_codes_are_refused_with_the_field(world):
    c = customer(world)
    coupon = services.coupon_issue(template=template(world.org, threshold=Decimal("100")), customer=c)
    with pytest.raises(services.CouponError) as exc:
        redeem(world, coupon.code, amount="99.99")
    assert exc.value.field == "amount"
    with pytest.raises(services.CouponError) as exc:
        redeem(world, "ZZZZZZZZ")
    assert exc.value.field == "code"
    IssuedCoupon.objects.filter(pk=coupon.pk).update(
        valid_from=timezone.now() - dt.timedelta(days=9), valid_until=timezone.now() - dt.timedelta(days=1)
    )
    with pytest.raises(services.CouponError) as exc:
        redeem(world, coupon.code, amount="150")
    assert exc.value.field == "code" and "过期" in str(exc.value)
    assert not Order.objects.exists()


def test_a_non_stackable_coupon_is_not_used_on_an_order_that_already_has_one(world):
    c = customer(world)
    a = services.coupon_issue(template=template(world.org, name="A", stackable=True), customer=c)
    b = services.coupon_issue(template=template(world.org, name="B"), customer=c)
    redeem(world, a.code)
    with pytest.raises(services.CouponError) as exc:
        redeem(world, b.code)
    assert exc.value.field == "code" and "叠加" in str(exc.value)


def test_a_full_refund_gives_the_coupon_back_when_the_template_says_so(world):
    c = customer(world)
    keeps = services.coupon_issue(template=template(world.org, name="退款返还", stackable=True), customer=c)
    gone = services.coupon_issue(
        template=template(world.org, name="退款不返还", stackable=True, refund_restores=False), customer=c
    )
    redeem(world, keeps.code)
    redemption, _ = redeem(world, gone.code)
    order = redemption.order
    order_services.order_refund(order=order, amount=Decimal("40"), at=timezone.now())
    assert IssuedCoupon.objects.get(pk=keeps.pk).status == CouponStatus.REDEEMED  # partial: nothing back
    order_services.order_refund(order=order, amount=Decimal("48"), at=timezone.now())
    assert IssuedCoupon.objects.get(pk=keeps.pk).status == CouponStatus.ISSUED
    assert IssuedCoupon.objects.get(pk=gone.pk).status == CouponStatus.REDEEMED
    assert Redemption.objects.get(coupon=keeps).reverted_at is not None
    assert TimelineEvent.objects.filter(customer=c, kind="coupon", summary__contains="已返还").count() == 1
    # Given back, it can be used again on a new order.
    again, created = redeem(world, keeps.code, external_ref="POS-3")
    assert created and again.order != order


# -- reads ------------------------------------------------------------------------------------------
def test_the_report_counts_issued_redeemed_gmv_and_ltv_of_redeemers_vs_not(world):
    t = template(world.org)
    buyer, idle = customer(world), customer(world)
    coupon = services.coupon_issue(template=t, customer=buyer)
    services.coupon_issue(template=t, customer=idle)
    redeem(world, coupon.code, amount="200")
    actor = _actor(world.operator)
    [f] = selectors.template_figures(actor, [t])
    assert (f.issued, f.redeemed, f.gmv, f.redeemers, f.non_redeemers) == (2, 1, Decimal("200.00"), 1, 1)
    assert f.redemption_rate == 0.5
    assert f.ltv_redeemers == Decimal("200.00") and f.ltv_non_redeemers == Decimal("0.00")
    # A manager of store B sees none of store A's customers.
    world.manager.store = world.store_b
    world.manager.save()
    [f] = selectors.template_figures(_actor(world.manager), [t])
    assert (f.issued, f.redeemed) == (0, 0)


def test_the_redeemed_selector_is_an_exists_fragment_for_segments(world):
    t = template(world.org)
    buyer, idle = customer(world), customer(world)
    redeem(world, services.coupon_issue(template=t, customer=buyer).code)
    services.coupon_issue(template=t, customer=idle)
    sql, params = selectors.redeemed_exists_sql(alias="c", template_ids=[t.pk])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id FROM contacts_segmentfact c WHERE c.organization_id = %s AND {sql}",
            [world.org.pk, *params],
        )
        assert [row[0] for row in cursor.fetchall()] == [buyer.pk]
    assert list(selectors.redeemer_ids(organization_id=world.org.pk).values_list("pk", flat=True)) == [buyer.pk]


def test_export_lists_the_coupons_and_erasure_voids_them_and_kills_the_link(world):
    c = customer(world)
    coupon = services.coupon_issue(template=template(world.org), customer=c)
    [row] = dict(registry.personal_data_providers())["coupons"](c.pk)
    assert row["code"] == coupon.code and row["status"] == "issued"
    assert services.customer_coupons_erase in registry.erasure_handlers()
    counts = services.customer_coupons_erase(c.pk)
    assert counts == {"coupons_voided": 1, "coupon_links": 1}
    assert selectors.coupon_by_token(coupon.token) is None
    assert IssuedCoupon.objects.get().status == CouponStatus.VOID


def _actor(staff: Any) -> Any:
    from contacts.access import actor_for_user

    return actor_for_user(staff.user)
