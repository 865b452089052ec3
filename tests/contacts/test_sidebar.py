from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.contacts import views_fixtures
from tests.contacts.views_fixtures import People, html

people = views_fixtures.people

pytestmark = pytest.mark.django_db


def test_store_staff_open_their_customer_by_external_userid(people: People) -> None:
    response = people.world.client_for(people.world.store_staff).get("/sidebar/?external_userid=wm_alice")
    assert response.status_code == 200
    page = html(response)
    for text in ("王小丽", "138****5678", "金卡", "喜欢新品面霜", "累计消费", "订单数", "添加企业微信"):
        assert text in page, text
    assert "13812345678" not in page


def test_other_stores_and_other_brands_are_not_found(people: People) -> None:
    w = people.world
    response = w.client_for(w.store_staff).get("/sidebar/?external_userid=wm_bob")
    assert response.status_code == 404
    assert "李大明" not in html(response)
    assert "找不到这位客户" in html(response)
    assert w.client_for(w.store_staff).get(f"/sidebar/?customer={people.bob.pk}").status_code == 404
    assert w.client_for(w.outsider).get("/sidebar/?external_userid=wm_alice").status_code == 404
    assert w.client_for(w.operator).get("/sidebar/?external_userid=wm_rival").status_code == 404
    assert w.client_for(w.no_role).get("/sidebar/?external_userid=wm_alice").status_code == 403
    assert Client().get("/sidebar/").status_code == 302


def test_operator_opens_any_store(people: People) -> None:
    page = html(people.world.client_for(people.world.operator).get("/sidebar/?external_userid=wm_bob"))
    assert "李大明" in page and "13900001111" in page


def test_search_finds_only_what_the_actor_may_see(people: People) -> None:
    w = people.world
    page = html(w.client_for(w.store_staff).get("/sidebar/?q=李大明"))
    assert "没有找到匹配的客户" in page
    page = html(w.client_for(w.store_staff).get("/sidebar/?q=13812345678"))
    assert "王小丽" in page and f"?customer={people.alice.pk}" in page
    assert "王小丽" in html(w.client_for(w.store_staff).get(f"/sidebar/?customer={people.alice.pk}"))


def test_tag_and_note_from_the_sidebar(people: People) -> None:
    client = people.world.client_for(people.world.store_staff)
    response = client.post(
        f"/customers/{people.alice.pk}/tags/",
        json.dumps({"tag_id": people.skincare.pk, "on": True}),
        content_type="application/json",
    )
    assert sorted(response.json()["tag_ids"]) == sorted([people.gold.pk, people.skincare.pk])
    back = "/sidebar/?external_userid=wm_alice"
    response = client.post(f"/customers/{people.alice.pk}/notes/", {"body": "侧边栏记录", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    assert "侧边栏记录" in html(client.get(back))
    # An open redirect is not possible through "next".
    response = client.post(f"/customers/{people.alice.pk}/notes/", {"body": "x", "next": "https://evil.example/"})
    assert response["Location"] == f"/customers/{people.alice.pk}/"


def test_sidebar_without_a_customer_offers_search(people: People) -> None:
    page = html(people.world.client_for(people.world.store_staff).get("/sidebar/"))
    assert "搜索" in page and "sidebar-page" in page


def test_sidebar_query_count_is_pinned(people: People, django_assert_num_queries: object) -> None:
    client = people.world.client_for(people.world.store_staff)
    client.get("/sidebar/?external_userid=wm_alice")
    # session, user, staff, groups, customer (by identity), tag groups, tags, follows (WeCom remarks),
    # custom fields, timeline count, notes, timeline page, coupon templates to issue, open coupons (offers),
    # the customer's 任务宝 participations and the running campaigns to enrol them in (referrals)
    with django_assert_num_queries(16):  # type: ignore[operator]
        assert client.get("/sidebar/?external_userid=wm_alice").status_code == 200
