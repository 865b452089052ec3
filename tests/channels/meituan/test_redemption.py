"""Meituan redemption end to end over real HTTP: an order, once, whatever the staff taps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from analytics.models import Order
from channels.meituan.services import (
    RedemptionRefused,
    meituan_redemptions_sync,
    redemption_consume,
    redemption_prepare,
)
from channels.models import ChannelPlatform, MeituanRedemption, RedemptionOrigin, RedemptionStatus
from channels.sandbox.douyin import serve
from channels.sandbox.meituan import MeituanFake
from contacts.models import TimelineEvent, TimelineKind
from tests.channels.leads.helpers import make_account
from tests.factories import TagFactory


@pytest.fixture
def meituan(world) -> Iterator[tuple[MeituanFake, object]]:
    fake = MeituanFake()
    token = fake.authorize(shop="shop-a")
    served = serve(fake)
    account = make_account(
        world.org,
        ChannelPlatform.MEITUAN,
        credentials={"developer_id": fake.developer_id, "sign_key": fake.sign_key, "app_auth_token": token},
        api_base=served.base_url,
        external_id="shop-a",
        store=world.store_a,
    )
    yield fake, account
    served.stop()


def test_a_redemption_ends_in_an_order_for_the_redeemer(world, meituan) -> None:
    fake, account = meituan
    tag = TagFactory(group__organization=world.org, name="美团客户")
    account.default_tags.add(tag)
    voucher = fake.add_voucher(shop="shop-a", price="88.00", count=2)
    info = redemption_prepare(account=account, receipt_code=voucher.code)
    assert (info.deal_title, info.available_count, info.mobile_masked) == ("双人下午茶套餐", 2, "185****1212")
    redemption = redemption_consume(
        account=account,
        staff=world.store_staff,
        store=world.store_a,
        request_id="req-1",
        receipt_code=voucher.code,
        count=2,
        phone="13800138123",
    )
    assert redemption.status == RedemptionStatus.CONSUMED
    order = Order.objects.get(pk=redemption.order_id)
    assert order.source == "meituan"
    assert order.amount == Decimal("176.00")
    assert order.staff == world.store_staff
    assert order.store == world.store_a
    assert order.customer.phone == "13800138123"
    assert order.customer.source_channel == "meituan"
    assert TimelineEvent.objects.filter(customer=order.customer, kind=TimelineKind.REDEEMED).count() == 1
    assert order.customer.tag_links.filter(tag=tag).exists()


def test_a_double_submit_consumes_once(world, meituan) -> None:
    fake, account = meituan
    voucher = fake.add_voucher(shop="shop-a")
    kwargs = {
        "account": account,
        "staff": world.store_staff,
        "store": world.store_a,
        "request_id": "req-2",
        "receipt_code": voucher.code,
    }
    first = redemption_consume(**kwargs)
    second = redemption_consume(**kwargs)
    assert first.pk == second.pk
    assert fake.consume_count(voucher.code) == 1
    assert MeituanRedemption.objects.count() == 1
    assert Order.objects.filter(source="meituan").count() == 1


def test_a_retry_after_a_timeout_reuses_the_request(world, meituan) -> None:
    fake, account = meituan
    voucher = fake.add_voucher(shop="shop-a")
    kwargs = {
        "account": account,
        "staff": world.store_staff,
        "store": world.store_a,
        "request_id": "req-3",
        "receipt_code": voucher.code,
    }
    fake.fail_next = 1
    with pytest.raises(RedemptionRefused, match="不会重复核销"):
        redemption_consume(**kwargs)
    row = MeituanRedemption.objects.get(request_id="req-3")
    assert row.status == RedemptionStatus.PENDING  # recorded before the call, kept for the retry
    assert redemption_consume(**kwargs).status == RedemptionStatus.CONSUMED
    assert fake.consume_count(voucher.code) == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("used", "请勿重复核销"),
        ("expired", "已过期"),
        ("wrong_store", "不属于本门店"),
    ],
)
def test_refusals_tell_staff_what_to_do(world, meituan, setup, message) -> None:
    fake, account = meituan
    if setup == "used":
        voucher = fake.add_voucher(shop="shop-a")
        fake.consume_out_of_band(voucher.code)
    elif setup == "expired":
        voucher = fake.add_voucher(shop="shop-a", expires=date(2020, 1, 1))
    else:
        voucher = fake.add_voucher(shop="shop-b")
    with pytest.raises(RedemptionRefused, match=message):
        redemption_prepare(account=account, receipt_code=voucher.code)
    with pytest.raises(RedemptionRefused, match=message):
        redemption_consume(
            account=account,
            staff=world.store_staff,
            store=world.store_a,
            request_id=f"req-{setup}",
            receipt_code=voucher.code,
        )
    assert MeituanRedemption.objects.get(request_id=f"req-{setup}").status == RedemptionStatus.FAILED
    assert not Order.objects.exists()


def test_history_poll_finds_redemptions_made_elsewhere_once(world, meituan) -> None:
    fake, account = meituan
    ours = fake.add_voucher(shop="shop-a")
    redemption_consume(
        account=account, staff=world.store_staff, store=world.store_a, request_id="req-4", receipt_code=ours.code
    )
    elsewhere = fake.add_voucher(shop="shop-a", price="58.00")
    fake.consume_out_of_band(elsewhere.code)
    stats = meituan_redemptions_sync(account_id=account.pk)
    assert stats["recorded"] == 1
    again = meituan_redemptions_sync(account_id=account.pk)
    assert again["recorded"] == 0
    found = MeituanRedemption.objects.get(receipt_code=elsewhere.code)
    assert found.origin == RedemptionOrigin.HISTORY
    assert found.status == RedemptionStatus.CONSUMED
    assert Order.objects.get(pk=found.order_id).amount == Decimal("58.00")
    assert Order.objects.filter(source="meituan").count() == 2
