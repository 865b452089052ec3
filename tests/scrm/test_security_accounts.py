"""Accounts hardening (issue 14): login lockout, safe redirects, no-store caching, API tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.conftest import World
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


# -- 1. login throttling and lockout ---------------------------------------------------------------


def test_fifty_wrong_passwords_lock_the_account_even_for_the_right_password(world: World) -> None:
    client = Client()
    for _ in range(50):
        client.post("/login/", {"username": "op", "password": "wrong-guess"})
    response = client.post("/login/", {"username": "op", "password": "pass12345"})
    assert response.status_code == 429
    assert client.get("/").status_code == 302  # not signed in
    page = response.content.decode()
    assert "锁定" in page and "之后再试" in page and "管理员" in page
    # It says when the lockout ends: the cool-off after the last attempt, in Beijing time.
    ends = re.search(r"请在 (\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d)（北京时间）之后再试", page)
    assert ends is not None
    expected = timezone.localtime(timezone.now() + timedelta(minutes=15)).strftime("%H:%M")
    assert ends.group(1).endswith(expected) or ends.group(1).endswith(
        timezone.localtime(timezone.now() + timedelta(minutes=14)).strftime("%H:%M")
    )
    # The lockout lives in the database, so another browser (or another web process) is locked too.
    other = Client()
    assert other.post("/login/", {"username": "op", "password": "pass12345"}).status_code == 429
    assert other.get("/").status_code == 302


def test_a_few_wrong_passwords_do_not_lock_and_success_resets_the_count(world: World) -> None:
    client = Client()
    for _ in range(4):
        assert client.post("/login/", {"username": "op", "password": "wrong"}).status_code == 200
    assert client.post("/login/", {"username": "op", "password": "pass12345"}).status_code == 302
    client.post("/logout/")
    for _ in range(4):
        client.post("/login/", {"username": "op", "password": "wrong"})
    assert client.post("/login/", {"username": "op", "password": "pass12345"}).status_code == 302


def test_the_lockout_ends_after_the_cool_off(world: World) -> None:
    from axes.models import AccessAttempt

    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "op", "password": "wrong"})
    assert client.post("/login/", {"username": "op", "password": "pass12345"}).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert client.post("/login/", {"username": "op", "password": "pass12345"}).status_code == 302


def test_the_admin_login_is_throttled_too(world: World) -> None:
    client = Client()
    for _ in range(5):
        client.post("/admin/login/", {"username": "op", "password": "wrong"})
    assert client.post("/login/", {"username": "op", "password": "pass12345"}).status_code == 429


# -- 2. safe redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "http://evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_inbox_replay_never_redirects_off_site(world: World, target: str) -> None:
    response = world.client_for(world.operator).post(reverse("channels:inbox_replay"), {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("channels:inbox_list")


def test_inbox_replay_follows_a_same_site_next(world: World) -> None:
    back = reverse("channels:inbox_list") + "?status=failed"
    response = world.client_for(world.operator).post(reverse("channels:inbox_replay"), {"next": back})
    assert response["Location"] == back


# -- 3. Cache-Control: no-store --------------------------------------------------------------------


def _no_store(response: object) -> bool:
    return "no-store" in response["Cache-Control"]  # type: ignore[index]


def test_personal_pages_and_the_api_are_never_stored(world: World) -> None:
    customer = CustomerFactory(organization=world.org)
    operator = world.client_for(world.operator)
    for path in (
        "/customers/",
        f"/customers/{customer.pk}/",
        f"/customers/{customer.pk}/personal-data/",
        "/api/v1/customers/",
        f"/api/v1/customers/{customer.pk}/",
        "/",
    ):
        response = operator.get(path)
        assert response.status_code == 200, path
        assert _no_store(response), path
    sidebar = world.client_for(world.store_staff).get("/sidebar/")
    assert _no_store(sidebar)
    # Refusals too: an anonymous API call and a missing page.
    assert _no_store(Client().get("/api/v1/customers/"))
    assert _no_store(operator.get("/api/v1/no-such-thing/"))


# -- 4. API tokens: expiry and revocation on password change ---------------------------------------


def _api(token: Token) -> int:
    """The status of an API read with ``token`` (401/403 refused, 200 accepted)."""
    return Client().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code


def test_a_fresh_token_works_and_an_expired_one_is_refused(world: World) -> None:
    token = Token.objects.create(user=world.operator.user)
    assert _api(token) == 200
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=31))
    response = Client().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code in (401, 403)  # 403: session authentication is listed first
    assert "过期" in response.json()["detail"]
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=29))
    assert _api(token) == 200


def test_a_password_change_revokes_the_tokens_issued_before_it(world: World) -> None:
    user = world.operator.user
    token = Token.objects.create(user=user)
    assert _api(token) == 200
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])  # a login is not a password change
    assert _api(token) == 200
    user.set_password("a-new-password-2026")
    user.save()
    assert _api(token) in (401, 403)
    fresh = Token.objects.create(user=user)
    assert _api(fresh) == 200


def test_a_password_change_through_the_admin_form_revokes_tokens(world: World) -> None:
    from django.contrib.auth.forms import SetPasswordForm

    user = world.operator.user
    token = Token.objects.create(user=user)
    form = SetPasswordForm(user, {"new_password1": "Another-pass-2026", "new_password2": "Another-pass-2026"})
    assert form.is_valid(), form.errors
    form.save()
    assert _api(token) in (401, 403)
