"""The audit log records each sensitive action where it happens (issue 14): campaign approval, a channel
account's credential change, a customer export, a login lockout, a role change, an API token issued and
revoked. Each test drives the real page or API, then checks the one AuditEntry row — actor, action,
target ids, field names — holds no personal data, and that operators read it on /settings/audit/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from campaigns.models import CampaignStatus
from channels.models import ChannelAccount
from contacts.models import ApiToken, AuditAction, AuditEntry, Staff
from tests.campaigns.factories import campaign
from tests.conftest import World
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
PHONE = "13912345678"


def audited(
    world: World,
    action: AuditAction,
    *,
    target_type: str,
    target_id: int | str,
    actor: Staff | None,
    actor_user_id: int | None = None,
    personal: tuple[str, ...] = (),
) -> AuditEntry:
    """The one entry of ``action``: its actor and target; nothing personal in it; shown on the page."""
    entry = AuditEntry.objects.get(organization=world.org, action=action)
    assert (entry.target_type, entry.target_id) == (target_type, str(target_id))
    assert entry.actor_staff_id == (actor.pk if actor else None)
    assert entry.actor_user_id == (actor.user_id if actor else actor_user_id)
    stored = json.dumps(model_to_dict(entry), ensure_ascii=False, default=str)
    for value in personal:
        assert value not in stored, value
    page = world.client_for(world.operator).get(f"/settings/audit/?action={action.value}").content.decode()
    assert page.count('data-testid="audit-row"') == 1
    assert str(action.label) in page and f"#{target_id}" in page
    assert (actor.name if actor else "系统") in page
    for value in personal:
        assert value not in page, value
    return entry


def test_a_campaign_approval(world: World) -> None:
    pending = campaign(world.org, status=CampaignStatus.PENDING_APPROVAL, created_by=world.manager)
    response = world.client_for(world.operator).post(f"/campaigns/{pending.pk}/approve/")
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == CampaignStatus.SCHEDULED
    entry = audited(
        world, AuditAction.CAMPAIGN_APPROVE, target_type="campaign", target_id=pending.pk, actor=world.operator
    )
    assert entry.fields == ["status"] and entry.details == {"status": "scheduled"}


def test_a_channel_account_secret_change(world: World) -> None:
    client = world.client_for(world.operator)
    form = {"platform": "douyin", "name": "抖音号", "external_id": "awkey", "client_secret": "first-secret-1"}
    assert client.post("/channels/leads/accounts/connect/", form).status_code == 302
    account = ChannelAccount.objects.get(platform="douyin")
    created = AuditEntry.objects.get(action=AuditAction.CHANNEL_CREDENTIALS)
    assert created.details == {"platform": "douyin", "created": True}
    # The same secret again changes nothing and writes nothing; a new one is audited by key name.
    client.post(f"/channels/leads/accounts/{account.pk}/", {**form, "client_secret": ""})
    assert AuditEntry.objects.filter(action=AuditAction.CHANNEL_CREDENTIALS).count() == 1
    client.post(f"/channels/leads/accounts/{account.pk}/", {**form, "client_secret": "second-secret-2"})
    account.refresh_from_db()
    assert account.credentials()["client_secret"] == "second-secret-2"
    entries = AuditEntry.objects.filter(action=AuditAction.CHANNEL_CREDENTIALS).order_by("id")
    changed = entries.last()
    assert changed is not None and changed.fields == ["client_secret"]
    assert changed.details == {"platform": "douyin", "created": False}
    assert (changed.target_type, changed.target_id, changed.actor_staff_id) == (
        "channel_account",
        str(account.pk),
        world.operator.pk,
    )
    page = client.get("/settings/audit/?action=channel_credentials").content.decode()
    assert (
        page.count('data-testid="audit-row"') == 2 and "修改渠道账号凭据" in page and f"渠道账号 #{account.pk}" in page
    )
    for secret in ("first-secret-1", "second-secret-2"):
        assert secret not in json.dumps([model_to_dict(e) for e in entries], default=str)
        assert secret not in page


def test_a_customer_export(world: World) -> None:
    CustomerFactory(organization=world.org, home_store=world.store_a, phone=PHONE, name="林晓雯")
    response = world.client_for(world.operator).get(f"/api/v1/customers/export/?q={PHONE}")
    assert response.status_code == 200 and PHONE in b"".join(response.streaming_content).decode("utf-8-sig")
    entry = AuditEntry.objects.get(action=AuditAction.CUSTOMER_EXPORT)
    assert entry.fields == ["q"] and entry.details == {"format": "csv"}  # which filters, never their values
    assert (entry.target_type, entry.target_id, entry.actor_staff_id) == ("customer_list", "", world.operator.pk)
    assert PHONE not in json.dumps(model_to_dict(entry), default=str)
    page = world.client_for(world.operator).get("/settings/audit/?action=customer_export").content.decode()
    assert page.count('data-testid="audit-row"') == 1
    assert "导出客户名单" in page and "客户名单" in page and "搜索" in page and PHONE not in page
    # A store member's export is audited as theirs (and their scope stays as it is).
    world.client_for(world.store_staff).get("/api/v1/customers/export/?export_format=xlsx")
    mine = AuditEntry.objects.filter(action=AuditAction.CUSTOMER_EXPORT).order_by("id").last()
    assert mine is not None and (mine.actor_staff_id, mine.fields, mine.details) == (
        world.store_staff.pk,
        [],
        {"format": "xlsx"},
    )


def test_a_login_lockout(world: World, settings: Any) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": world.manager.user.username, "password": "wrong-guess"})
    assert client.post("/login/", {"username": world.manager.user.username, "password": "pass12345"}).status_code == 429
    audited(
        world,
        AuditAction.LOGIN_LOCKOUT,
        target_type="staff",
        target_id=world.manager.pk,
        actor=None,
        actor_user_id=world.manager.user_id,
        personal=("wrong-guess", "pass12345", "127.0.0.1"),
    )
    # An unknown username belongs to no brand: nothing is written, and nothing tells it exists.
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/login/", {"username": "nobody-here", "password": "x"})
    assert AuditEntry.objects.filter(action=AuditAction.LOGIN_LOCKOUT).count() == 1


def test_a_role_change(world: World) -> None:
    response = world.client_for(world.operator).post(
        f"/settings/staff/{world.store_staff.pk}/", {"action": "role", "role": "manager"}
    )
    assert response.status_code == 302
    entry = audited(
        world, AuditAction.ROLE_CHANGE, target_type="staff", target_id=world.store_staff.pk, actor=world.operator
    )
    assert entry.fields == ["role"] and entry.details == {"from": "store_staff", "to": "manager"}


def test_an_api_token_issued_and_revoked(world: World) -> None:
    client = world.client_for(world.operator)
    response = client.post("/settings/tokens/", {"staff": world.manager.pk, "name": "收银系统", "days": 30})
    assert response.status_code == 200
    token = ApiToken.objects.get(staff=world.manager)
    secret = response.content.decode().split('value="scrm_', 1)[1].split('"', 1)[0]
    created = audited(
        world,
        AuditAction.TOKEN_CREATE,
        target_type="api_token",
        target_id=token.pk,
        actor=world.operator,
        personal=(secret, token.key_hash),
    )
    assert created.details == {"staff_id": world.manager.pk, "days": 30}
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    revoked = audited(
        world,
        AuditAction.TOKEN_REVOKE,
        target_type="api_token",
        target_id=token.pk,
        actor=world.operator,
        personal=(secret, token.key_hash),
    )
    assert revoked.fields == ["revoked_at"]
