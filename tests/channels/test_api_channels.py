"""/api/v1/channel-accounts/, /api/v1/contact-ways/ and /api/v1/leads/: the console pages' roles,
scoped look-ups (ids of another brand or store are refused), 活码 pushed to the WeCom sandbox through
the console's service, no credential ever in a response."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from channels.models import ContactWay, Lead, LeadSource
from channels.wecom.contact_ways import contact_way_save
from contacts.services.organization import api_token_create
from tests.factories import CustomerFactory, StaffFactory, TagFactory

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _json(client: Client, method: str, path: str, body: dict | None = None):
    return getattr(client, method)(path, body or {}, content_type="application/json")


@pytest.fixture
def account(db, wecom_sandbox, world):
    wecom_sandbox.add_member("guide_a", "导购A")
    wecom_sandbox.add_member("guide_b", "导购B")
    return wecom_sandbox.connect(world.org, default_store=world.store_a)


@pytest.fixture
def guide(world):
    return StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_a", name="导购A")


@pytest.fixture
def guide_b(world):
    return StaffFactory(organization=world.org, store=world.store_b, wecom_userid="guide_b", name="导购B")


# --- channel accounts ----------------------------------------------------------------------------


def test_operator_reads_accounts_without_any_credential(account, world, wecom_sandbox):
    op = world.client_for(world.operator)
    resp = op.get("/api/v1/channel-accounts/")
    assert resp.status_code == 200 and resp.json()["count"] == 1
    row = resp.json()["results"][0]
    assert row["platform"] == "wecom" and row["platform_label"] == "企业微信" and row["has_credentials"] is True
    assert row["default_store"] == {"id": world.store_a.pk, "name": "A店"}
    detail = op.get(f"/api/v1/channel-accounts/{account.pk}/")
    text = detail.content.decode()
    for secret in (wecom_sandbox.secret, wecom_sandbox.token, wecom_sandbox.aes_key, account.credentials_encrypted):
        assert secret not in text and secret not in resp.content.decode()
    assert "credentials" not in detail.json()
    assert op.get("/api/v1/channel-accounts/", {"platform": "douyin"}).json()["count"] == 0
    assert op.get("/api/v1/channel-accounts/", {"platform": "nope"}).status_code == 400


def test_accounts_are_for_operators_only_and_hidden_from_other_brands(account, world):
    for staff in (world.manager, world.store_staff):
        assert world.client_for(staff).get("/api/v1/channel-accounts/").status_code == 403
        assert world.client_for(staff).get(f"/api/v1/channel-accounts/{account.pk}/").status_code == 403
    outsider = world.client_for(world.outsider)
    assert outsider.get(f"/api/v1/channel-accounts/{account.pk}/").status_code == 404
    assert outsider.get("/api/v1/channel-accounts/").json()["count"] == 0


# --- 活码 ------------------------------------------------------------------------------------------


def test_operator_creates_edits_and_disables_a_code_mirrored_to_wecom(account, guide, guide_b, world, wecom_sandbox):
    tag = TagFactory(group__organization=world.org, name="扫码")
    op = world.client_for(world.operator)
    resp = _json(
        op,
        "post",
        "/api/v1/contact-ways/",
        {
            "name": "抖音投放页",
            "state": "dy_ad_42",
            "channel": "douyin",
            "store": world.store_a.pk,
            "staff": [guide.pk],
            "tags": [tag.pk],
            "welcome_text": "你好",
        },
    )
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    way = ContactWay.objects.get(pk=body["id"])
    assert body["kind"] == "contact" and body["channel_label"] == "抖音" and body["sync_error"] == ""
    assert way.config_id in wecom_sandbox.snapshot()["contact_ways"]
    assert wecom_sandbox.snapshot()["contact_ways"][way.config_id]["user"] == ["guide_a"]
    assert body["staff"] == [{"id": guide.pk, "name": "导购A"}] and body["tags"] == [{"id": tag.pk, "name": "扫码"}]
    # A partial edit: only the name changes; WeCom gets it as the code's remark, the rest stays.
    resp = _json(op, "patch", f"/api/v1/contact-ways/{way.pk}/", {"name": "抖音投放页2"})
    assert resp.status_code == 200 and resp.json()["sync_error"] == "", resp.json()
    assert wecom_sandbox.snapshot()["contact_ways"][way.config_id]["remark"] == "抖音投放页2"
    way.refresh_from_db()
    assert way.name == "抖音投放页2" and way.state == "dy_ad_42" and way.welcome_text == "你好"
    # WeCom refuses a second member on a 单人 code: saved here, the refusal shown as on the page.
    resp = _json(op, "patch", f"/api/v1/contact-ways/{way.pk}/", {"staff": [guide.pk, guide_b.pk]})
    assert resp.status_code == 200 and "40058" in resp.json()["sync_error"]
    assert wecom_sandbox.snapshot()["contact_ways"][way.config_id]["user"] == ["guide_a"]
    assert [t.pk for t in way.tags.all()] == [tag.pk]
    assert op.get(f"/api/v1/contact-ways/{way.pk}/").json()["store"]["id"] == world.store_a.pk
    assert op.delete(f"/api/v1/contact-ways/{way.pk}/").status_code == 204
    assert wecom_sandbox.snapshot()["contact_ways"] == {}
    way.refresh_from_db()
    assert way.is_active is False
    assert op.get("/api/v1/contact-ways/", {"is_active": "false"}).json()["count"] == 1


def test_managers_read_their_stores_codes_but_may_not_change_them(account, guide, guide_b, world):
    mine = contact_way_save(account=account, name="A店前台", store=world.store_a, staff=[guide])
    other = contact_way_save(account=account, name="B店门口", store=world.store_b, staff=[guide_b])
    manager = world.client_for(world.manager)
    listed = manager.get("/api/v1/contact-ways/").json()
    assert [w["name"] for w in listed["results"]] == ["A店前台"]
    assert manager.get(f"/api/v1/contact-ways/{mine.pk}/").status_code == 200
    assert manager.get(f"/api/v1/contact-ways/{other.pk}/").status_code == 404
    assert _json(manager, "patch", f"/api/v1/contact-ways/{mine.pk}/", {"name": "改名"}).status_code == 403
    assert manager.delete(f"/api/v1/contact-ways/{mine.pk}/").status_code == 403
    assert _json(manager, "post", "/api/v1/contact-ways/", {"name": "x", "staff": [guide.pk]}).status_code == 403
    assert world.client_for(world.store_staff).get("/api/v1/contact-ways/").status_code == 403
    outsider = world.client_for(world.outsider)
    assert outsider.get(f"/api/v1/contact-ways/{mine.pk}/").status_code == 404
    assert outsider.delete(f"/api/v1/contact-ways/{mine.pk}/").status_code == 404
    mine.refresh_from_db()
    assert mine.name == "A店前台" and mine.is_active


def test_bad_or_foreign_code_input_is_a_400_naming_the_field_and_writes_nothing(account, guide, world):
    rival_staff = StaffFactory(organization=world.other_org, wecom_userid="guide_a", name="对手导购")
    rival_tag = TagFactory(group__organization=world.other_org, name="对手标签")
    op = world.client_for(world.operator)
    cases = [
        ({"staff": [guide.pk]}, "name"),
        ({"name": "x", "staff": [rival_staff.pk]}, "staff"),
        ({"name": "x", "staff": [guide.pk], "tags": [rival_tag.pk]}, "tags"),
        ({"name": "x", "staff": [guide.pk], "store": world.other_store.pk}, "store"),
        ({"name": "x", "staff": [guide.pk], "channel": "carrier_pigeon"}, "channel"),
        ({"name": "x", "staff": [guide.pk], "daily_cap": 0}, "daily_cap"),
        ({"name": "x", "staff": [guide.pk], "daily_cap": 5}, "backup_staff"),
        ({"name": "x", "staff": "abc"}, "staff"),
    ]
    for body, field in cases:
        resp = _json(op, "post", "/api/v1/contact-ways/", body)
        assert resp.status_code == 400 and field in resp.json(), (body, resp.json())
    # The service's own refusal (no staff for a 渠道活码): a 400 that says what to fix.
    resp = _json(op, "post", "/api/v1/contact-ways/", {"name": "无人接待"})
    assert resp.status_code == 400 and "接待员工" in resp.json()["detail"]
    assert not ContactWay.objects.exists()


def test_a_manager_cannot_see_another_stores_code_through_a_filter(account, guide, guide_b, world):
    contact_way_save(account=account, name="B店门口", store=world.store_b, staff=[guide_b])
    manager = world.client_for(world.manager)
    assert manager.get("/api/v1/contact-ways/", {"store": world.store_b.pk}).json()["count"] == 0


# --- leads ---------------------------------------------------------------------------------------


def _lead(world, store, source, ext, when, customer=None, name="张女士"):
    return Lead.objects.create(
        organization=world.org if store is None or store.organization_id == world.org.pk else world.other_org,
        source=source,
        external_id=ext,
        store=store,
        customer=customer,
        name=name,
        occurred_at=when,
    )


@pytest.fixture
def leads(world):
    buyer = CustomerFactory(organization=world.org, home_store=world.store_a)
    return {
        "a_ocean": _lead(
            world, world.store_a, LeadSource.OCEAN_ENGINE, "o1", dt.datetime(2026, 11, 2, 9, tzinfo=SHANGHAI), buyer
        ),
        "a_form": _lead(
            world, world.store_a, LeadSource.FORM, "f1", dt.datetime(2026, 11, 20, 23, 30, tzinfo=SHANGHAI)
        ),
        "b_ocean": _lead(
            world, world.store_b, LeadSource.OCEAN_ENGINE, "o2", dt.datetime(2026, 11, 5, tzinfo=SHANGHAI)
        ),
        "rival": _lead(world, world.other_store, LeadSource.FORM, "r1", dt.datetime(2026, 11, 6, tzinfo=SHANGHAI)),
    }


def test_operator_lists_and_filters_leads(leads, world):
    op = world.client_for(world.operator)
    body = op.get("/api/v1/leads/").json()
    assert [r["id"] for r in body["results"]] == [leads[k].pk for k in ("a_form", "b_ocean", "a_ocean")]
    first = body["results"][-1]
    assert (
        first["source_label"] == "巨量引擎广告线索" and first["converted"] is True and first["store"]["name"] == "A店"
    )

    def ids(**params):
        resp = op.get("/api/v1/leads/", params)
        assert resp.status_code == 200, resp.json()
        return {r["id"] for r in resp.json()["results"]}

    assert ids(source="ocean_engine") == {leads["a_ocean"].pk, leads["b_ocean"].pk}
    assert ids(status="converted") == {leads["a_ocean"].pk}
    assert ids(status="not_converted") == {leads["a_form"].pk, leads["b_ocean"].pk}
    assert ids(store=world.store_b.pk) == {leads["b_ocean"].pk}
    # Dates are Beijing days, both ends included (23:30 on the 20th counts for the 20th).
    assert ids(date_from="2026-11-05", date_to="2026-11-20") == {leads["a_form"].pk, leads["b_ocean"].pk}
    assert op.get(f"/api/v1/leads/{leads['a_ocean'].pk}/").json()["customer"] == leads["a_ocean"].customer_id
    assert op.get(f"/api/v1/leads/{leads['rival'].pk}/").status_code == 404


def test_bad_lead_filters_are_400s_naming_the_parameter(leads, world):
    op = world.client_for(world.operator)
    for params, field in (
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"source": "pigeon"}, "source"),
        ({"status": "maybe"}, "status"),
        ({"store": "x"}, "store"),
    ):
        resp = op.get("/api/v1/leads/", params)
        assert resp.status_code == 400 and field in resp.json(), params


def test_leads_follow_the_pages_roles_and_stores(leads, world):
    manager = world.client_for(world.manager)
    assert {r["id"] for r in manager.get("/api/v1/leads/").json()["results"]} == {
        leads["a_ocean"].pk,
        leads["a_form"].pk,
    }
    assert manager.get("/api/v1/leads/", {"store": world.store_b.pk}).json()["count"] == 0
    assert manager.get(f"/api/v1/leads/{leads['b_ocean'].pk}/").status_code == 404
    assert world.client_for(world.store_staff).get("/api/v1/leads/").status_code == 403
    assert world.client_for(world.store_staff).get("/channels/leads/").status_code == 403
    outsider = world.client_for(world.outsider)
    assert [r["id"] for r in outsider.get("/api/v1/leads/").json()["results"]] == [leads["rival"].pk]
    assert outsider.get(f"/api/v1/leads/{leads['a_ocean'].pk}/").status_code == 404


def test_an_api_token_lists_leads_and_disables_a_code(account, guide, leads, world, wecom_sandbox):
    _row, secret = api_token_create(staff=world.operator, by=world.operator, name="BI", days=30)
    auth = {"HTTP_AUTHORIZATION": f"Token {secret}"}
    assert Client().get("/api/v1/leads/", **auth).json()["count"] == 3
    way = contact_way_save(account=account, name="A店前台", store=world.store_a, staff=[guide])
    assert Client().delete(f"/api/v1/contact-ways/{way.pk}/", **auth).status_code == 204
    way.refresh_from_db()
    assert not way.is_active and wecom_sandbox.snapshot()["contact_ways"] == {}


def _queries(client: Client, path: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_list_queries_do_not_grow_with_the_rows(account, guide, leads, world):
    op = world.client_for(world.operator)
    tag = TagFactory(group__organization=world.org, name="扫码")
    paths = ("/api/v1/channel-accounts/", "/api/v1/contact-ways/", "/api/v1/leads/")
    contact_way_save(account=account, name="一号", store=world.store_a, staff=[guide], tags=[tag])
    base = {path: _queries(op, path) for path in paths}
    for i in range(3):
        contact_way_save(account=account, name=f"活码{i}", store=world.store_a, staff=[guide], tags=[tag])
        _lead(world, world.store_a, LeadSource.FORM, f"extra{i}", dt.datetime(2026, 11, 9, tzinfo=SHANGHAI))
    assert {path: _queries(op, path) for path in paths} == base
