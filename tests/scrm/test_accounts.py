from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import World


@pytest.mark.django_db
def test_login_page_is_in_chinese_and_signs_in(world: World) -> None:
    client = Client()
    page = client.get("/login/")
    assert page.status_code == 200
    assert "登录" in page.content.decode()
    response = client.post("/login/", {"username": "op", "password": "pass12345"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "客户总数" in home.content.decode()


@pytest.mark.django_db
def test_wrong_password_shows_an_error_and_does_not_sign_in(world: World) -> None:
    client = Client()
    response = client.post("/login/", {"username": "op", "password": "nope"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_logout_ends_the_session(world: World) -> None:
    client = world.client_for(world.operator)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login(world: World) -> None:
    response = Client().get("/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/settings/")


@pytest.mark.django_db
def test_store_staff_and_managers_cannot_open_operator_only_pages(world: World) -> None:
    assert world.client_for(world.operator).get("/settings/").status_code == 200
    for staff in (world.store_staff, world.manager, world.no_role):
        response = world.client_for(staff).get("/settings/")
        assert response.status_code == 403, staff.name
        assert "无权" in response.content.decode() or "权限" in response.content.decode()


@pytest.mark.django_db
def test_navigation_shows_only_what_the_role_may_open(world: World) -> None:
    operator_page = world.client_for(world.operator).get("/").content.decode()
    staff_page = world.client_for(world.store_staff).get("/").content.decode()
    assert 'href="/settings/"' in operator_page
    assert 'href="/settings/"' not in staff_page


@pytest.mark.django_db
def test_language_switch_shows_english(world: World) -> None:
    client = world.client_for(world.operator)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/login/", follow=True).content.decode()
    assert "Total customers" in page or "Overview" in page


@pytest.mark.django_db
def test_chinese_is_the_default_even_for_an_english_browser(world: World) -> None:
    page = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get("/login/").content.decode()
    assert "登录" in page
    assert 'lang="zh-hans"' in page
