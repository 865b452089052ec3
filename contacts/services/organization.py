"""The brand's own set-up, done by operators in the console or the API: stores, staff logins and roles,
API tokens and brand settings. Every change leaves an audit entry (``audit_record``) in the same
transaction, naming the fields it changed, never their values.

Rules the services enforce (so the console and the API agree):

* a store code is unique per brand (the database says so: ``store_code_unique_per_org``); a store is
  closed, never deleted, so its customers and orders keep their history;
* a console login is given to a staff member (usually a WeCom member from the synced list) with a
  role and no password: the member sets it through a one-time link (:func:`staff_password_link`);
* nobody takes away their own login or operator role (a brand must never lock out its last operator
  by a slip);
* an API token's secret exists only in the response that created it; the database keeps its SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Any, TypedDict

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from contacts.models import ApiToken, AuditAction, Organization, Role, Staff, Store
from contacts.services.audit import audit_record
from contacts.services.registry import ContactsError
from contacts.services.staff import staff_set_role
from scrm.celery import enqueue_on_commit

API_TOKEN_PREFIX = "scrm_"  # noqa: S105 -- the public marker of our tokens, not a secret
API_TOKEN_MAX_DAYS = 365
STORE_FIELDS = ("code", "name", "city", "address")
BRAND_FIELDS = (
    "name",
    "lifecycle_repeat_orders",
    "lifecycle_dormant_days",
    "lifecycle_churn_on_unfollow",
    "churn_high_below",
    "churn_medium_below",
    # Churn alerts (流失提醒): read when a deletion arrives, nothing to recompute.
    "churn_alert_staff",
    "churn_alert_manager",
    "churn_alarm_daily_deletes",
)
LIFECYCLE_FIELDS = frozenset(BRAND_FIELDS[1:4])
CHURN_FIELDS = frozenset(BRAND_FIELDS[4:6])


class _ActorIds(TypedDict):
    actor_staff_id: int | None
    actor_user_id: int | None


def _by(by: Staff | None) -> _ActorIds:
    return {"actor_staff_id": by.pk if by else None, "actor_user_id": by.user_id if by else None}


# --- stores --------------------------------------------------------------------------------------


@transaction.atomic
def store_create(
    *, organization: Organization, by: Staff | None, code: str, name: str, city: str = "", address: str = ""
) -> Store:
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise ContactsError(_("门店编码和名称都要填写"))
    if Store.objects.filter(organization=organization, code=code).exists():
        raise ContactsError(_("门店编码 %(code)s 已被使用：请换一个编码，或编辑已有的门店") % {"code": code})
    store = Store.objects.create(
        organization=organization, code=code, name=name, city=city.strip(), address=address.strip()
    )
    audit_record(
        organization_id=organization.pk,
        action=AuditAction.STORE_CREATE,
        target_type="store",
        target_id=store.pk,
        fields=[f for f in STORE_FIELDS if getattr(store, f)],
        **_by(by),
    )
    return store


@transaction.atomic
def store_update(*, store: Store, by: Staff | None, **changes: str) -> Store:
    """Change a store's code, name, city or address; returns it. Only the given fields change."""
    unknown = set(changes) - set(STORE_FIELDS)
    if unknown:
        raise ContactsError(_("门店没有这些字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    store = Store.objects.select_for_update().get(pk=store.pk)
    values = {f: v.strip() for f, v in changes.items() if v is not None}
    if not values.get("code", store.code) or not values.get("name", store.name):
        raise ContactsError(_("门店编码和名称都要填写"))
    changed = [f for f, v in values.items() if getattr(store, f) != v]
    taken = Store.objects.filter(organization_id=store.organization_id, code=values.get("code")).exclude(pk=store.pk)
    if "code" in changed and taken.exists():
        raise ContactsError(_("门店编码 %(code)s 已被使用：请换一个编码") % {"code": values["code"]})
    if not changed:
        return store
    for f in changed:
        setattr(store, f, values[f])
    store.save(update_fields=changed)
    audit_record(
        organization_id=store.organization_id,
        action=AuditAction.STORE_UPDATE,
        target_type="store",
        target_id=store.pk,
        fields=changed,
        **_by(by),
    )
    return store


@transaction.atomic
def store_set_active(*, store: Store, by: Staff | None, active: bool) -> bool:
    """Close (停用) or reopen a store; returns whether anything changed. A closed store keeps its
    customers, staff and orders; it is no longer offered for new ones."""
    updated = Store.objects.filter(pk=store.pk, is_active=not active).update(is_active=active)
    store.is_active = active
    if updated:
        audit_record(
            organization_id=store.organization_id,
            action=AuditAction.STORE_REOPEN if active else AuditAction.STORE_CLOSE,
            target_type="store",
            target_id=store.pk,
            fields=["is_active"],
            **_by(by),
        )
    return bool(updated)


# --- staff ---------------------------------------------------------------------------------------


@transaction.atomic
def staff_stores_set(
    *, staff: Staff, by: Staff | None, store: Store | None, managed_stores: Iterable[Store] = ()
) -> Staff:
    """The member's own store and, for a manager, the further stores they manage (same brand only)."""
    managed = list(managed_stores)
    for s in [store, *managed]:
        if s is not None and s.organization_id != staff.organization_id:
            raise ContactsError(_("门店不属于该企业"))
    staff = Staff.objects.select_for_update(of=("self",)).get(pk=staff.pk)
    before_managed = set(staff.managed_stores.values_list("id", flat=True))
    after_managed = {s.pk for s in managed}
    changed = []
    if staff.store_id != (store.pk if store else None):
        staff.store = store
        staff.save(update_fields=["store"])
        changed.append("store")
    if before_managed != after_managed:
        staff.managed_stores.set(managed)
        changed.append("managed_stores")
    if changed:
        audit_record(
            organization_id=staff.organization_id,
            action=AuditAction.STAFF_UPDATE,
            target_type="staff",
            target_id=staff.pk,
            fields=changed,
            details={"store_id": staff.store_id, "managed_store_ids": sorted(after_managed)},
            **_by(by),
        )
    return staff


@transaction.atomic
def staff_login_grant(*, staff: Staff, by: Staff | None, username: str, role: Role) -> Any:
    """Give a staff member a console login with ``role`` and no usable password (they set one through
    :func:`staff_password_link`); a login taken away earlier is switched on again. Returns the user."""
    staff = Staff.objects.select_for_update(of=("self",)).select_related("user").get(pk=staff.pk)
    if not staff.is_active:
        raise ContactsError(_("该员工已离职，不能开通登录账号"))
    user_model = get_user_model()
    user = staff.user
    if user is None:
        username = username.strip()
        if not username:
            raise ContactsError(_("请填写登录账号"))
        if user_model.objects.filter(username=username).exists():
            raise ContactsError(_("登录账号 %(u)s 已被使用：请换一个") % {"u": username})
        try:
            with transaction.atomic():
                user = user_model.objects.create_user(username=username, password=None)
        except IntegrityError as exc:  # a concurrent grant took the name between the check and the insert
            raise ContactsError(_("登录账号 %(u)s 已被使用：请换一个") % {"u": username}) from exc
        Staff.objects.filter(pk=staff.pk).update(user=user)
        staff.user = user
    elif not user.is_active:
        user_model.objects.filter(pk=user.pk).update(is_active=True)
        user.is_active = True
    audit_record(
        organization_id=staff.organization_id,
        action=AuditAction.STAFF_LOGIN_GRANT,
        target_type="staff",
        target_id=staff.pk,
        fields=["user"],
        details={"user_id": user.pk, "role": role.value},
        **_by(by),
    )
    staff_set_role(staff=staff, role=role, by=by)
    return user


@transaction.atomic
def staff_login_revoke(*, staff: Staff, by: Staff | None) -> bool:
    """Switch a member's console login off (their API tokens are revoked too); returns whether it changed."""
    if by is not None and by.pk == staff.pk:
        raise ContactsError(_("不能停用自己的登录账号：请让另一位运营操作"))
    if staff.user_id is None:
        return False
    updated = get_user_model().objects.filter(pk=staff.user_id, is_active=True).update(is_active=False)
    if updated:
        audit_record(
            organization_id=staff.organization_id,
            action=AuditAction.STAFF_LOGIN_REVOKE,
            target_type="staff",
            target_id=staff.pk,
            fields=["user.is_active"],
            **_by(by),
        )
        api_tokens_revoke_for_user(user_id=staff.user_id, reason="login_revoked")
    return bool(updated)


@transaction.atomic
def staff_role_change(*, staff: Staff, by: Staff | None, role: Role) -> None:
    """An operator changes a member's role (audited by ``staff_set_role``); never their own."""
    if by is not None and by.pk == staff.pk:
        raise ContactsError(_("不能修改自己的角色：请让另一位运营操作"))
    staff_set_role(staff=staff, role=role, by=by)


@transaction.atomic
def staff_update(
    *,
    staff: Staff,
    by: Staff | None,
    role: Role | None = None,
    stores: tuple[Store | None, Iterable[Store]] | None = None,
) -> Staff:
    """Change a member's role and/or stores (``(own store, managed stores)``) in one transaction, so a
    refused role leaves the stores as they were (the API's one PATCH; the page posts them apart)."""
    if stores is not None:
        staff = staff_stores_set(staff=staff, by=by, store=stores[0], managed_stores=stores[1])
    if role is not None:
        staff_role_change(staff=staff, by=by, role=role)
    return staff


def staff_password_link(*, staff: Staff, by: Staff | None) -> tuple[str, str]:
    """The one-time ``(uidb64, token)`` of the member's password-set page (Django's password-reset
    tokens: valid for ``PASSWORD_RESET_TIMEOUT``, void once the password changes). Audited."""
    if staff.user is None or not staff.user.is_active:
        raise ContactsError(_("该员工还没有可用的登录账号：请先开通"))
    audit_record(
        organization_id=staff.organization_id,
        action=AuditAction.STAFF_PASSWORD_SET,
        target_type="staff",
        target_id=staff.pk,
        fields=["password_link"],
        **_by(by),
    )
    return urlsafe_base64_encode(force_bytes(staff.user.pk)), default_token_generator.make_token(staff.user)


# --- API tokens ----------------------------------------------------------------------------------


def api_token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, staff: Staff, by: Staff | None, name: str, days: int) -> tuple[ApiToken, str]:
    """Issue a token acting as ``staff`` (with their role and stores) for ``days`` days; returns the
    row and the secret, which is never available again."""
    name = name.strip()
    if not name:
        raise ContactsError(_("请写明令牌的用途（例如：收银系统同步订单）"))
    if not 1 <= days <= API_TOKEN_MAX_DAYS:
        raise ContactsError(_("有效期须在 1 到 %(max)s 天之间") % {"max": API_TOKEN_MAX_DAYS})
    if staff.user_id is None or not staff.is_active:
        raise ContactsError(_("该员工没有可用的登录账号：请先开通登录账号，再签发令牌"))
    prefix = secrets.token_hex(4)
    secret = f"{API_TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    token = ApiToken.objects.create(
        organization_id=staff.organization_id,
        staff=staff,
        name=name[:100],
        prefix=prefix,
        key_hash=api_token_hash(secret),
        created_by=by,
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    audit_record(
        organization_id=staff.organization_id,
        action=AuditAction.TOKEN_CREATE,
        target_type="api_token",
        target_id=token.pk,
        details={"staff_id": staff.pk, "days": days},
        **_by(by),
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by: Staff | None) -> bool:
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if updated:
        audit_record(
            organization_id=token.organization_id,
            action=AuditAction.TOKEN_REVOKE,
            target_type="api_token",
            target_id=token.pk,
            fields=["revoked_at"],
            **_by(by),
        )
    token.refresh_from_db(fields=["revoked_at"])
    return bool(updated)


def api_tokens_revoke_for_user(*, user_id: int, reason: str) -> int:
    """Revoke every live token of a user (password changed, login switched off), one audit entry each."""
    tokens = list(
        ApiToken.objects.filter(staff__user_id=user_id, revoked_at__isnull=True).values_list("pk", "organization_id")
    )
    if not tokens:
        return 0
    ApiToken.objects.filter(pk__in=[pk for pk, _org in tokens]).update(revoked_at=timezone.now())
    for pk, organization_id in tokens:
        audit_record(
            organization_id=organization_id,
            action=AuditAction.TOKEN_REVOKE,
            target_type="api_token",
            target_id=pk,
            fields=["revoked_at"],
            details={"reason": reason},
        )
    return len(tokens)


# --- brand settings ------------------------------------------------------------------------------


@transaction.atomic
def brand_settings_update(*, organization: Organization, by: Staff | None, **changes: Any) -> Organization:
    """Change the brand's name, lifecycle rules, churn-risk thresholds or churn alerts; a rule change re-derives every
    stage, a threshold change every churn band (tasks, since a large brand has many customers)."""
    unknown = set(changes) - set(BRAND_FIELDS)
    if unknown:
        raise ContactsError(_("品牌设置没有这些字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    changed = [f for f, v in changes.items() if v is not None and getattr(org, f) != v]
    if "name" in changed and not str(changes["name"]).strip():
        raise ContactsError(_("品牌名称不能为空"))
    if not changed:
        return org
    for f in changed:
        setattr(org, f, changes[f].strip() if isinstance(changes[f], str) else changes[f])
    try:
        org.full_clean(exclude=["slug"])
    except ValidationError as exc:
        raise ContactsError("；".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
    org.save(update_fields=changed)
    audit_record(
        organization_id=org.pk,
        action=AuditAction.BRAND_UPDATE,
        target_type="organization",
        target_id=org.pk,
        fields=changed,
        **_by(by),
    )
    if LIFECYCLE_FIELDS & set(changed):
        enqueue_on_commit("contacts.lifecycle.refresh_org", org.pk)
    if CHURN_FIELDS & set(changed):
        enqueue_on_commit("contacts.predictions.reband_org", org.pk)
    return org
