"""Connecting lead-source accounts from the console: operator only, encrypted credentials, live test."""

from __future__ import annotations

from channels.models import ChannelAccount
from channels.sandbox.douyin import serve
from channels.sandbox.meituan import MeituanFake


def test_operator_connects_a_meituan_shop_and_it_is_tested(world) -> None:
    fake = MeituanFake()
    token = fake.authorize(shop="shop-a")
    served = serve(fake)
    try:
        client = world.client_for(world.operator)
        assert client.get("/channels/leads/accounts/connect/").status_code == 200
        assert "AppSecret" not in client.get("/channels/leads/accounts/connect/?platform=meituan").content.decode()
        response = client.post(
            "/channels/leads/accounts/connect/",
            {
                "platform": "meituan",
                "name": "美团 A店",
                "external_id": "shop-a",
                "api_base": served.base_url,
                "default_store": world.store_a.pk,
                "developer_id": fake.developer_id,
                "sign_key": fake.sign_key,
                "app_auth_token": token,
            },
            follow=True,
        )
        assert response.status_code == 200
        assert "连接成功" in response.content.decode()
        account = ChannelAccount.objects.get(platform="meituan")
        assert account.default_store == world.store_a and account.last_test_ok is True
        assert token not in account.credentials_encrypted
        assert account.credentials()["app_auth_token"] == token
        # Editing with blank secrets keeps them.
        client.post(
            f"/channels/leads/accounts/{account.pk}/",
            {
                "platform": "meituan",
                "name": "美团 A店（改）",
                "external_id": "shop-a",
                "api_base": served.base_url,
                "default_store": world.store_a.pk,
            },
        )
        account.refresh_from_db()
        assert account.name == "美团 A店（改）" and account.credentials()["sign_key"] == fake.sign_key
    finally:
        served.stop()


def test_ocean_engine_ids_are_validated_and_douyin_shows_its_callback(world) -> None:
    client = world.client_for(world.operator)
    bad = client.post(
        "/channels/leads/accounts/connect/",
        {"platform": "ocean_engine", "name": "巨量", "external_id": "abc", "access_token": "t"},
    )
    assert "广告主 ID 应为数字" in bad.content.decode()
    ok = client.post(
        "/channels/leads/accounts/connect/",
        {"platform": "douyin", "name": "抖音号", "external_id": "awkey", "client_secret": "s"},
        follow=True,
    )
    account = ChannelAccount.objects.get(platform="douyin")
    assert f"/hooks/douyin/{account.hook_key}/" in ok.content.decode()


def test_only_operators_connect_and_outsiders_cannot_edit(world) -> None:
    account = ChannelAccount.objects.create(organization=world.org, platform="douyin", name="抖音号")
    assert world.client_for(world.manager).get("/channels/leads/accounts/connect/").status_code == 403
    assert world.client_for(world.no_role).get("/channels/leads/accounts/connect/").status_code == 403
    assert world.client_for(world.outsider).get(f"/channels/leads/accounts/{account.pk}/").status_code == 404
