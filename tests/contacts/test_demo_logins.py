"""Every demo staff member has a console login and a role (issue 13); the README's logins still work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from contacts.access import actor_for_user
from contacts.demo import DEMO_PASSWORD
from contacts.models import Organization, Role, Staff

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.django_db
def test_every_demo_staff_member_can_sign_in_with_a_role(db: Any) -> None:
    call_command("demo_load", customers=200, seed=20261123, verbosity=0)
    demo = Organization.objects.get(slug="demo")
    staff = list(Staff.objects.filter(organization=demo).select_related("user", "store"))
    assert len(staff) > 20
    assert all(s.user_id for s in staff), [s.name for s in staff if not s.user_id]

    roles: dict[int, list[Role]] = {}
    for s in staff:
        actor = actor_for_user(s.user)
        assert actor is not None, s.user.username
        if s.store_id:
            roles.setdefault(s.store_id, []).append(actor.role)
    # Every store has exactly one 店长 and at least two 导购.
    for store_id, store_roles in roles.items():
        assert store_roles.count(Role.MANAGER) == 1, (store_id, store_roles)
        assert store_roles.count(Role.STORE_STAFF) >= 2, (store_id, store_roles)

    member = next(s for s in staff if s.user.username not in ("operator", "manager", "staff"))
    assert re.fullmatch(r"[a-z]{2}\d{3}-\d{2}", member.user.username)
    client = Client()
    assert client.post("/login/", {"username": member.user.username, "password": DEMO_PASSWORD}).status_code == 302
    assert client.get("/").status_code == 200

    # The settings page shows each login and its role, not "—".
    operator = Staff.objects.get(organization=demo, user__username="operator")
    page = Client()
    page.force_login(operator.user)
    html = page.get(f"/settings/staff/?q={member.user.username}").content.decode()
    assert member.user.username in html
    row = re.search(rf"<tr>\s*<td>{member.name}</td>.*?</tr>", html, re.S)
    assert row is not None and ("店员/导购" in row.group(0) or "店长/经理" in row.group(0))


@pytest.mark.django_db
def test_the_readme_logins_sign_in_with_their_roles(db: Any) -> None:
    call_command("demo_load", customers=100, seed=7, verbosity=0)
    table = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (\S+) ", README.read_text(), re.M)
    assert {row[0] for row in table} >= {"operator", "manager", "staff"}
    expected = {"运营": Role.OPERATOR, "店长": Role.MANAGER, "导购": Role.STORE_STAFF}
    for username, password, role_label in table:
        if role_label not in expected:
            continue
        client = Client()
        assert client.post("/login/", {"username": username, "password": password}).status_code == 302, username
        staff = Staff.objects.get(user__username=username)
        actor = actor_for_user(staff.user)
        assert actor is not None and actor.role == expected[role_label], username
