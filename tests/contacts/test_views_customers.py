from __future__ import annotations

import json

import pytest
from django.test import Client

from contacts.models import Customer, CustomerTag, Note, Tag
from tests.contacts import views_fixtures
from tests.contacts.views_fixtures import People, html, tag_customer
from tests.factories import CustomerFactory

people = views_fixtures.people

pytestmark = pytest.mark.django_db


def post_json(client: Client, url: str, data: dict) -> object:
    return client.post(url, json.dumps(data), content_type="application/json")


# --- customer list ------------------------------------------------------------------------------


def test_operator_sees_every_store_with_full_phones_and_tag_chips(people: People) -> None:
    page = html(people.world.client_for(people.world.operator).get("/customers/"))
    assert "王小丽" in page and "李大明" in page
    assert "赵对手" not in page
    assert "13812345678" in page
    assert f'<span class="chip" data-tag="{people.gold.pk}">金卡</span>' in page


def test_store_staff_see_only_their_store_with_masked_phones(people: People) -> None:
    page = html(people.world.client_for(people.world.store_staff).get("/customers/"))
    assert "王小丽" in page
    assert "李大明" not in page
    assert "138****5678" in page
    assert "13812345678" not in page


def test_managers_see_their_stores_with_full_phones(people: People) -> None:
    page = html(people.world.client_for(people.world.manager).get("/customers/"))
    assert "王小丽" in page and "13812345678" in page
    assert "李大明" not in page


def test_outsider_sees_none_of_the_brands_customers(people: People) -> None:
    page = html(people.world.client_for(people.world.outsider).get("/customers/"))
    assert "赵对手" in page
    assert "王小丽" not in page and "李大明" not in page


def test_a_user_without_a_role_is_refused_and_anonymous_is_sent_to_login(people: People) -> None:
    assert people.world.client_for(people.world.no_role).get("/customers/").status_code == 403
    response = Client().get("/customers/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("query", "expected", "absent"),
    [
        ("q=小丽", "王小丽", "李大明"),
        ("q=13900001111", "李大明", "王小丽"),
        ("q=VIP", "王小丽", "李大明"),
        ("store={store_b}", "李大明", "王小丽"),
        ("tag={gold}", "王小丽", "李大明"),
        ("consent=opted_out", "没有符合条件的客户", "王小丽"),
    ],
)
def test_filters_narrow_the_list(people: People, query: str, expected: str, absent: str) -> None:
    query = query.format(store_b=people.world.store_b.pk, gold=people.gold.pk)
    page = html(people.world.client_for(people.world.operator).get(f"/customers/?{query}"))
    assert expected in page
    assert absent not in page


def test_export_link_carries_the_filters(people: People) -> None:
    page = html(people.world.client_for(people.world.operator).get(f"/customers/?tag={people.gold.pk}&q=x"))
    assert f"export/?q=x&amp;tag={people.gold.pk}" in page or f"export/?tag={people.gold.pk}&amp;q=x" in page


def test_list_paginates(people: People) -> None:
    for i in range(30):
        CustomerFactory(organization=people.world.org, home_store=people.world.store_a, name=f"批量{i}")
    client = people.world.client_for(people.world.operator)
    first = html(client.get("/customers/"))
    assert "第 1 / 2 页" in first
    second = html(client.get("/customers/?page=2"))
    assert "第 2 / 2 页" in second


def test_list_query_count_does_not_grow_with_rows(people: People, django_assert_num_queries: object) -> None:
    for i in range(20):
        c = CustomerFactory(
            organization=people.world.org, home_store=people.world.store_a, name=f"客{i}", phone=f"1380000{i:04d}"
        )
        tag_customer(c, people.silver, people.skincare)
    for staff in (people.world.operator, people.world.store_staff):
        client = people.world.client_for(staff)
        client.get("/customers/")  # warm the session
        # session, user, staff, groups, (store staff: nothing more), stores, tag groups, tags, count, page
        with django_assert_num_queries(9):  # type: ignore[operator]
            assert client.get("/customers/").status_code == 200


# --- bulk tag -----------------------------------------------------------------------------------


def test_operator_bulk_tags_the_selected_customers(people: People) -> None:
    client = people.world.client_for(people.world.operator)
    response = post_json(
        client, "/customers/bulk-tag/", {"tag_id": people.skincare.pk, "customer_ids": [people.alice.pk, people.bob.pk]}
    )
    assert response.status_code == 200
    assert response.json()["selected"] == 2
    for c in (people.alice, people.bob):
        c.refresh_from_db()
        assert people.skincare.pk in c.tag_ids
        assert CustomerTag.objects.filter(customer=c, tag=people.skincare).exists()


def test_store_staff_bulk_tag_never_reaches_another_store(people: People) -> None:
    client = people.world.client_for(people.world.store_staff)
    response = post_json(
        client, "/customers/bulk-tag/", {"tag_id": people.skincare.pk, "customer_ids": [people.alice.pk, people.bob.pk]}
    )
    assert response.json()["selected"] == 1
    people.bob.refresh_from_db()
    assert people.skincare.pk not in people.bob.tag_ids


def test_outsider_cannot_bulk_tag_with_or_onto_the_brand(people: People) -> None:
    client = people.world.client_for(people.world.outsider)
    response = post_json(
        client, "/customers/bulk-tag/", {"tag_id": people.skincare.pk, "customer_ids": [people.alice.pk]}
    )
    assert response.status_code == 400
    response = post_json(
        client, "/customers/bulk-tag/", {"tag_id": people.rival_tag.pk, "customer_ids": [people.alice.pk]}
    )
    assert response.json()["selected"] == 0
    assert not CustomerTag.objects.filter(customer=people.alice, tag=people.rival_tag).exists()
    assert post_json(people.world.client_for(people.world.no_role), "/customers/bulk-tag/", {}).status_code == 403


def test_bulk_tag_without_a_selection_says_what_to_do(people: People) -> None:
    client = people.world.client_for(people.world.operator)
    response = post_json(client, "/customers/bulk-tag/", {"tag_id": people.skincare.pk, "customer_ids": []})
    assert response.status_code == 400
    assert "请先勾选" in response.json()["detail"]


# --- profile ------------------------------------------------------------------------------------


def test_profile_shows_identities_followers_tags_notes_and_timeline(people: People) -> None:
    page = html(people.world.client_for(people.world.operator).get(f"/customers/{people.alice.pk}/"))
    for text in ("王小丽", "wm_alice", "老客户VIP", "喜欢新品面霜", "添加企业微信", "累计消费", "13812345678"):
        assert text in page, text
    assert f'class="chip-btn single on" data-tag="{people.gold.pk}"' in page


def test_profile_is_refused_across_stores_and_organizations(people: People) -> None:
    w = people.world
    assert w.client_for(w.store_staff).get(f"/customers/{people.alice.pk}/").status_code == 200
    assert "138****5678" in html(w.client_for(w.store_staff).get(f"/customers/{people.alice.pk}/"))
    assert w.client_for(w.store_staff).get(f"/customers/{people.bob.pk}/").status_code == 404
    assert w.client_for(w.manager).get(f"/customers/{people.bob.pk}/").status_code == 404
    assert w.client_for(w.outsider).get(f"/customers/{people.alice.pk}/").status_code == 404
    assert w.client_for(w.no_role).get(f"/customers/{people.alice.pk}/").status_code == 403


def test_profile_timeline_paginates(people: People) -> None:
    from contacts.models import TimelineEvent, TimelineKind

    TimelineEvent.objects.bulk_create(
        TimelineEvent(organization=people.world.org, customer=people.alice, kind=TimelineKind.NOTE, summary=f"事件{i}")
        for i in range(25)
    )
    client = people.world.client_for(people.world.operator)
    assert "第 1 / 2 页" in html(client.get(f"/customers/{people.alice.pk}/"))
    assert "第 2 / 2 页" in html(client.get(f"/customers/{people.alice.pk}/?page=2"))


def test_single_choice_tags_swap_when_toggled(people: People) -> None:
    client = people.world.client_for(people.world.store_staff)
    response = post_json(client, f"/customers/{people.alice.pk}/tags/", {"tag_id": people.silver.pk, "on": True})
    assert response.status_code == 200
    assert response.json()["tag_ids"] == [people.silver.pk]
    people.alice.refresh_from_db()
    assert people.alice.tag_ids == [people.silver.pk]
    assert not CustomerTag.objects.filter(customer=people.alice, tag=people.gold).exists()
    response = post_json(client, f"/customers/{people.alice.pk}/tags/", {"tag_id": people.silver.pk, "on": False})
    assert response.json()["tag_ids"] == []


def test_tag_toggle_is_refused_for_other_stores_and_foreign_tags(people: People) -> None:
    w = people.world
    url = f"/customers/{people.bob.pk}/tags/"
    assert post_json(w.client_for(w.store_staff), url, {"tag_id": people.skincare.pk, "on": True}).status_code == 404
    assert post_json(w.client_for(w.outsider), url, {"tag_id": people.rival_tag.pk, "on": True}).status_code == 404
    own = f"/customers/{people.alice.pk}/tags/"
    assert post_json(w.client_for(w.operator), own, {"tag_id": people.rival_tag.pk, "on": True}).status_code == 400
    assert post_json(w.client_for(w.no_role), own, {"tag_id": people.skincare.pk, "on": True}).status_code == 403
    people.bob.refresh_from_db()
    assert people.bob.tag_ids == []
    assert not Tag.objects.get(pk=people.rival_tag.pk).customer_links.exists()


def test_notes_are_added_and_empty_notes_explain_the_fix(people: People) -> None:
    client = people.world.client_for(people.world.store_staff)
    response = client.post(f"/customers/{people.alice.pk}/notes/", {"body": "约了周六到店"}, follow=True)
    assert "约了周六到店" in html(response)
    assert Note.objects.filter(customer=people.alice, body="约了周六到店", author=people.world.store_staff).exists()
    response = client.post(f"/customers/{people.alice.pk}/notes/", {"body": ""}, follow=True)
    assert "不能为空" in html(response)
    assert client.post(f"/customers/{people.bob.pk}/notes/", {"body": "x"}).status_code == 404
    assert not Note.objects.filter(customer=people.bob).exists()


def test_opt_out_needs_confirmation_and_sticks(people: People) -> None:
    client = people.world.client_for(people.world.operator)
    client.post(f"/customers/{people.alice.pk}/opt-out/", {})
    people.alice.refresh_from_db()
    assert people.alice.opted_out_at is None
    response = client.post(f"/customers/{people.alice.pk}/opt-out/", {"confirm": "yes"}, follow=True)
    people.alice.refresh_from_db()
    assert people.alice.opted_out_at is not None
    assert "已退订" in html(response)
    assert (
        people.world.client_for(people.world.store_staff)
        .post(f"/customers/{people.bob.pk}/opt-out/", {"confirm": "yes"})
        .status_code
        == 404
    )
    assert Customer.objects.get(pk=people.bob.pk).opted_out_at is None
