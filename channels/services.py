"""Writes of channel data: connect/test/disable accounts (inbox: channels.inbox; platforms: channels/<platform>/)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from channels import registry
from channels.models import ChannelAccount, ChannelPlatform
from channels.webhooks import forget_account
from contacts import services as contact_services
from contacts.models import AuditAction, Organization, Staff, Store, Tag


@transaction.atomic
def channel_account_connect(
    *,
    organization: Organization,
    platform: str,
    name: str,
    external_id: str = "",
    credentials: dict[str, Any] | None = None,
    agent_id: str = "",
    api_base: str = "",
    default_store: Store | None = None,
    default_tags: list[Tag] | None = None,
    rate_limits: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    account: ChannelAccount | None = None,
    by: Staff | None = None,
) -> ChannelAccount:
    """Create (or update, same organization + platform + external id) a connected account.

    Blank credential values keep the stored ones, so an edit form never has to show secrets again.
    A new account or a changed credential is audited (the names of the changed keys, never values).
    """
    if platform not in ChannelPlatform.values:
        raise ValueError(f"未知平台：{platform}")
    if account is None and external_id:
        account = ChannelAccount.objects.filter(
            organization=organization, platform=platform, external_id=external_id
        ).first()
    if account is None:
        account = ChannelAccount(organization=organization, platform=platform)
    elif account.organization_id != organization.pk:
        raise ValueError("账号不属于该企业")
    account.name = name
    account.external_id = external_id
    account.agent_id = agent_id
    account.api_base = api_base.rstrip("/")
    account.default_store = default_store
    if rate_limits is not None:
        account.rate_limits = rate_limits
    if settings is not None:
        account.settings = settings
    before = account.credentials() if account.credentials_encrypted else {}
    merged = dict(before)
    merged.update({k: v for k, v in (credentials or {}).items() if v})
    changed = sorted(k for k in merged if merged[k] != before.get(k))
    created = account.pk is None
    account.set_credentials(merged)
    account.is_active = True
    account.save()
    if created or changed:
        contact_services.audit_record(
            organization_id=organization.pk,
            action=AuditAction.CHANNEL_CREDENTIALS,
            target_type="channel_account",
            target_id=account.pk,
            actor_staff_id=by.pk if by else None,
            actor_user_id=by.user_id if by else None,
            fields=changed,
            details={"platform": platform, "created": created},
        )
    if default_tags is not None:
        account.default_tags.set(default_tags)
    _forget(account)
    return account


def _forget(account: ChannelAccount) -> None:
    transaction.on_commit(lambda: forget_account(account))


@transaction.atomic
def channel_account_disable(*, account: ChannelAccount) -> None:
    ChannelAccount.objects.filter(pk=account.pk).update(is_active=False, updated_at=timezone.now())
    account.is_active = False
    _forget(account)


@transaction.atomic
def channel_account_enable(*, account: ChannelAccount) -> None:
    ChannelAccount.objects.filter(pk=account.pk).update(is_active=True, updated_at=timezone.now())
    account.is_active = True
    _forget(account)


def channel_account_test(*, account: ChannelAccount) -> tuple[bool, str]:
    """Call the platform with the stored credentials (its plugin's ``connection_test``); record and
    return (ok, message in Chinese)."""
    ok, message = registry.connection_test(account) or (True, "该平台没有在线测试接口；保存的凭据将在首次调用时校验")
    ChannelAccount.objects.filter(pk=account.pk).update(
        last_tested_at=timezone.now(), last_test_ok=ok, last_error="" if ok else message[:300]
    )
    return ok, message
