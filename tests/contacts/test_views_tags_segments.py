from __future__ import annotations

import json

import pytest
from django.test import Client

from contacts.models import Customer, CustomerGroupMember, Segment, Tag, TagGroup
from tests.contacts import views_fixtures
from tests.contacts.views_fixtures import People, html
from tests.factories import CustomerGroupFactory

people = views_fixtures.people

pytestmark = pytest.mark.django_db


def preview(client: Client, expression: dict) -> object:
    return client.post("/segments/preview/", json.dumps({"expression": expression}), content_type="application/json")


# --- tags ---------------------------------------------------------------------------------------


def test_tag_page_lists_groups_with_customer_counts(people: People) -> None:
    page = html(people.world.client_for(people.world.operator).get("/tags/"))
    assert "客户等级" in page and "单选" in page and "兴趣偏好" in page
    assert f'<li data-tag="{people.gold.pk}">' in page
    assert "1 位客户" in page
    assert "对手标签" not in page


def test_managers_read_tags_but_only_operators_change_them(people: People) -> None:
    w = people.world
    assert w.client_for(w.manager).get("/tags/").status_code == 200
    assert "新建标签组" not in html(w.client_for(w.manager).get("/tags/"))
    response = w.client_for(w.manager).post("/tags/", {"action": "group_create", "name": "x", "choice": "multi"})
    assert response.status_code == 403
    assert w.client_for(w.store_staff).get("/tags/").status_code == 403
    assert w.client_for(w.no_role).get("/tags/").status_code == 403
    assert not TagGroup.objects.filter(name="x").exists()


def test_operator_creates_renames_and_deletes_groups_and_tags(people: People) -> None:
    client = people.world.client_for(people.world.operator)
    client.post("/tags/", {"action": "group_create", "name": "消费能力", "choice": "single"})
    group = TagGroup.objects.get(organization=people.world.org, name="消费能力")
    assert group.choice == "single"
    client.post("/tags/", {"action": "tag_create", "group": group.pk, "name": "高消费"})
    tag = Tag.objects.get(group=group, name="高消费")
    client.post("/tags/", {"action": "tag_rename", "tag": tag.pk, "name": "高净值"})
    tag.refresh_from_db()
    assert tag.name == "高净值"
    client.post("/tags/", {"action": "group_rename", "group": group.pk, "name": "消费层级", "choice": "multi"})
    group.refresh_from_db()
    assert (group.name, group.choice) == ("消费层级", "multi")
    # Deleting a tag in use takes it off the customers too (the denormalized array stays in step).
    client.post("/tags/", {"action": "tag_delete", "tag": people.gold.pk})
    people.alice.refresh_from_db()
    assert people.alice.tag_ids == []
    assert not Tag.objects.filter(pk=people.gold.pk).exists()
    client.post("/tags/", {"action": "group_delete", "group": group.pk})
    assert not TagGroup.objects.filter(pk=group.pk).exists()


def test_duplicate_names_explain_the_fix(people: People) -> None:
    client = people.world.client_for(people.world.operator)
    response = client.post("/tags/", {"action": "tag_create", "group": people.level.pk, "name": "金卡"}, follow=True)
    assert "已有标签“金卡”" in html(response) or "名称已存在" in html(response)


def test_outsider_cannot_touch_another_brands_tags(people: People) -> None:
    client = people.world.client_for(people.world.outsider)
    assert client.post("/tags/", {"action": "tag_delete", "tag": people.gold.pk}).status_code == 404
    assert client.post("/tags/", {"action": "group_delete", "group": people.level.pk}).status_code == 404
    assert Tag.objects.filter(pk=people.gold.pk).exists()


# --- customer groups ----------------------------------------------------------------------------


def test_group_pages_are_scoped_by_store(people: People) -> None:
    w = people.world
    g_a = CustomerGroupFactory(organization=w.org, store=w.store_a, name="A店会员群", owner=w.store_staff)
    g_b = CustomerGroupFactory(organization=w.org, store=w.store_b, name="B店会员群")
    CustomerGroupMember.objects.create(
        organization=w.org, group=g_a, customer=people.alice, member_id="wm_alice", name="王小丽"
    )
    page = html(w.client_for(w.store_staff).get("/groups/"))
    assert "A店会员群" in page and "B店会员群" not in page
    assert "B店会员群" in html(w.client_for(w.operator).get("/groups/"))
    detail = html(w.client_for(w.store_staff).get(f"/groups/{g_a.pk}/"))
    assert "王小丽" in detail
    assert w.client_for(w.store_staff).get(f"/groups/{g_b.pk}/").status_code == 404
    assert w.client_for(w.outsider).get(f"/groups/{g_a.pk}/").status_code == 404
    assert w.client_for(w.no_role).get("/groups/").status_code == 403


def test_group_list_query_count_is_pinned(people: People, django_assert_num_queries: object) -> None:
    w = people.world
    for i in range(15):
        CustomerGroupFactory(organization=w.org, store=w.store_a, name=f"群{i}", owner=w.store_staff)
    client = w.client_for(w.operator)
    client.get("/groups/")
    # session, user, staff, groups, count, page
    with django_assert_num_queries(6):  # type: ignore[operator]
        assert client.get("/groups/").status_code == 200


# --- segments -----------------------------------------------------------------------------------


def test_segment_preview_counts_within_the_actors_scope(people: People) -> None:
    w = people.world
    op = preview(w.client_for(w.operator), {})
    assert op.status_code == 200
    assert op.json()["count"] == 2
    tagged = preview(w.client_for(w.operator), {"tags": {"all": [people.gold.pk]}}).json()
    assert tagged["count"] == 1
    assert tagged["sample"][0]["name"] == "王小丽"
    manager = preview(w.client_for(w.manager), {}).json()
    assert manager["count"] == 1
    assert preview(w.client_for(w.outsider), {}).json()["count"] == 1
    assert preview(w.client_for(w.store_staff), {}).status_code == 403
    assert preview(w.client_for(w.no_role), {}).status_code == 403


def test_segment_preview_explains_a_bad_expression(people: People) -> None:
    response = preview(people.world.client_for(people.world.operator), {"consent": "maybe"})
    assert response.status_code == 400
    assert response.json()["detail"]


def test_operator_saves_and_reopens_a_segment(people: People) -> None:
    client = people.world.client_for(people.world.operator)
    assert client.get("/segments/new/").status_code == 200
    expression = {"tags": {"any": [people.gold.pk]}, "consent": "granted"}
    response = client.post(
        "/segments/new/", {"name": "金卡会员", "description": "高价值", "expression": json.dumps(expression)}
    )
    assert response.status_code == 302
    segment = Segment.objects.get(organization=people.world.org, name="金卡会员")
    assert segment.expression["tags"]["any"] == [people.gold.pk]
    page = html(client.get(f"/segments/{segment.pk}/"))
    assert "金卡会员" in page and "segment-options" in page
    assert "金卡会员" in html(client.get("/segments/"))
    assert people.world.client_for(people.world.outsider).get(f"/segments/{segment.pk}/").status_code == 404
    assert people.world.client_for(people.world.store_staff).get("/segments/").status_code == 403


def test_saving_a_segment_with_a_duplicate_name_says_so(people: People) -> None:
    client = people.world.client_for(people.world.operator)
    client.post("/segments/new/", {"name": "同名", "expression": "{}"})
    response = client.post("/segments/new/", {"name": "同名", "expression": "{}"})
    assert response.status_code == 400
    assert "同名分群" in html(response) or "已存在" in html(response)


# --- import -------------------------------------------------------------------------------------


def test_import_page_is_for_operators_only(people: People) -> None:
    w = people.world
    assert w.client_for(w.operator).get("/customers/import/").status_code == 200
    for staff in (w.manager, w.store_staff, w.no_role):
        assert w.client_for(staff).get("/customers/import/").status_code == 403


def test_import_rejects_files_that_are_not_csv_or_xlsx(people: People) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = people.world.client_for(people.world.operator)
    response = client.post("/customers/import/", {"file": SimpleUploadedFile("a.txt", b"x")})
    assert response.status_code == 400
    assert Customer.objects.filter(organization=people.world.org).count() == 2


def test_operator_imports_a_csv_and_sees_the_rejected_rows(people: People) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = people.world.client_for(people.world.operator)
    csv_bytes = "姓名,手机号,门店编码\n新客甲,13711112222,A\n坏号码,123,A\n".encode()
    response = client.post("/customers/import/", {"file": SimpleUploadedFile("客户.csv", csv_bytes)})
    assert response.status_code == 302
    job_url = response["Location"]
    page = html(client.get(job_url))
    assert "导入进度" in page and "客户.csv" in page
    job_id = int(job_url.rsplit("=", 1)[1])
    status = client.get(f"/customers/import/{job_id}/").json()
    assert status["finished"] is True
    assert status["created"] == 1
    assert [r["line"] for r in status["rejected"]] == [3]
    assert status["rejected"][0]["reason"]
    assert Customer.objects.filter(organization=people.world.org, name="新客甲").exists()
    # Another brand's operator cannot read the job.
    assert people.world.client_for(people.world.outsider).get(f"/customers/import/{job_id}/").status_code == 404
    assert people.world.client_for(people.world.store_staff).get(f"/customers/import/{job_id}/").status_code == 403


def test_tag_and_segment_pages_query_counts_are_pinned(people: People, django_assert_num_queries: object) -> None:
    from tests.factories import TagFactory

    for i in range(10):
        TagFactory(group=people.interest, name=f"兴趣{i}")
    client = people.world.client_for(people.world.operator)
    client.get("/tags/")
    # session, user, staff, groups, tag groups, tags, counts per tag, catalogue changes waiting for WeCom
    with django_assert_num_queries(8):  # type: ignore[operator]
        assert client.get("/tags/").status_code == 200
    for i in range(5):
        Segment.objects.create(organization=people.world.org, name=f"分群{i}", created_by=people.world.operator)
    client.get("/segments/")
    # session, user, staff, groups, count, page (with creator)
    with django_assert_num_queries(6):  # type: ignore[operator]
        assert client.get("/segments/").status_code == 200


def test_segments_are_deleted_only_inside_the_brand(people: People) -> None:
    segment = Segment.objects.create(organization=people.world.org, name="待删除", created_by=people.world.operator)
    assert people.world.client_for(people.world.outsider).post(f"/segments/{segment.pk}/delete/").status_code == 404
    assert people.world.client_for(people.world.store_staff).post(f"/segments/{segment.pk}/delete/").status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()
    response = people.world.client_for(people.world.manager).post(f"/segments/{segment.pk}/delete/")
    assert response.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_tagging_a_whole_segment_stays_inside_the_actors_scope(people: People) -> None:
    w = people.world
    segment = Segment.objects.create(organization=w.org, name="全部客户", expression={}, created_by=w.operator)
    url = f"/segments/{segment.pk}/tag/"
    response = w.client_for(w.manager).post(url, {"tag": people.skincare.pk}, follow=True)
    assert "已为 1 位客户打上标签" in html(response)
    people.alice.refresh_from_db()
    people.bob.refresh_from_db()
    assert people.skincare.pk in people.alice.tag_ids
    assert people.skincare.pk not in people.bob.tag_ids  # store B is outside the manager's scope
    w.client_for(w.operator).post(url, {"tag": people.skincare.pk})
    people.bob.refresh_from_db()
    assert people.skincare.pk in people.bob.tag_ids
    assert w.client_for(w.outsider).post(url, {"tag": people.rival_tag.pk}).status_code == 404
    assert w.client_for(w.store_staff).post(url, {"tag": people.skincare.pk}).status_code == 403
    response = w.client_for(w.operator).post(url, {"tag": people.rival_tag.pk}, follow=True)
    assert "请选择要打的标签" in html(response)
