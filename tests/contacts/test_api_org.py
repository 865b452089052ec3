"""/api/v1/stores/ and /api/v1/staff/: the settings pages' doors (operators only), scoped, audited,
refused input a 400 naming the field with nothing written."""

from __future__ import annotations

from django.test import Client

from contacts.models import AuditAction, AuditEntry, Role, Store
from contacts.services.organization import api_token_create
from tests.factories import StaffFactory, UserFactory


def _json(client: Client, method: str, path: str, body: dict | None = None):
    return getattr(client, method)(path, body or {}, content_type="application/json")


def test_operator_lists_filters_and_reads_stores(world):
    world.store_b.is_active = False
    world.store_b.save()
    op = world.client_for(world.operator)
    body = op.get("/api/v1/stores/").json()
    assert [s["code"] for s in body["results"]] == ["A", "B"] and body["count"] == 2
    store_a = body["results"][0]
    assert store_a["staff_count"] == 3  # manager, clerk and the member without a role
    assert [s["code"] for s in op.get("/api/v1/stores/", {"status": "closed"}).json()["results"]] == ["B"]
    assert [s["code"] for s in op.get("/api/v1/stores/", {"q": "A店"}).json()["results"]] == ["A"]
    assert op.get(f"/api/v1/stores/{world.store_a.pk}/").json()["name"] == "A店"
    # Another organization's store does not exist for this operator.
    assert op.get(f"/api/v1/stores/{world.other_store.pk}/").status_code == 404
    assert op.get("/api/v1/stores/", {"status": "gone"}).status_code == 400


def test_only_operators_may_use_the_store_api_as_on_the_settings_page(world):
    # Reading the list is open to every role, within their stores (an integrator maps codes to ids).
    for staff in (world.manager, world.store_staff):
        listed = world.client_for(staff).get("/api/v1/stores/")
        assert [s["code"] for s in listed.json()["results"]] == ["A"]
    assert world.client_for(world.no_role).get("/api/v1/stores/").status_code == 403
    for staff in (world.manager, world.store_staff, world.no_role):
        client = world.client_for(staff)
        assert client.get(f"/api/v1/stores/{world.store_a.pk}/").status_code == 403
        assert _json(client, "post", "/api/v1/stores/", {"code": "C", "name": "C店"}).status_code == 403
        assert world.client_for(world.manager).get("/settings/stores/").status_code == 403
    outsider = world.client_for(world.outsider)
    assert outsider.get(f"/api/v1/stores/{world.store_a.pk}/").status_code == 404
    assert _json(outsider, "post", f"/api/v1/stores/{world.store_a.pk}/close/").status_code == 404
    assert [s["code"] for s in outsider.get("/api/v1/stores/").json()["results"]] == ["X"]
    assert not Store.objects.filter(code="C").exists()


def test_create_edit_close_and_reopen_a_store_audited(world):
    op = world.client_for(world.operator)
    resp = _json(op, "post", "/api/v1/stores/", {"code": "C1", "name": "C店", "city": "上海"})
    assert resp.status_code == 201
    store = Store.objects.get(pk=resp.json()["id"])
    assert store.organization_id == world.org.pk and store.city == "上海"
    resp = _json(op, "patch", f"/api/v1/stores/{store.pk}/", {"address": "南京西路 1 号"})
    assert resp.status_code == 200 and resp.json()["address"] == "南京西路 1 号" and resp.json()["name"] == "C店"
    assert _json(op, "post", f"/api/v1/stores/{store.pk}/close/").json()["is_active"] is False
    assert _json(op, "post", f"/api/v1/stores/{store.pk}/reopen/").json()["is_active"] is True
    actions = list(AuditEntry.objects.filter(target_type="store", target_id=store.pk).values_list("action", flat=True))
    assert sorted(actions) == sorted(
        [AuditAction.STORE_CREATE, AuditAction.STORE_UPDATE, AuditAction.STORE_CLOSE, AuditAction.STORE_REOPEN]
    )


def test_bad_store_input_is_a_400_naming_the_field_and_writes_nothing(world):
    op = world.client_for(world.operator)
    resp = _json(op, "post", "/api/v1/stores/", {"name": "无编码"})
    assert resp.status_code == 400 and "code" in resp.json()
    resp = _json(op, "post", "/api/v1/stores/", {"code": "X" * 51, "name": "长编码"})
    assert resp.status_code == 400 and "code" in resp.json()
    # A code taken in this brand: the service's refusal, as on the page.
    resp = _json(op, "post", "/api/v1/stores/", {"code": "A", "name": "重复"})
    assert resp.status_code == 400 and "A" in resp.json()["detail"]
    resp = _json(op, "patch", f"/api/v1/stores/{world.store_b.pk}/", {"code": "A"})
    assert resp.status_code == 400
    assert Store.objects.filter(organization=world.org).count() == 2
    assert Store.objects.get(pk=world.store_b.pk).code == "B"
    # The outsider's brand may reuse the code: codes are unique per brand.
    outsider = world.client_for(world.outsider)
    assert _json(outsider, "post", "/api/v1/stores/", {"code": "A", "name": "对手A"}).status_code == 201


def test_operator_lists_staff_with_role_and_login_never_a_secret(world):
    op = world.client_for(world.operator)
    body = op.get("/api/v1/staff/").json()
    names = {s["name"]: s for s in body["results"]}
    assert set(names) == {"op", "mgr", "clerk", "norole"}  # not the outsider
    assert names["mgr"]["role"] == "manager" and names["mgr"]["role_label"] == "店长/经理"
    assert names["norole"]["role"] is None and names["clerk"]["store"] == {"id": world.store_a.pk, "name": "A店"}
    assert all("password" not in key for s in body["results"] for key in s)
    assert [s["name"] for s in op.get("/api/v1/staff/", {"role": "store_staff"}).json()["results"]] == ["clerk"]
    assert {s["name"] for s in op.get("/api/v1/staff/", {"store": world.store_a.pk}).json()["results"]} == {
        "mgr",
        "clerk",
        "norole",
    }
    assert op.get("/api/v1/staff/", {"store": "abc"}).status_code == 400
    assert op.get("/api/v1/staff/", {"role": "boss"}).status_code == 400
    assert op.get(f"/api/v1/staff/{world.outsider.pk}/").status_code == 404


def test_staff_api_is_for_operators_only(world):
    for staff in (world.manager, world.store_staff):
        client = world.client_for(staff)
        assert client.get("/api/v1/staff/").status_code == 403
        assert _json(client, "patch", f"/api/v1/staff/{world.store_staff.pk}/", {"role": "manager"}).status_code == 403
    assert world.client_for(world.outsider).get(f"/api/v1/staff/{world.manager.pk}/").status_code == 404
    assert world.store_staff.user.groups.filter(name=Role.STORE_STAFF).exists()


def test_operator_changes_role_and_stores_in_one_patch(world):
    op = world.client_for(world.operator)
    resp = _json(
        op,
        "patch",
        f"/api/v1/staff/{world.store_staff.pk}/",
        {"role": "manager", "store": world.store_b.pk, "managed_stores": [world.store_a.pk]},
    )
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert body["role"] == "manager" and body["store"]["id"] == world.store_b.pk
    assert body["managed_store_ids"] == [world.store_a.pk]
    actions = set(AuditEntry.objects.filter(target_id=world.store_staff.pk).values_list("action", flat=True))
    assert {AuditAction.ROLE_CHANGE, AuditAction.STAFF_UPDATE} <= actions


def test_refused_staff_changes_are_400s_naming_the_field_and_change_nothing(world):
    op = world.client_for(world.operator)
    url = f"/api/v1/staff/{world.store_staff.pk}/"
    resp = _json(op, "patch", url, {"store": world.other_store.pk})
    assert resp.status_code == 400 and "store" in resp.json()
    resp = _json(op, "patch", url, {"managed_stores": [world.store_a.pk, world.other_store.pk]})
    assert resp.status_code == 400 and "managed_stores" in resp.json()
    assert _json(op, "patch", url, {"role": "boss"}).status_code == 400
    # One's own role: refused, and the store change sent with it is not applied either.
    resp = _json(op, "patch", f"/api/v1/staff/{world.operator.pk}/", {"role": "manager", "store": world.store_a.pk})
    assert resp.status_code == 400 and "role" in resp.json()
    world.operator.refresh_from_db()
    assert world.operator.store_id is None and world.operator.user.groups.filter(name=Role.OPERATOR).exists()
    # A member without a login has no role to set.
    wecom_only = StaffFactory(organization=world.org, store=world.store_a, user=None)
    resp = _json(op, "patch", f"/api/v1/staff/{wecom_only.pk}/", {"role": "manager"})
    assert resp.status_code == 400 and "role" in resp.json()
    world.store_staff.refresh_from_db()
    assert world.store_staff.store_id == world.store_a.pk


def test_an_api_token_reads_the_list_and_runs_an_action(world):
    _row, secret = api_token_create(staff=world.operator, by=world.operator, name="POS", days=30)
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Token {secret}"}
    assert client.get("/api/v1/stores/", **auth).json()["count"] == 2
    resp = client.post(f"/api/v1/stores/{world.store_b.pk}/close/", **auth)
    assert resp.status_code == 200 and resp.json()["is_active"] is False
    # A token acting as a manager carries the manager's role: refused as on the page.
    manager_user = UserFactory(username="mgr2", role=Role.MANAGER)
    manager = StaffFactory(organization=world.org, store=world.store_a, user=manager_user)
    _row, manager_secret = api_token_create(staff=manager, by=world.operator, name="BI", days=30)
    manager_auth = {"HTTP_AUTHORIZATION": f"Token {manager_secret}"}
    assert client.get(f"/api/v1/stores/{world.store_b.pk}/", **manager_auth).status_code == 403
    assert [s["id"] for s in client.get("/api/v1/stores/", **manager_auth).json()["results"]] == [world.store_a.pk]


def _queries(client: Client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_list_queries_do_not_grow_with_the_rows(world):
    op = world.client_for(world.operator)
    base = {path: _queries(op, path) for path in ("/api/v1/stores/", "/api/v1/staff/")}
    for i in range(4):
        user = UserFactory(username=f"extra{i}", role=Role.MANAGER)
        member = StaffFactory(organization=world.org, store=world.store_a, user=user)
        member.managed_stores.add(world.store_b)
        Store.objects.create(organization=world.org, code=f"N{i}", name=f"新店{i}")
    assert {path: _queries(op, path) for path in base} == base
