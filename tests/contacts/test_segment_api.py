"""Preview and save agree on unknown ids and on ``expression: null``; recount on demand and nightly;
segment members and expression search paged with a snapshot cursor (scoped); the store list."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from contacts import services
from contacts.models import Customer, Segment, Tag
from contacts.tasks import segments_recount_all_task
from scrm.schedule import BEAT_SCHEDULE
from tests.conftest import World
from tests.factories import CustomerFactory, TagFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args: Any) -> str:
    return reverse(f"contacts:{name}", args=args)


def post(client: Any, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def skin(world: World) -> Tag:
    tag = TagFactory(group__organization=world.org, name="护肤")
    for store, n in ((world.store_a, 3), (world.store_b, 2)):
        for _ in range(n):
            services.customer_tag_add(customer=CustomerFactory(organization=world.org, home_store=store), tag=tag)
    CustomerFactory(organization=world.org, home_store=world.store_a)  # untagged
    return tag


UNKNOWN = [
    ({"tags": {"none": [987654]}}, "标签 [987654]"),
    ({"tags": {"all": [987654]}}, "标签 [987654]"),
    ({"stores": [987654]}, "门店 [987654]"),
    ({"groups": [987654]}, "客户群 [987654]"),
    ({"follower_staff": [987654]}, "跟进员工 [987654]"),
    ({"custom": {"nope": {"set": True}}}, "自定义字段 nope"),
]


@pytest.mark.parametrize(("expression", "named"), UNKNOWN)
def test_preview_and_save_refuse_the_same_unknown_ids(world: World, expression: Any, named: str) -> None:
    client = world.client_for(world.operator)
    save = post(client, url("api-segment-list"), {"name": "未知", "expression": expression})
    preview = post(client, url("api-segment-preview"), {"expression": expression})
    console = post(client, url("segment_preview"), {"expression": expression})
    assert save.status_code == preview.status_code == console.status_code == 400
    assert named in save.json()["detail"] and named in preview.json()["detail"] and named in console.json()["detail"]
    assert save.json()["detail"] == preview.json()["detail"] == console.json()["detail"]
    assert not Segment.objects.filter(name="未知").exists()


def test_another_brands_tag_is_unknown_to_preview_too(world: World, skin: Tag) -> None:
    rival = TagFactory(group__organization=world.other_org)
    response = post(
        world.client_for(world.operator), url("api-segment-preview"), {"expression": {"tags": {"any": [rival.pk]}}}
    )
    assert response.status_code == 400 and str(rival.pk) in response.json()["detail"]


def test_null_expression_is_everyone_for_preview_and_save(world: World, skin: Tag) -> None:
    client = world.client_for(world.operator)
    preview = post(client, url("api-segment-preview"), {"expression": None, "limit": 0})
    assert preview.status_code == 200 and preview.json()["count"] == 6
    assert post(client, url("segment_preview"), {"expression": None}).json()["count"] == 6
    saved = post(client, url("api-segment-list"), {"name": "全部", "expression": None})
    assert saved.status_code == 201 and saved.json()["expression"] == {} and saved.json()["last_count"] == 6
    # A manager's preview is their stores; the saved figure is the brand's.
    manager = world.client_for(world.manager)
    assert post(manager, url("api-segment-preview"), {"expression": None}).json()["count"] == 4
    patched = manager.patch(
        url("api-segment-detail", saved.json()["id"]), {"expression": None}, content_type="application/json"
    )
    assert patched.status_code == 200 and patched.json()["last_count"] == 6


def test_recount_on_demand_and_nightly(world: World, skin: Tag) -> None:
    segment = services.segment_save(
        actor=_actor(world), name="护肤", expression={"tags": {"all": [skin.pk]}}, description=""
    )
    assert segment.last_count == 5
    services.customer_tag_add(customer=CustomerFactory(organization=world.org), tag=skin)
    client = world.client_for(world.manager)
    response = client.post(url("api-segment-recount", segment.pk))
    assert response.status_code == 200 and response.json()["last_count"] == 6
    assert response.json()["last_counted_at"]
    assert world.client_for(world.outsider).post(url("api-segment-recount", segment.pk)).status_code == 404
    assert world.client_for(world.store_staff).post(url("api-segment-recount", segment.pk)).status_code == 403

    services.customer_tag_add(customer=CustomerFactory(organization=world.org), tag=skin)
    page = client.post(url("segment_recount", segment.pk), follow=True).content.decode()
    assert "已重新统计：全品牌 7 位客户" in page and "统计于" in page

    other = Segment.objects.create(organization=world.org, name="全部", expression={})
    rival = Segment.objects.create(organization=world.other_org, name="对手", expression={})
    CustomerFactory(organization=world.org)
    segments_recount_all_task()
    other.refresh_from_db()
    rival.refresh_from_db()
    segment.refresh_from_db()
    assert other.last_count == Customer.objects.filter(organization=world.org).count() == 9
    assert segment.last_count == 7 and rival.last_count == 0
    assert BEAT_SCHEDULE["contacts-segments-recount"]["task"] == "contacts.segments.recount_all"


def _actor(world: World) -> Any:
    from contacts.access import actor_for_user

    return actor_for_user(world.operator.user)


def _walk(client: Any, first: str, limit: int, during: Any = None) -> list[int]:
    seen: list[int] = []
    response = client.get(first, {"limit": limit})
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        if during:
            during()
        if not body["next"]:
            assert body["next_cursor"] is None
            return seen
        response = client.get(body["next"])


def test_members_pages_return_every_member_once_while_customers_are_added(world: World, skin: Tag) -> None:
    segment = Segment.objects.create(organization=world.org, name="护肤", expression={"tags": {"all": [skin.pk]}})
    members = set(Customer.objects.filter(tag_ids__contains=[skin.pk]).values_list("pk", flat=True))

    def add_matching_customer() -> None:
        services.customer_tag_add(customer=CustomerFactory(organization=world.org, home_store=world.store_a), tag=skin)

    seen = _walk(world.client_for(world.operator), url("api-segment-members", segment.pk), 2, add_matching_customer)
    assert len(seen) == len(set(seen)) and set(seen) == members  # snapshot: the 3 new ones are not in this walk
    assert Customer.objects.filter(tag_ids__contains=[skin.pk]).count() == len(members) + 3

    # A manager pages through their own stores only.
    mine = set(
        Customer.objects.filter(tag_ids__contains=[skin.pk], home_store=world.store_a).values_list("pk", flat=True)
    )
    seen = _walk(world.client_for(world.manager), url("api-segment-members", segment.pk), 2)
    assert sorted(seen) == seen and set(seen) == mine
    assert world.client_for(world.store_staff).get(url("api-segment-members", segment.pk)).status_code == 403
    assert world.client_for(world.outsider).get(url("api-segment-members", segment.pk)).status_code == 404
    client = world.client_for(world.operator)
    assert client.get(url("api-segment-members", segment.pk), {"limit": 0}).status_code == 400
    bad = client.get(url("api-segment-members", segment.pk), {"cursor": "forged"})
    assert bad.status_code == 400 and "cursor" in bad.json()


def test_customer_search_by_expression_or_segment_with_a_cursor(world: World, skin: Tag) -> None:
    segment = Segment.objects.create(organization=world.org, name="护肤", expression={"tags": {"all": [skin.pk]}})
    staff = world.client_for(world.store_staff)  # store staff: their store only
    body: dict[str, Any] = {"expression": {"tags": {"all": [skin.pk]}}, "limit": 2}
    first = post(staff, url("api-customer-search"), body).json()
    assert len(first["results"]) == 2 and first["next_cursor"]
    rest = post(staff, url("api-customer-search"), {**body, "cursor": first["next_cursor"]}).json()
    found = [r["id"] for r in first["results"] + rest["results"]]
    assert set(found) == set(
        Customer.objects.filter(tag_ids__contains=[skin.pk], home_store=world.store_a).values_list("pk", flat=True)
    )
    assert rest["next_cursor"] is None and len(found) == 3
    # A cursor belongs to its rule.
    other = post(staff, url("api-customer-search"), {"expression": {}, "cursor": first["next_cursor"]})
    assert other.status_code == 400 and "cursor" in other.json()
    by_segment = post(world.client_for(world.operator), url("api-customer-search"), {"segment": segment.pk})
    assert len(by_segment.json()["results"]) == 5
    unknown = post(staff, url("api-customer-search"), {"expression": {"tags": {"all": [987654]}}})
    assert unknown.status_code == 400 and "987654" in unknown.json()["detail"]
    assert post(staff, url("api-customer-search"), {"expression": {}, "segment": segment.pk}).status_code == 400
    assert (
        post(world.client_for(world.outsider), url("api-customer-search"), {"segment": segment.pk}).status_code == 400
    )


def test_customer_list_filters_by_segment(world: World, skin: Tag) -> None:
    segment = Segment.objects.create(organization=world.org, name="护肤", expression={"tags": {"all": [skin.pk]}})
    operator = world.client_for(world.operator).get(url("api-customer-list"), {"segment": segment.pk}).json()
    assert operator["count"] == 5
    manager = world.client_for(world.manager).get(url("api-customer-list"), {"segment": segment.pk}).json()
    assert manager["count"] == 3
    refused = world.client_for(world.outsider).get(url("api-customer-list"), {"segment": segment.pk})
    assert refused.status_code == 400 and "segment" in refused.json()


def test_store_list_is_scoped_paginated_and_filterable_by_code(world: World) -> None:
    operator = world.client_for(world.operator).get(url("api-store-list")).json()
    assert {s["code"] for s in operator["results"]} == {"A", "B"} and operator["count"] == 2
    assert {"id", "code", "name", "city"} <= set(operator["results"][0])
    by_code = world.client_for(world.operator).get(url("api-store-list"), {"code": "B"}).json()
    assert [s["id"] for s in by_code["results"]] == [world.store_b.pk]
    staff = world.client_for(world.store_staff).get(url("api-store-list")).json()
    assert [s["id"] for s in staff["results"]] == [world.store_a.pk]
    assert world.client_for(world.store_staff).get(url("api-store-list"), {"code": "B"}).json()["count"] == 0
    created = post(world.client_for(world.manager), url("api-store-list"), {"code": "C", "name": "C店"})
    assert created.status_code == 403
