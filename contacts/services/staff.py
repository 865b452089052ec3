"""Staff members and their roles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import (
    AuditAction,
    Organization,
    Role,
    Staff,
    Store,
)
from contacts.services.audit import audit_record
from contacts.services.registry import ContactsError

# --- staff ---------------------------------------------------------------------------------------


@transaction.atomic
def staff_create(
    *,
    organization: Organization,
    name: str,
    role: Role,
    store: Store | None = None,
    username: str | None = None,
    password: str | None = None,
    wecom_userid: str = "",
    managed_stores: list[Store] | None = None,
) -> Staff:
    """Create a staff member, with a console login when ``username`` is given (role = Django group)."""
    user = None
    if username:
        user = get_user_model().objects.create_user(username=username, password=password)
        group, _created = Group.objects.get_or_create(name=role.value)
        user.groups.add(group)
    staff = Staff.objects.create(
        organization=organization, name=name, store=store, user=user, wecom_userid=wecom_userid
    )
    if managed_stores:
        staff.managed_stores.set(managed_stores)
    return staff


@transaction.atomic
def staff_set_role(*, staff: Staff, role: Role, by: Staff | None = None) -> None:
    if staff.user is None:
        raise ValueError(_("该员工没有登录账号，无法设置角色"))
    before = sorted(staff.user.groups.filter(name__in=[r.value for r in Role]).values_list("name", flat=True))
    if before == [role.value]:
        return
    staff.user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]))
    group, _created = Group.objects.get_or_create(name=role.value)
    staff.user.groups.add(group)
    audit_record(
        organization_id=staff.organization_id,
        action=AuditAction.ROLE_CHANGE,
        target_type="staff",
        target_id=staff.pk,
        actor_staff_id=by.pk if by else None,
        actor_user_id=by.user_id if by else None,
        fields=["role"],
        details={"from": ",".join(before), "to": role.value},
    )


@transaction.atomic
def staff_depart(*, staff: Staff, at: datetime | None = None, disable_login: bool = True) -> bool:
    """Mark a staff member as departed (离职). Idempotent; returns whether anything changed.

    A departed member is no longer chosen to send (the planner reads ``is_active``) and is no longer
    offered in follower pickers; with ``disable_login`` their console login is switched off too.
    Their follows stay: WeCom keeps a departed member's customers until they are handed over
    (离职继承).
    """
    updated = Staff.objects.filter(pk=staff.pk, is_active=True).update(
        is_active=False, departed_at=at or timezone.now()
    )
    if updated and disable_login and staff.user_id:
        get_user_model().objects.filter(pk=staff.user_id).update(is_active=False)
    staff.refresh_from_db(fields=["is_active", "departed_at"])
    return bool(updated)


@transaction.atomic
def staff_return(*, staff: Staff) -> bool:
    """Undo a departure (the member is active in WeCom again). Idempotent; returns whether it changed."""
    updated = Staff.objects.filter(pk=staff.pk, is_active=False).update(is_active=True, departed_at=None)
    if updated and staff.user_id:
        get_user_model().objects.filter(pk=staff.user_id).update(is_active=True)
    staff.refresh_from_db(fields=["is_active", "departed_at"])
    return bool(updated)


@transaction.atomic
def staff_login_user(*, staff: Staff) -> Any:
    """The console user of a staff member signing in through WeCom (网页授权), created on first use.

    A member WeCom vouches for but who has no console login yet gets one with the store-staff role
    (the least: their own store's customers) and no password; an operator can raise the role. A
    departed member gets none.
    """
    staff = Staff.objects.select_for_update(of=("self",)).select_related("user").get(pk=staff.pk)
    if not staff.is_active:
        raise ContactsError(_("该员工已离职，不能登录"))
    if staff.user is not None:
        if not staff.user.is_active:
            raise ContactsError(_("该员工的登录账号已停用，请联系管理员"))
        return staff.user
    user_model = get_user_model()
    username = f"wecom-{staff.organization_id}-{staff.wecom_userid}"[:150]
    user = user_model.objects.create_user(username=username, password=None)
    group, _created = Group.objects.get_or_create(name=Role.STORE_STAFF.value)
    user.groups.add(group)
    Staff.objects.filter(pk=staff.pk).update(user=user)
    return user
