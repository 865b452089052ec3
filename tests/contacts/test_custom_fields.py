"""Custom fields (definitions, values, segments, screen, API), editing a customer, the profile's
orders and campaigns, and search by the last four digits or the masked phone number (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest

from campaigns.models import Delivery, DeliveryStatus, ExclusionReason
from contacts import crypto, services
from contacts.access import actor_for_user
from contacts.models import Customer, CustomField, CustomFieldKind, TimelineEvent, TimelineKind
from contacts.segments import SegmentError, segment_count, segment_queryset, validate
from tests.analytics.factories import at, record
from tests.campaigns.factories import campaign
from tests.contacts.views_fixtures import People, people  # noqa: F401  (pytest fixture)
from tests.factories import CustomerFactory


def level_field(org: Any, **kw: Any) -> CustomField:
    return services.custom_field_create(
        organization=org,
        key="member_level",
        label="会员等级",
        kind=CustomFieldKind.CHOICE,
        options=["银卡", "金卡"],
        **kw,
    )


# --- search ----------------------------------------------------------------------------------------


def test_customers_are_found_by_the_last_four_digits_or_the_masked_number(people: People) -> None:  # noqa: F811
    client = people.world.client_for(people.world.operator)
    for q in ("5678", "138****5678", "138xxxx5678", "13812345678"):
        body = client.get("/customers/", {"q": q}).content.decode()
        assert "王小丽" in body, q
        assert "李大明" not in body, q
    assert "王小丽" not in client.get("/customers/", {"q": "139****5678"}).content.decode()


def test_a_search_by_digits_stays_inside_the_store_scope(people: People) -> None:  # noqa: F811
    client = people.world.client_for(people.world.store_staff)
    assert "李大明" not in client.get("/customers/", {"q": "1111"}).content.decode()
    assert "王小丽" in client.get("/customers/", {"q": "5678"}).content.decode()


def test_the_search_box_says_what_it_finds(people: People) -> None:  # noqa: F811
    body = people.world.client_for(people.world.operator).get("/customers/").content.decode()
    assert "后 4 位" in body


def test_the_stored_phone_columns_never_hold_the_clear_number(db: Any) -> None:
    columns = crypto.phone_columns("+86 138-1234-5678")
    assert columns["phone_mask"] == "138****5678"
    assert columns["phone_last4"] == "5678"
    assert "13812345678" not in "".join(columns.values())
    assert crypto.masked_phone_key("138 **** 5678") == "138****5678"
    assert crypto.masked_phone_key("5678") == ""


def test_a_customer_resolved_by_phone_gets_the_search_columns(world: Any) -> None:
    customer, created = services.customer_resolve(
        organization=world.org, platform="", account="", external_id="", phone="13700001234", source="import"
    )
    assert created
    customer.refresh_from_db()
    assert (customer.phone_mask, customer.phone_last4) == ("137****1234", "1234")


# --- definitions and values --------------------------------------------------------------------------


def test_a_definition_is_checked_and_unique_per_organization(world: Any) -> None:
    level_field(world.org)
    with pytest.raises(services.ContactsError, match="同名或同标识"):
        level_field(world.org)
    level_field(world.other_org)  # another brand may use the same key
    with pytest.raises(services.ContactsError, match="字段标识"):
        services.custom_field_create(organization=world.org, key="Bad Key", label="坏", kind="text")
    with pytest.raises(services.ContactsError, match="至少要有一个选项"):
        services.custom_field_create(organization=world.org, key="size", label="尺码", kind="choice", options=[])
    assert CustomField.objects.filter(organization=world.org).count() == 1


@pytest.mark.parametrize(
    ("kind", "raw", "stored"),
    [
        ("text", " 干性 ", "干性"),
        ("number", "3.50", 3.5),
        ("number", 12, 12),
        ("date", "2026-05-01", "2026-05-01"),
        ("choice", "金卡", "金卡"),
        ("multi_choice", ["金卡", "银卡", "金卡"], ["金卡", "银卡"]),
        ("text", "", None),
    ],
)
def test_values_are_stored_in_their_type(world: Any, kind: str, raw: Any, stored: Any) -> None:
    field = CustomField(organization=world.org, key="f", label="字段", kind=kind, options=["银卡", "金卡"])
    assert services.custom_value_clean(field, raw) == stored


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("number", "很多", "请填写数字"),
        ("number", "1e40", "超出范围"),
        ("date", "2026/05/01", "YYYY-MM-DD"),
        ("choice", "铜卡", "请从选项中选择"),
        ("multi_choice", ["铜卡"], "不认识的选项"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field(world: Any, kind: str, raw: Any, message: str) -> None:
    field = CustomField(organization=world.org, key="f", label="会员等级", kind=kind, options=["银卡", "金卡"])
    with pytest.raises(services.ContactsError, match=message) as caught:
        services.custom_value_clean(field, raw)
    assert "会员等级" in str(caught.value)


def test_editing_a_customer_checks_everything_before_writing(people: People) -> None:  # noqa: F811
    level_field(people.world.org, required=True)
    alice = people.alice
    with pytest.raises(services.ContactsError, match="另一位客户"):
        services.customer_update(customer=alice, by=None, name="王丽", phone="13900001111", values={})
    with pytest.raises(services.ContactsError, match="必填"):
        services.customer_update(customer=alice, by=None, name="王丽", values={"member_level": ""})
    alice.refresh_from_db()
    assert alice.name == "王小丽"  # nothing of the refused edits was written

    changed = services.customer_update(
        customer=alice,
        by=people.world.store_staff,
        name="王丽",
        phone="13811112222",
        birthday="1990-04-01",
        values={"member_level": "金卡"},
    )
    alice.refresh_from_db()
    assert changed == ["姓名", "手机号", "生日", "会员等级"]
    assert (alice.name, alice.phone, str(alice.birthday)) == ("王丽", "13811112222", "1990-04-01")
    assert (alice.phone_last4, alice.attributes["member_level"]) == ("2222", "金卡")
    event = TimelineEvent.objects.get(customer=alice, kind=TimelineKind.EDITED)
    assert "13811112222" not in event.summary + str(event.data)
    assert event.actor == people.world.store_staff


def test_deleting_a_definition_clears_its_values_in_one_statement(
    people: People,  # noqa: F811
    django_assert_num_queries: Any,
) -> None:
    field = level_field(people.world.org)
    for customer in (people.alice, people.bob):
        services.customer_update(customer=customer, by=None, values={"member_level": "银卡"})
    people.rival.attributes = {"member_level": "银卡"}  # another brand's own field of the same key
    people.rival.save()
    # UPDATE customers, then the definition's delete (savepoint-free), whose collector also clears the
    # date trigger of any 生日 journey naming the field (journeys' SET_NULL: such a journey enrols nobody).
    with django_assert_num_queries(5):
        assert services.custom_field_delete(field=field) == 2
    assert not Customer.objects.filter(organization=people.world.org, attributes__has_key="member_level").exists()
    people.rival.refresh_from_db()
    assert people.rival.attributes == {"member_level": "银卡"}


# --- segments ------------------------------------------------------------------------------------


def test_a_segment_filters_on_custom_fields_in_sql(people: People) -> None:  # noqa: F811
    org = people.world.org
    level_field(org)
    services.custom_field_create(organization=org, key="visits", label="到店次数", kind="number")
    services.custom_field_create(organization=org, key="skin", label="肤质", kind="multi_choice", options=["干", "油"])
    services.customer_update(
        customer=people.alice, by=None, values={"member_level": "金卡", "visits": 12, "skin": ["干"]}
    )
    services.customer_update(customer=people.bob, by=None, values={"member_level": "银卡", "visits": 3})
    CustomerFactory(organization=org, attributes={"visits": "12"})  # not a number: never compared as one
    actor = actor_for_user(people.world.operator.user)
    cases = [
        ({"member_level": {"in": ["金卡"]}}, {"王小丽"}),
        ({"visits": {"min": 10}}, {"王小丽"}),
        ({"visits": {"max": 5}}, {"李大明"}),
        ({"skin": {"any": ["干", "油"]}}, {"王小丽"}),
        ({"skin": {"set": False}, "member_level": {"set": True}}, {"李大明"}),
    ]
    for custom, names in cases:
        expression = validate({"custom": custom}, organization_id=org.pk)
        assert segment_count(actor=actor, expression=expression) == len(names), custom
        assert {c.name for c in segment_queryset(actor=actor, expression=expression)} == names, custom


def test_a_custom_condition_is_validated_against_the_definitions(people: People) -> None:  # noqa: F811
    org = people.world.org
    level_field(org)
    with pytest.raises(SegmentError, match="不存在"):
        validate({"custom": {"nope": {"equals": "x"}}}, organization_id=org.pk)
    with pytest.raises(SegmentError, match="不能用 min"):
        validate({"custom": {"member_level": {"min": 1}}}, organization_id=org.pk)
    with pytest.raises(SegmentError, match="没有选项 铜卡"):
        validate({"custom": {"member_level": {"in": ["铜卡"]}}}, organization_id=org.pk)
    with pytest.raises(SegmentError, match="不支持"):
        validate({"custom": {"member_level": {"drop table": 1}}})
    with pytest.raises(SegmentError, match="不存在"):  # the other brand's definition is not ours
        validate({"custom": {"member_level": {"in": ["金卡"]}}}, organization_id=people.world.other_org.pk)


# --- console pages -----------------------------------------------------------------------------------


def test_the_field_screen_is_for_operators_of_the_brand(people: People) -> None:  # noqa: F811
    world = people.world
    field = level_field(world.org)
    operator = world.client_for(world.operator)
    response = operator.post(
        "/customers/fields/",
        {
            "label": "肤质",
            "key": "skin",
            "kind": "choice",
            "options": "干性\n油性",
            "show_on_profile": "on",
            "order": 0,
        },
    )
    assert response.status_code == 302
    assert CustomField.objects.get(organization=world.org, key="skin").options == ["干性", "油性"]
    assert world.client_for(world.manager).get("/customers/fields/").status_code == 403
    assert world.client_for(world.outsider).get(f"/customers/fields/{field.pk}/").status_code == 404
    refused = world.client_for(world.outsider).post(f"/customers/fields/{field.pk}/delete/")
    assert refused.status_code == 404
    assert CustomField.objects.filter(pk=field.pk).exists()


def test_staff_edit_a_customer_of_their_store_only(people: People) -> None:  # noqa: F811
    world = people.world
    level_field(world.org)
    clerk = world.client_for(world.store_staff)
    data = {"name": "王丽", "phone": "", "gender": 2, "birthday": "1990-04-01", "cf_member_level": "金卡"}
    assert clerk.post(f"/customers/{people.alice.pk}/edit/", data).status_code == 302
    people.alice.refresh_from_db()
    assert (people.alice.name, people.alice.phone) == ("王丽", "13812345678")  # blank phone: unchanged
    assert people.alice.attributes["member_level"] == "金卡"
    body = clerk.get(f"/customers/{people.alice.pk}/").content.decode()
    assert "会员等级" in body and "1990-04-01" in body
    assert clerk.post(f"/customers/{people.bob.pk}/edit/", data).status_code == 404
    bad = clerk.post(f"/customers/{people.alice.pk}/edit/", {**data, "cf_member_level": "铜卡"})
    assert bad.status_code == 400
    assert world.client_for(world.outsider).get(f"/customers/{people.alice.pk}/edit/").status_code == 404


def test_a_missing_customer_gets_the_styled_chinese_404(people: People) -> None:  # noqa: F811
    response = people.world.client_for(people.world.store_staff).get(f"/customers/{people.bob.pk}/")
    body = response.content.decode()
    assert response.status_code == 404
    assert 'data-error-page="404"' in body and "不属于你可查看的门店" in body and "console.css" in body


def test_only_the_innermost_nav_entry_is_highlighted(people: People) -> None:  # noqa: F811
    body = people.world.client_for(people.world.operator).get("/campaigns/moments/").content.decode()
    assert body.count('class="active"') == 1
    assert 'href="/campaigns/moments/" class="active"' in body


def test_the_language_menu_names_each_language_in_itself(people: People) -> None:  # noqa: F811
    body = people.world.client_for(people.world.operator).get("/customers/").content.decode()
    assert ">English</option>" in body and ">简体中文</option>" in body and "英语" not in body


def test_the_profile_shows_labels_not_codes(people: People) -> None:  # noqa: F811
    alice = people.alice
    alice.rfm_segment = "important_value"
    alice.first_touch = {"channel": "douyin", "state": "wecom_demo"}
    alice.save()
    services.timeline_add(
        customer=alice, kind=TimelineKind.CREATED, summary="建档（ocean_engine）", data={"source": "ocean_engine"}
    )
    body = people.world.client_for(people.world.operator).get(f"/customers/{alice.pk}/").content.decode()
    for code in ("important_value", "ocean_engine", "wecom_demo"):
        assert code not in body
    assert "建档（巨量引擎广告线索）" in body and "抖音" in body


def test_the_profile_lists_orders_and_campaigns_received(people: People) -> None:  # noqa: F811
    world, alice = people.world, people.alice
    for i in range(12):
        record(alice, "1234.50", at(2026, 10, 1 + i), f"POS-{i:03d}", channel="douyin")
    sent = campaign(world.org, name="双十一会员日")
    held = campaign(world.org, name="新品试用")
    Delivery.objects.create(organization=world.org, campaign=sent, customer=alice, status=DeliveryStatus.DELIVERED)
    Delivery.objects.create(
        organization=world.org,
        campaign=held,
        customer=alice,
        status=DeliveryStatus.EXCLUDED,
        reason=ExclusionReason.HOLDOUT,
    )
    body = world.client_for(world.operator).get(f"/customers/{alice.pk}/").content.decode()
    assert "POS-011" in body and "POS-001" not in body  # newest first, ten a page
    assert "¥1,234.50" in body and "抖音" in body
    assert f"/reports/orders/?customer={alice.pk}&amp;q=POS-011" in body
    assert "?orders=2" in body
    assert "POS-001" in world.client_for(world.operator).get(f"/customers/{alice.pk}/?orders=2").content.decode()
    assert "双十一会员日" in body and "已送达" in body and "新品试用" in body and "对照组" in body
    orders = world.client_for(world.operator).get("/reports/orders/", {"customer": alice.pk}).content.decode()
    assert f'href="/customers/{alice.pk}/"' in orders


# --- REST API -------------------------------------------------------------------------------------------


def test_the_definitions_api_owner_reader_and_outsider(people: People) -> None:  # noqa: F811
    world = people.world
    field = level_field(world.org)
    payload = {"key": "skin", "label": "肤质", "kind": "multi_choice", "options": ["干", "油"]}
    owner = world.client_for(world.operator)
    created = owner.post("/api/v1/custom-fields/", payload, content_type="application/json")
    assert created.status_code == 201 and created.json()["kind_label"] == "多选"
    manager = world.client_for(world.manager)
    assert [f["key"] for f in manager.get("/api/v1/custom-fields/").json()] == ["member_level", "skin"]
    refused = manager.post("/api/v1/custom-fields/", {**payload, "key": "other"}, content_type="application/json")
    assert refused.status_code == 403
    assert manager.delete(f"/api/v1/custom-fields/{field.pk}/").status_code == 403
    outsider = world.client_for(world.outsider)
    assert outsider.get("/api/v1/custom-fields/").json() == []
    assert (
        outsider.patch(
            f"/api/v1/custom-fields/{field.pk}/", {"label": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    bad = owner.post("/api/v1/custom-fields/", {**payload, "key": "9bad"}, content_type="application/json")
    assert bad.status_code == 400 and "字段标识" in bad.json()["key"][0]  # names the field
    assert (
        owner.patch(f"/api/v1/custom-fields/{field.pk}/", {"label": "等级"}, content_type="application/json").json()[
            "label"
        ]
        == "等级"
    )
    assert owner.delete(f"/api/v1/custom-fields/{field.pk}/").status_code == 204
    assert world.client_for(world.no_role).get("/api/v1/custom-fields/").status_code == 403


def test_the_values_api_owner_reader_and_outsider(people: People) -> None:  # noqa: F811
    world = people.world
    level_field(world.org)
    url = f"/api/v1/customers/{people.alice.pk}/fields/"
    clerk = world.client_for(world.store_staff)
    answer = clerk.patch(url, {"values": {"member_level": "金卡"}}, content_type="application/json")
    assert answer.status_code == 200 and answer.json() == {"values": {"member_level": "金卡"}}
    bad = clerk.patch(url, {"values": {"member_level": "铜卡"}}, content_type="application/json")
    assert bad.status_code == 400 and "会员等级" in bad.json()["detail"]
    people.alice.refresh_from_db()
    assert people.alice.attributes["member_level"] == "金卡"
    assert clerk.get(f"/api/v1/customers/{people.bob.pk}/fields/").status_code == 404  # another store
    assert world.client_for(world.no_role).get(url).status_code == 403
    assert (
        world.client_for(world.outsider).patch(url, {"values": {}}, content_type="application/json").status_code == 404
    )


def test_the_custom_field_endpoints_are_in_the_schema(people: People) -> None:  # noqa: F811
    schema = people.world.client_for(people.world.operator).get("/api/v1/schema/", {"format": "json"}).json()
    assert {"/api/v1/custom-fields/", "/api/v1/custom-fields/{id}/", "/api/v1/customers/{id}/fields/"} <= set(
        schema["paths"]
    )
