"""Staff members and their roles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext as _

from contacts.models import (
    Organization,
    Role,
    Staff,
    Store,
)

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
def staff_set_role(*, staff: Staff, role: Role) -> None:
    if staff.user is None:
        raise ValueError(_("该员工没有登录账号，无法设置角色"))
    staff.user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]))
    group, _created = Group.objects.get_or_create(name=role.value)
    staff.user.groups.add(group)
