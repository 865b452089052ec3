"""Writes to the customer base. The only way to change contacts models (STYLE.md "services")."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction

from contacts.models import Organization, Role, Staff, Store


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
        group, _ = Group.objects.get_or_create(name=role.value)
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
        raise ValueError("该员工没有登录账号，无法设置角色")
    staff.user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]))
    group, _ = Group.objects.get_or_create(name=role.value)
    staff.user.groups.add(group)


def customer_tag_ids_rebuild(*, organization_id: int) -> int:
    """Recompute ``Customer.tag_ids`` from the assignment table for a whole organization.

    Set-based; used after bulk loads and by the consistency check. Returns the rows changed.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE contacts_customer c
               SET tag_ids = COALESCE(sub.ids, '{}')
              FROM contacts_customer c2
              LEFT JOIN (
                    SELECT customer_id, array_agg(tag_id::int ORDER BY tag_id) AS ids
                      FROM contacts_customertag
                     WHERE organization_id = %s
                  GROUP BY customer_id
              ) sub ON sub.customer_id = c2.id
             WHERE c.id = c2.id
               AND c2.organization_id = %s
               AND c.tag_ids IS DISTINCT FROM COALESCE(sub.ids, '{}')
            """,
            [organization_id, organization_id],
        )
        return cursor.rowcount
