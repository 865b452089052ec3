"""The staff redemption page: prepare → confirm → consumed, the double tap, the QR code afterwards."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from analytics.models import Order
from channels.models import ChannelPlatform, ContactWay, MeituanRedemption
from channels.sandbox.douyin import serve
from channels.sandbox.meituan import MeituanFake
from contacts.models import SourceChannel
from tests.channels.leads.helpers import make_account


@pytest.fixture
def shop(world) -> Iterator[MeituanFake]:
    fake = MeituanFake()
    token = fake.authorize(shop="shop-a")
    served = serve(fake)
    make_account(
        world.org,
        ChannelPlatform.MEITUAN,
        credentials={"developer_id": fake.developer_id, "sign_key": fake.sign_key, "app_auth_token": token},
        api_base=served.base_url,
        external_id="shop-a",
        store=world.store_a,
    )
    yield fake
    served.stop()


def _confirm(client, code: str) -> str:
    response = client.post("/channels/meituan/redeem/", {"action": "prepare", "code": code})
    assert response.status_code == 200, response.content.decode()
    body = response.content.decode()
    assert "双人下午茶套餐" in body and "185****1212" in body
    return re.search(r'name="request_id" value="([0-9a-f]+)"', body).group(1)


def test_store_staff_redeems_and_then_sees_the_store_qr(world, shop) -> None:
    wecom = make_account(world.org, ChannelPlatform.WECOM, external_id="wwcorp")
    ContactWay.objects.create(
        organization=world.org,
        account=wecom,
        name="A店 美团活码",
        state="mt_a",
        channel=SourceChannel.MEITUAN,
        store=world.store_a,
        qr_code="https://qr.example/mt_a.png",
    )
    voucher = shop.add_voucher(shop="shop-a")
    client = world.client_for(world.store_staff)
    request_id = _confirm(client, voucher.code)
    data = {"action": "consume", "code": voucher.code, "request_id": request_id, "count": "1"}
    first = client.post("/channels/meituan/redeem/", data)
    second = client.post("/channels/meituan/redeem/", data)  # the double tap
    for response in (first, second):
        body = response.content.decode()
        assert response.status_code == 200
        assert 'data-testid="redeem-done"' in body and "mt_a.png" in body
    assert shop.consume_count(voucher.code) == 1
    order = Order.objects.get(source="meituan")
    assert order.staff == world.store_staff and order.store == world.store_a
    assert MeituanRedemption.objects.get().staff == world.store_staff


def test_without_a_store_qr_the_page_says_what_to_do(world, shop) -> None:
    voucher = shop.add_voucher(shop="shop-a")
    client = world.client_for(world.store_staff)
    request_id = _confirm(client, voucher.code)
    body = client.post(
        "/channels/meituan/redeem/", {"action": "consume", "code": voucher.code, "request_id": request_id}
    ).content.decode()
    assert 'data-testid="redeem-no-qr"' in body and "渠道活码" in body


def test_a_used_voucher_is_refused_with_a_hint(world, shop) -> None:
    voucher = shop.add_voucher(shop="shop-a")
    shop.consume_out_of_band(voucher.code)
    response = world.client_for(world.store_staff).post(
        "/channels/meituan/redeem/", {"action": "prepare", "code": voucher.code}
    )
    assert response.status_code == 400
    assert "请勿重复核销" in response.content.decode()


def test_a_store_without_meituan_and_other_users(world, shop) -> None:
    # Store B has no Meituan account: the manager of B (here: the operator picking B) is told to connect one.
    body = (
        world.client_for(world.operator).get("/channels/meituan/redeem/", {"store": world.store_b.pk}).content.decode()
    )
    assert "尚未连接美团" in body
    assert world.client_for(world.no_role).get("/channels/meituan/redeem/").status_code == 403
    outsider = world.client_for(world.outsider).get("/channels/meituan/redeem/").content.decode()
    assert "尚未连接美团" in outsider  # the outsider's org has no Meituan; ours is never offered
    voucher = shop.add_voucher(shop="shop-a")
    refused = world.client_for(world.outsider).post(
        "/channels/meituan/redeem/", {"action": "prepare", "code": voucher.code}
    )
    assert "双人下午茶套餐" not in refused.content.decode()


def test_a_store_code_without_its_image_yet_says_to_sync(world, shop) -> None:
    wecom = make_account(world.org, ChannelPlatform.WECOM, external_id="wwcorp2")
    ContactWay.objects.create(
        organization=world.org, account=wecom, name="A店 海报", state="poster_a", store=world.store_a, qr_code=""
    )
    voucher = shop.add_voucher(shop="shop-a")
    client = world.client_for(world.store_staff)
    request_id = _confirm(client, voucher.code)
    body = client.post(
        "/channels/meituan/redeem/", {"action": "consume", "code": voucher.code, "request_id": request_id}
    ).content.decode()
    assert "重新同步" in body and "A店 海报" in body
