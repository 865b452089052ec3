"""The contacts REST API: filters, search, masking, tags, notes, catalogue, groups, segments, schema,
token auth and pinned query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from contacts import services
from contacts.models import Customer, CustomerTag, Note, Segment, Tag, TagChoice, TagGroup
from tests.contacts.factories import GroupMemberFactory, SingleTagGroupFactory
from tests.factories import CustomerFactory, CustomerGroupFactory, FollowFactory, TagFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args: Any) -> str:
    return reverse(f"contacts:{name}", args=args)


def ids(response: Any) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def data(world: Any) -> dict[str, Any]:
    hobby = TagFactory(group__organization=world.org, name="护肤")
    mine = CustomerFactory(
        organization=world.org, home_store=world.store_a, name="王芳", phone="13800138000", source_channel="douyin"
    )
    theirs = CustomerFactory(organization=world.org, home_store=world.store_b, name="李娜", phone="13900139000")
    services.customer_tag_add(customer=mine, tag=hobby)
    FollowFactory(customer=theirs, staff=world.operator, remark="VIP老客")
    return {"hobby": hobby, "mine": mine, "theirs": theirs}


def test_openapi_schema_generates(world: Any) -> None:
    response = world.client_for(world.operator).get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/customers/" in response.content and b"/api/v1/segments/preview/" in response.content


def test_customer_list_filters_and_search(world: Any, data: dict[str, Any]) -> None:
    client = world.client_for(world.operator)
    mine, theirs = data["mine"].pk, data["theirs"].pk
    assert ids(client.get(url("api-customer-list"))) == {mine, theirs}
    assert ids(client.get(url("api-customer-list"), {"store": world.store_b.pk})) == {theirs}
    assert ids(client.get(url("api-customer-list"), {"tag": data["hobby"].pk})) == {mine}
    assert ids(client.get(url("api-customer-list"), {"source_channel": "douyin"})) == {mine}
    assert ids(client.get(url("api-customer-list"), {"q": "王"})) == {mine}
    assert ids(client.get(url("api-customer-list"), {"q": "139 0013 9000"})) == {theirs}  # exact phone
    assert ids(client.get(url("api-customer-list"), {"q": "1390013"})) == set()  # never a partial phone
    assert ids(client.get(url("api-customer-list"), {"q": "VIP"})) == {theirs}  # follow remark
    services.customer_opt_out(customer=data["mine"], source="t")
    assert ids(client.get(url("api-customer-list"), {"consent": "opted_out"})) == {mine}
    assert client.get(url("api-customer-list"), {"source_channel": "nope"}).status_code == 400


def test_store_staff_sees_own_store_with_masked_phones(world: Any, data: dict[str, Any]) -> None:
    client = world.client_for(world.store_staff)
    rows = client.get(url("api-customer-list")).json()["results"]
    assert [(r["id"], r["phone"]) for r in rows] == [(data["mine"].pk, "138****8000")]
    assert rows[0]["tags"] == [{"id": data["hobby"].pk, "name": "护肤", "group_id": data["hobby"].group_id}]
    assert client.get(url("api-customer-detail", data["mine"].pk)).json()["phone"] == "138****8000"
    full = world.client_for(world.manager).get(url("api-customer-detail", data["mine"].pk)).json()
    assert full["phone"] == "13800138000"


def test_customer_list_query_count_does_not_grow_with_rows(
    world: Any, data: dict[str, Any], django_assert_num_queries: Any
) -> None:
    client = world.client_for(world.operator)
    client.get(url("api-customer-list"))  # warm the session
    with django_assert_num_queries(7):
        client.get(url("api-customer-list"))
    for _ in range(10):
        c = CustomerFactory(organization=world.org, home_store=world.store_a)
        services.customer_tag_add(customer=c, tag=data["hobby"])
    with django_assert_num_queries(7):
        response = client.get(url("api-customer-list"))
    assert response.json()["count"] == 12


def test_tag_and_untag_through_the_api_with_single_choice_swap(world: Any, data: dict[str, Any]) -> None:
    level = SingleTagGroupFactory(organization=world.org)
    silver, gold = TagFactory(group=level), TagFactory(group=level)
    client = world.client_for(world.store_staff)
    customer = data["mine"]
    assert client.post(url("api-customer-tag-add", customer.pk), {"tag": silver.pk}).json()["changed"] is True
    response = client.post(url("api-customer-tag-add", customer.pk), {"tag": gold.pk})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.tag_ids == sorted([data["hobby"].pk, gold.pk]) == response.json()["tag_ids"]
    response = client.delete(url("api-customer-tag-remove", customer.pk, gold.pk))
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.tag_ids == [data["hobby"].pk]
    foreign = TagFactory(group__organization=world.other_org)
    assert client.post(url("api-customer-tag-add", customer.pk), {"tag": foreign.pk}).status_code == 400
    assert not CustomerTag.objects.filter(tag=foreign).exists()


def test_notes_list_and_create(world: Any, data: dict[str, Any]) -> None:
    client = world.client_for(world.store_staff)
    customer = data["mine"]
    response = client.post(url("api-customer-notes", customer.pk), {"body": "下周到店试用"})
    assert response.status_code == 201
    note = Note.objects.get(customer=customer)
    assert note.author == world.store_staff and note.body == "下周到店试用"
    listed = client.get(url("api-customer-notes", customer.pk)).json()["results"]
    assert [n["body"] for n in listed] == ["下周到店试用"]
    assert client.post(url("api-customer-notes", customer.pk), {"body": "  "}).status_code == 400


def test_opt_out(world: Any, data: dict[str, Any]) -> None:
    response = world.client_for(world.store_staff).post(
        url("api-customer-opt-out", data["mine"].pk), {"source": "电话"}
    )
    assert response.status_code == 200
    data["mine"].refresh_from_db()
    assert data["mine"].opted_out_at is not None and data["mine"].opt_out_source == "电话"


def test_tag_catalogue_crud_for_operators(world: Any) -> None:
    client = world.client_for(world.operator)
    response = client.post(url("api-tag-group-list"), {"name": "会员等级", "choice": "single"})
    assert response.status_code == 201
    group = TagGroup.objects.get(pk=response.json()["id"])
    assert group.organization == world.org and group.choice == TagChoice.SINGLE
    response = client.post(url("api-tag-list"), {"group": group.pk, "name": "金卡"})
    assert response.status_code == 201
    tag = Tag.objects.get(pk=response.json()["id"])
    assert client.post(url("api-tag-list"), {"group": group.pk, "name": "金卡"}).status_code == 400
    assert (
        client.patch(url("api-tag-detail", tag.pk), {"name": "金卡会员"}, content_type="application/json").status_code
        == 200
    )
    tag.refresh_from_db()
    assert tag.name == "金卡会员"
    listed = client.get(url("api-tag-group-list")).json()
    assert [(g["name"], [t["name"] for t in g["tags"]]) for g in listed] == [("会员等级", ["金卡会员"])]
    customer = CustomerFactory(organization=world.org)
    services.customer_tag_add(customer=customer, tag=tag)
    assert client.delete(url("api-tag-group-detail", group.pk)).status_code == 204
    customer.refresh_from_db()
    assert customer.tag_ids == [] and not TagGroup.objects.filter(pk=group.pk).exists()


def test_customer_group_detail_lists_members(world: Any, data: dict[str, Any]) -> None:
    group = CustomerGroupFactory(organization=world.org, store=world.store_a, name="VIP 群")
    GroupMemberFactory(group=group, customer=data["mine"], name="王芳")
    client = world.client_for(world.store_staff)
    assert [g["id"] for g in client.get(url("api-customer-group-list")).json()["results"]] == [group.pk]
    detail = client.get(url("api-customer-group-detail", group.pk)).json()
    assert [(m["name"], m["customer"]) for m in detail["members"]] == [("王芳", data["mine"].pk)]
    other = CustomerGroupFactory(organization=world.org, store=world.store_b)
    assert client.get(url("api-customer-group-detail", other.pk)).status_code == 404


def test_segments_crud_and_preview(world: Any, data: dict[str, Any]) -> None:
    client = world.client_for(world.operator)
    expression = {"tags": {"all": [data["hobby"].pk]}}
    response = client.post(
        url("api-segment-list"), {"name": "护肤", "expression": expression}, content_type="application/json"
    )
    assert response.status_code == 201
    segment = Segment.objects.get(pk=response.json()["id"])
    assert segment.last_count == 1 and segment.organization == world.org
    response = client.patch(
        url("api-segment-detail", segment.pk),
        {"expression": {"stores": [world.store_b.pk]}},
        content_type="application/json",
    )
    assert response.status_code == 200
    segment.refresh_from_db()
    assert segment.name == "护肤" and segment.expression == {"stores": [world.store_b.pk]}
    bad = client.post(
        url("api-segment-list"), {"name": "x", "expression": {"ltv": {"min": "很多"}}}, content_type="application/json"
    )
    assert bad.status_code == 400 and "累计消费" in bad.json()["detail"]
    preview = client.post(
        url("api-segment-preview"), {"expression": {}, "limit": 1}, content_type="application/json"
    ).json()
    assert preview["count"] == 2 and len(preview["sample"]) == 1
    assert client.delete(url("api-segment-detail", segment.pk)).status_code == 204
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_bulk_tag_by_expression_stays_inside_the_managers_scope(world: Any, data: dict[str, Any]) -> None:
    new = TagFactory(group__organization=world.org)
    response = world.client_for(world.manager).post(
        url("api-customer-bulk-tag"), {"tag": new.pk, "expression": {}}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == {"tagged": 1}
    assert list(CustomerTag.objects.filter(tag=new).values_list("customer_id", flat=True)) == [data["mine"].pk]


def test_token_authentication(world: Any, data: dict[str, Any]) -> None:
    token = Token.objects.create(user=world.operator.user)
    response = Client().get(url("api-customer-list"), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and response.json()["count"] == 2
    assert Client().get(url("api-customer-list")).status_code in (401, 403)


def test_export_csv_and_xlsx(world: Any, data: dict[str, Any]) -> None:
    client = world.client_for(world.store_staff)
    response = client.get(url("api-customer-export"))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("姓名,手机号,性别,门店编码")
    assert len(lines) == 2 and "138****8000" in lines[1] and "护肤" in lines[1] and "李娜" not in text
    response = world.client_for(world.operator).get(
        url("api-customer-export"), {"export_format": "xlsx", "store": world.store_b.pk}
    )
    assert response.status_code == 200
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(b"".join(response.streaming_content))).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "姓名" and [(r[0], r[1]) for r in rows[1:]] == [("李娜", "13900139000")]


def test_export_defuses_formulas(world: Any) -> None:
    CustomerFactory(organization=world.org, name='=HYPERLINK("http://x")')
    text = b"".join(world.client_for(world.operator).get(url("api-customer-export")).streaming_content).decode(
        "utf-8-sig"
    )
    assert "'=HYPERLINK" in text
    assert Customer.objects.filter(organization=world.org).count() == 1


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("api-tag-group-list", lambda w: TagFactory(group__organization=w.org)),
        ("api-tag-list", lambda w: TagFactory(group__organization=w.org)),
        ("api-customer-group-list", lambda w: GroupMemberFactory(group__organization=w.org).group),
        ("api-segment-list", lambda w: Segment.objects.create(organization=w.org, name=f"s{Segment.objects.count()}")),
    ],
)
def test_list_endpoints_run_a_fixed_number_of_queries(
    world: Any, name: str, make: Any, django_assert_num_queries: Any
) -> None:
    client = world.client_for(world.operator)
    make(world)
    client.get(url(name))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        assert client.get(url(name)).status_code == 200
    for _ in range(5):
        make(world)
    with django_assert_num_queries(len(first)):
        assert client.get(url(name)).status_code == 200


def test_notes_list_query_count_is_fixed(world: Any, data: dict[str, Any], django_assert_num_queries: Any) -> None:
    client = world.client_for(world.store_staff)
    customer = data["mine"]
    services.note_add(customer=customer, author=world.store_staff, body="一")
    client.get(url("api-customer-notes", customer.pk))
    for i in range(5):
        services.note_add(customer=customer, author=world.manager, body=f"记录{i}")
    with django_assert_num_queries(7):
        response = client.get(url("api-customer-notes", customer.pk))
    assert response.json()["count"] == 6


def test_contacts_endpoints_document_themselves_without_schema_warnings() -> None:
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    assert [m for m in messages if "contacts/" in m or "ImportJob" in m] == []
    assert "/api/v1/customers/{id}/tags/" in schema["paths"]
