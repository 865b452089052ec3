"""Organization settings pages: stores, staff logins and roles, API tokens, brand, and the audit log —
each as the owner (operator), a same-organization user without the right (manager, store staff), and an
outsider (another brand's operator)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.test import Client

from contacts.models import ApiToken, AuditAction, AuditEntry, Lifecycle, Role, Store
from tests.conftest import World
from tests.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "/settings/",
    "/settings/stores/",
    "/settings/staff/",
    "/settings/tokens/",
    "/settings/audit/",
]


def _actions(world: World) -> list[str]:
    return list(AuditEntry.objects.filter(organization=world.org).order_by("id").values_list("action", flat=True))


@pytest.mark.parametrize("path", PAGES)
def test_only_operators_open_the_settings_pages(world: World, path: str) -> None:
    assert world.client_for(world.operator).get(path).status_code == 200
    assert world.client_for(world.manager).get(path).status_code == 403
    assert world.client_for(world.store_staff).get(path).status_code == 403
    assert Client().get(path).status_code == 302


def test_an_operator_creates_edits_and_closes_a_store(world: World) -> None:
    client = world.client_for(world.operator)
    response = client.post("/settings/stores/", {"code": "C9", "name": "新店", "city": "苏州"})
    assert response.status_code == 302
    store = Store.objects.get(organization=world.org, code="C9")
    response = client.post(f"/settings/stores/{store.pk}/", {"action": "save", "code": "C9", "name": "新店二"})
    store.refresh_from_db()
    assert store.name == "新店二" and store.city == ""
    client.post(f"/settings/stores/{store.pk}/", {"action": "close"})
    store.refresh_from_db()
    assert not store.is_active
    assert _actions(world) == [AuditAction.STORE_CREATE, AuditAction.STORE_UPDATE, AuditAction.STORE_CLOSE]
    update = AuditEntry.objects.get(action=AuditAction.STORE_UPDATE)
    assert update.fields == ["city", "name"] and update.actor_staff_id == world.operator.pk


def test_a_duplicate_store_code_is_refused_with_a_reason_and_changes_nothing(world: World) -> None:
    client = world.client_for(world.operator)
    response = client.post("/settings/stores/", {"code": "A", "name": "重复"}, follow=True)
    assert "已被使用" in response.content.decode()
    assert Store.objects.filter(organization=world.org, code="A").count() == 1
    assert not AuditEntry.objects.exists()


def test_managers_and_outsiders_change_no_store(world: World) -> None:
    for staff in (world.manager, world.outsider):
        world.client_for(staff).post(f"/settings/stores/{world.store_a.pk}/", {"action": "close"})
    world.store_a.refresh_from_db()
    assert world.store_a.is_active
    assert world.client_for(world.outsider).get(f"/settings/stores/{world.store_a.pk}/").status_code == 404
    assert world.client_for(world.outsider).get(f"/settings/staff/{world.manager.pk}/").status_code == 404


def test_a_wecom_member_gets_a_login_sets_a_password_and_signs_in(world: World) -> None:
    member = StaffFactory(organization=world.org, store=world.store_b, name="新导购", wecom_userid="zhang3")
    client = world.client_for(world.operator)
    response = client.post(
        f"/settings/staff/{member.pk}/", {"action": "grant", "username": "zhang3", "role": "manager"}
    )
    assert response.status_code == 200
    link = re.search(r'value="(http[^"]+/accounts/password/[^"]+)"', response.content.decode())
    assert link, "the page shows the password-set link"
    member.refresh_from_db()
    assert member.user is not None and not member.user.has_usable_password()
    assert list(member.user.groups.values_list("name", flat=True)) == ["manager"]
    # The member opens the link (Django redirects to the session's set-password URL) and sets a password.
    anonymous = Client()
    page = anonymous.get(link.group(1).split("testserver")[1], follow=True)
    assert page.status_code == 200 and "new_password1" in page.content.decode()
    done = anonymous.post(
        page.redirect_chain[-1][0], {"new_password1": "Str0ng-pass!", "new_password2": "Str0ng-pass!"}
    )
    assert done.status_code == 302
    signed_in = Client().post("/login/", {"username": "zhang3", "password": "Str0ng-pass!"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    # The link is void once used.
    again = Client().get(link.group(1).split("testserver")[1], follow=True)
    assert "已失效" in again.content.decode()
    assert set(_actions(world)) >= {
        AuditAction.STAFF_LOGIN_GRANT,
        AuditAction.ROLE_CHANGE,
        AuditAction.STAFF_PASSWORD_SET,
    }


def test_role_and_store_changes_are_audited_and_nobody_changes_their_own_role(world: World) -> None:
    client = world.client_for(world.operator)
    client.post(f"/settings/staff/{world.store_staff.pk}/", {"action": "role", "role": "manager"})
    client.post(
        f"/settings/staff/{world.store_staff.pk}/",
        {"action": "stores", "store": world.store_a.pk, "managed_stores": [world.store_b.pk]},
    )
    assert set(world.store_staff.user.groups.values_list("name", flat=True)) == {"manager"}
    assert list(world.store_staff.managed_stores.all()) == [world.store_b]
    response = client.post(
        f"/settings/staff/{world.operator.pk}/", {"action": "role", "role": "store_staff"}, follow=True
    )
    assert "不能修改自己的角色" in response.content.decode()
    assert set(world.operator.user.groups.values_list("name", flat=True)) == {"operator"}
    role = AuditEntry.objects.get(action=AuditAction.ROLE_CHANGE)
    assert role.details == {"from": "store_staff", "to": "manager"}
    assert AuditEntry.objects.get(action=AuditAction.STAFF_UPDATE).fields == ["managed_stores"]


def test_a_store_from_another_brand_cannot_be_given_to_staff(world: World) -> None:
    client = world.client_for(world.operator)
    client.post(f"/settings/staff/{world.store_staff.pk}/", {"action": "stores", "store": world.other_store.pk})
    world.store_staff.refresh_from_db()
    assert world.store_staff.store_id == world.store_a.pk


def test_revoking_a_login_stops_sign_in_and_its_tokens(world: World) -> None:
    client = world.client_for(world.operator)
    client.post("/settings/tokens/", {"staff": world.manager.pk, "name": "BI", "days": 30})
    client.post(f"/settings/staff/{world.manager.pk}/", {"action": "revoke"})
    world.manager.user.refresh_from_db()
    assert not world.manager.user.is_active
    assert ApiToken.objects.get(staff=world.manager).revoked_at is not None


def test_the_token_secret_is_shown_once_and_never_stored(world: World) -> None:
    client = world.client_for(world.operator)
    response = client.post("/settings/tokens/", {"staff": world.manager.pk, "name": "收银系统", "days": 90})
    body = response.content.decode()
    secret = re.search(r'value="(scrm_[^"]+)"', body).group(1)
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(staff=world.manager)
    assert secret not in (token.key_hash, token.prefix) and secret.startswith(f"scrm_{token.prefix}_")
    assert secret not in client.get("/settings/tokens/").content.decode()
    assert AuditEntry.objects.get(action=AuditAction.TOKEN_CREATE).details == {"staff_id": world.manager.pk, "days": 90}


def test_outsiders_cannot_revoke_or_issue_tokens_for_another_brand(world: World) -> None:
    client = world.client_for(world.operator)
    client.post("/settings/tokens/", {"staff": world.manager.pk, "name": "BI", "days": 30})
    token = ApiToken.objects.get()
    outsider = world.client_for(world.outsider)
    assert outsider.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 404
    outsider.post("/settings/tokens/", {"staff": world.manager.pk, "name": "x", "days": 30})
    token.refresh_from_db()
    assert token.revoked_at is None and ApiToken.objects.count() == 1


def test_brand_settings_change_the_lifecycle_rules(world: World, django_capture_on_commit_callbacks: Any) -> None:
    customer = CustomerFactory(organization=world.org, lifecycle=Lifecycle.LEAD)
    data = {
        "name": "阿克米新名",
        "lifecycle_repeat_orders": 3,
        "lifecycle_dormant_days": 60,
        "lifecycle_churn_on_unfollow": "",
        "churn_high_below": 0.3,
        "churn_medium_below": 0.7,
        "churn_alert_staff": "on",
        "churn_alarm_daily_deletes": 5,
    }
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = world.client_for(world.operator).post("/settings/", data)
    assert response.status_code == 302 and len(callbacks) == 1
    world.org.refresh_from_db()
    assert (world.org.name, world.org.lifecycle_dormant_days, world.org.lifecycle_churn_on_unfollow) == (
        "阿克米新名",
        60,
        False,
    )
    entry = AuditEntry.objects.get(action=AuditAction.BRAND_UPDATE)
    assert set(entry.fields) == {
        "name",
        "lifecycle_repeat_orders",
        "lifecycle_dormant_days",
        "lifecycle_churn_on_unfollow",
        "churn_alarm_daily_deletes",
    }
    bad = world.client_for(world.operator).post("/settings/", {**data, "lifecycle_repeat_orders": 1})
    assert bad.status_code == 200
    # Churn-risk thresholds: the pair must be ordered; a change re-bands (one task, not the lifecycle one).
    inverted = world.client_for(world.operator).post("/settings/", {**data, "churn_high_below": 0.8})
    assert inverted.status_code == 200 and "高流失风险的阈值不能大于中流失风险的阈值" in inverted.content.decode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        moved = world.client_for(world.operator).post("/settings/", {**data, "churn_high_below": 0.2})
    assert moved.status_code == 302 and len(callbacks) == 1
    world.org.refresh_from_db()
    assert world.org.churn_high_below == 0.2
    world.org.refresh_from_db()
    assert world.org.lifecycle_repeat_orders == 3 and customer.lifecycle == Lifecycle.LEAD


def test_the_audit_log_filters_and_is_scoped(world: World) -> None:
    client = world.client_for(world.operator)
    client.post("/settings/stores/", {"code": "C1", "name": "一店"})
    world.client_for(world.outsider).post("/settings/stores/", {"code": "Z1", "name": "别家店"})
    page = client.get("/settings/audit/").content.decode()
    assert "新建门店" in page and "门店 #" in page and world.operator.name in page
    assert "别家店" not in page and AuditEntry.objects.filter(organization=world.other_org).count() == 1

    def rows(query: str) -> int:
        return client.get(f"/settings/audit/?{query}").content.decode().count('data-testid="audit-row"')

    assert rows("") == 1
    assert rows("action=store_create") == 1 and rows("action=role_change") == 0
    assert rows(f"actor={world.operator.pk}") == 1 and rows(f"actor={world.manager.pk}") == 0
    assert rows("start=2099-01-01") == 0 and rows("end=2000-01-01") == 0
    response = client.get("/settings/audit/?start=1800-01-01")
    assert response.status_code == 200 and "2000 年到 2100 年" in response.content.decode()


def test_the_audit_log_refuses_update_and_delete_in_the_database(world: World) -> None:
    world.client_for(world.operator).post("/settings/stores/", {"code": "C1", "name": "一店"})
    entry = AuditEntry.objects.get()
    for attempt in (
        lambda: AuditEntry.objects.filter(pk=entry.pk).update(target_id="x"),
        lambda: AuditEntry.objects.filter(pk=entry.pk).delete(),
        lambda: entry.save(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert AuditEntry.objects.get().target_id == entry.target_id


def test_django_admin_is_for_superusers_only(world: World) -> None:
    user = world.operator.user
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True)
    assert world.client_for(world.operator).get("/admin/").status_code == 302
    get_user_model().objects.filter(pk=user.pk).update(is_superuser=True)
    assert world.client_for(world.operator).get("/admin/").status_code == 200
    assert Role.OPERATOR
