"""Tag catalogue changes made here reach WeCom (through the sandbox) first; the full sync then finds
both sides equal. A refusal leaves our side as it was and says why."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from channels.models import RemarkStatus, TagPush
from channels.wecom.client import WeComClient
from channels.wecom.sync import full_sync
from channels.wecom.tag_catalogue import from_wecom_order, tag_push_run, to_wecom_order
from contacts import services
from contacts.models import Tag, TagGroup

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(wecom_sandbox, world):
    wecom_sandbox.add_member("zhangsan", "张三")
    return wecom_sandbox.connect(world.org)


def wecom_catalogue(account):
    """WeCom's catalogue as WeCom lists it: [(group, order, [(tag, order)])], larger order first."""
    client = WeComClient.for_account(account)
    return [
        (g["group_name"], g["order"], [(t["name"], t["order"]) for t in g["tag"]])
        for g in client.corp_tag_list()
        if not g.get("deleted")
    ]


def our_catalogue(org):
    """Ours for the WeCom-linked part, in WeCom's terms and WeCom's order."""
    out = []
    for group in TagGroup.objects.filter(organization=org).exclude(wecom_group_id="").order_by("order", "id"):
        tags = [(t.name, to_wecom_order(t.order)) for t in group.tags.exclude(wecom_tag_id="").order_by("order", "id")]
        out.append((group.name, to_wecom_order(group.order), tags))
    return out


def test_the_order_mapping_is_a_bijection_that_keeps_the_sense():
    for order in (-(2**31), -5, 0, 1, 7, 2**31 - 1):
        assert from_wecom_order(to_wecom_order(order)) == order
        assert 0 <= to_wecom_order(order) < 2**32
    assert to_wecom_order(1) > to_wecom_order(2)  # ours: smaller first; WeCom: larger first


def test_a_tag_created_here_is_created_in_wecom_with_its_group_and_a_sync_leaves_both_equal(account, world):
    group = services.tag_group_create(organization=world.org, name="会员等级", order=2)
    assert wecom_catalogue(account) == []  # WeCom holds no empty group: it goes with its first tag
    gold = services.tag_create(group=group, name="金卡", order=1)
    silver = services.tag_create(group=group, name="银卡", order=2)
    group.refresh_from_db()
    assert group.wecom_group_id and gold.wecom_tag_id and silver.wecom_tag_id
    assert wecom_catalogue(account) == [
        ("会员等级", to_wecom_order(2), [("金卡", to_wecom_order(1)), ("银卡", to_wecom_order(2))])
    ]
    assert our_catalogue(world.org) == wecom_catalogue(account)
    run = full_sync(account=account)
    assert run.status == "done", run.error
    assert our_catalogue(world.org) == wecom_catalogue(account)
    assert Tag.objects.filter(organization=world.org).count() == 2  # linked, not duplicated


def test_renames_and_reorders_of_tags_and_groups_reach_wecom(account, world):
    group = services.tag_group_create(organization=world.org, name="兴趣")
    skin = services.tag_create(group=group, name="护肤", order=1)
    makeup = services.tag_create(group=group, name="彩妆", order=2)
    services.tag_update(tag=skin, name="护肤品", order=5)  # now after 彩妆
    group.refresh_from_db()
    services.tag_group_update(group=group, name="兴趣偏好", order=9)
    assert wecom_catalogue(account) == [
        ("兴趣偏好", to_wecom_order(9), [("彩妆", to_wecom_order(2)), ("护肤品", to_wecom_order(5))])
    ]
    full_sync(account=account)
    assert our_catalogue(world.org) == wecom_catalogue(account)
    assert [t.name for t in group.tags.order_by("order", "id")] == ["彩妆", "护肤品"]
    makeup.refresh_from_db()
    assert makeup.order == 2


def test_deleting_a_tag_and_a_group_here_deletes_them_in_wecom(account, world):
    group = services.tag_group_create(organization=world.org, name="兴趣")
    skin = services.tag_create(group=group, name="护肤")
    services.tag_create(group=group, name="彩妆")
    other = services.tag_group_create(organization=world.org, name="来源")
    services.tag_create(group=other, name="抖音")
    services.tag_delete(tag=skin)
    assert sorted((g, [t for t, _o in tags]) for g, _o, tags in wecom_catalogue(account)) == [
        ("兴趣", ["彩妆"]),
        ("来源", ["抖音"]),
    ]
    services.tag_group_delete(group=group)
    assert [g for g, _o, _t in wecom_catalogue(account)] == ["来源"]
    assert not TagGroup.objects.filter(pk=group.pk).exists()
    full_sync(account=account)
    assert our_catalogue(world.org) == wecom_catalogue(account)
    assert not Tag.objects.filter(name__in=["护肤", "彩妆"]).exists()


def test_a_duplicate_name_wecom_refuses_leaves_our_side_unchanged_and_says_why(account, world, wecom_sandbox):
    group = services.tag_group_create(organization=world.org, name="会员等级")
    services.tag_create(group=group, name="金卡")
    wecom_sandbox.add_tag_group("会员等级", ["银卡"])  # made in the WeCom admin since the last sync
    with pytest.raises(services.ContactsError) as refused:
        services.tag_create(group=group, name="银卡")
    assert "40071" in str(refused.value) and "同名" in str(refused.value)
    assert not Tag.objects.filter(name="银卡").exists()
    push = TagPush.objects.get(status=RemarkStatus.REFUSED)
    assert push.op == "tag_create" and "40071" in push.error
    full_sync(account=account)  # WeCom's 银卡 arrives, once
    assert our_catalogue(world.org) == wecom_catalogue(account)
    assert Tag.objects.filter(name="银卡").count() == 1


def test_a_rename_wecom_refuses_keeps_the_old_name(account, world):
    group = services.tag_group_create(organization=world.org, name="兴趣")
    tag = services.tag_create(group=group, name="护肤")
    with pytest.raises(services.ContactsError) as refused:
        services.tag_update(tag=tag, name="很长" * 16)  # 32 characters: WeCom allows 30
    assert "40072" in str(refused.value)
    tag.refresh_from_db()
    assert tag.name == "护肤"
    assert wecom_catalogue(account)[0][2][0][0] == "护肤"


def test_a_same_name_tag_on_both_sides_is_linked_by_the_sync_not_duplicated(wecom_sandbox, world):
    group = services.tag_group_create(organization=world.org, name="兴趣")  # before WeCom was connected
    local = services.tag_create(group=group, name="护肤")
    assert local.wecom_tag_id == ""
    wecom_sandbox.add_tag_group("兴趣", ["护肤", "彩妆"])
    account = wecom_sandbox.connect(world.org)
    full_sync(account=account)
    local.refresh_from_db()
    assert local.wecom_tag_id == wecom_sandbox.tag_id("护肤")
    assert Tag.objects.filter(organization=world.org, name="护肤").count() == 1
    assert TagGroup.objects.filter(organization=world.org, name="兴趣").count() == 1
    assert sorted(t for _g, _o, tags in our_catalogue(world.org) for t, _ in tags) == ["彩妆", "护肤"]


def test_an_unreachable_wecom_defers_the_change_and_the_retry_applies_it(
    account, world, wecom_sandbox, django_capture_on_commit_callbacks
):
    group = services.tag_group_create(organization=world.org, name="兴趣")
    wecom_sandbox.inject_error("externalcontact/add_corp_tag", -1)  # 系统繁忙
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(services.CataloguePending):
        services.tag_create(group=group, name="护肤")
    assert not Tag.objects.filter(name="护肤").exists()  # nothing here until WeCom accepts
    push = TagPush.objects.get()
    assert push.status == RemarkStatus.RETRYING
    assert len(callbacks) == 1  # the retry task is enqueued on commit
    page = world.client_for(world.operator).get("/tags/").content.decode()
    assert "新建标签 护肤”正在等待企业微信接受" in page
    assert tag_push_run(push_id=push.pk) == "done"
    assert "正在等待企业微信接受" not in world.client_for(world.operator).get("/tags/").content.decode()
    tag = Tag.objects.get(name="护肤")
    assert tag.wecom_tag_id == wecom_sandbox.tag_id("护肤")
    assert tag_push_run(push_id=push.pk) == "nothing to do"  # a redelivered task changes nothing
    assert our_catalogue(world.org) == wecom_catalogue(account)


def test_the_console_and_the_api_show_wecoms_refusal(account, world, wecom_sandbox):
    group = services.tag_group_create(organization=world.org, name="兴趣")
    services.tag_create(group=group, name="护肤")
    wecom_sandbox.add_tag_group("兴趣", ["彩妆"])
    response = world.client_for(world.operator).post(
        "/tags/", {"action": "tag_create", "group": group.pk, "name": "彩妆"}, follow=True
    )
    page = response.content.decode()
    assert "40071" in page and "本地未作改动" in page
    assert not Tag.objects.filter(name="彩妆").exists()
    api = APIClient()
    api.force_authenticate(world.operator.user)
    answer = api.post("/api/v1/tags/", {"group": group.pk, "name": "彩妆"}, format="json")
    assert answer.status_code == 400
    assert "40071" in answer.json()["detail"]
    tag = Tag.objects.get(name="护肤")
    renamed = api.patch(f"/api/v1/tags/{tag.pk}/", {"name": "护肤品"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "护肤品"
    assert "护肤品" in [t for _g, _o, tags in wecom_catalogue(account) for t, _ in tags]
    wecom_sandbox.inject_error("externalcontact/edit_corp_tag", -1)  # WeCom busy: recorded, retried
    deferred = api.patch(f"/api/v1/tags/{tag.pk}/", {"name": "护肤类"}, format="json")
    assert deferred.status_code == 202 and deferred.json()["pending"] is True
    tag.refresh_from_db()
    assert tag.name == "护肤品"


def test_a_brand_without_wecom_changes_tags_locally_only(world):
    group = services.tag_group_create(organization=world.org, name="兴趣")
    tag = services.tag_create(group=group, name="护肤")
    services.tag_update(tag=tag, name="护肤品")
    services.tag_delete(tag=tag)
    assert not TagPush.objects.exists()


def test_moving_tags_and_groups_in_the_console_reorders_them_in_wecom(account, world):
    first = services.tag_group_create(organization=world.org, name="兴趣")
    for name in ("护肤", "彩妆", "香水"):
        services.tag_create(group=first, name=name)  # all order 0: shown by creation
    second = services.tag_group_create(organization=world.org, name="来源")
    services.tag_create(group=second, name="抖音")
    client = world.client_for(world.operator)
    skin = Tag.objects.get(name="护肤")
    client.post("/tags/", {"action": "tag_move", "tag": skin.pk, "step": "down"})
    client.post("/tags/", {"action": "group_move", "group": second.pk, "step": "up"})
    assert [t.name for t in Tag.objects.filter(group=first).order_by("order", "id")] == ["彩妆", "护肤", "香水"]
    assert [g for g, _o, _t in wecom_catalogue(account)] == ["来源", "兴趣"]
    assert [t for t, _o in wecom_catalogue(account)[1][2]] == ["彩妆", "护肤", "香水"]
    full_sync(account=account)
    assert our_catalogue(world.org) == wecom_catalogue(account)
    assert [g.name for g in TagGroup.objects.filter(organization=world.org).order_by("order", "id")] == ["来源", "兴趣"]


def test_a_queued_change_wecom_refuses_later_is_shown_on_the_tag_page(account, world, wecom_sandbox):
    group = services.tag_group_create(organization=world.org, name="兴趣")
    services.tag_create(group=group, name="彩妆")
    wecom_sandbox.inject_error("externalcontact/add_corp_tag", 45033)  # concurrency limit: retried
    with pytest.raises(services.CataloguePending):
        services.tag_create(group=group, name="护肤")
    wecom_sandbox.add_tag_group("兴趣", ["护肤"])  # meanwhile made in the WeCom admin
    push = TagPush.objects.get(status=RemarkStatus.RETRYING)
    assert tag_push_run(push_id=push.pk) == "refused"
    assert not Tag.objects.filter(name="护肤").exists()
    page = world.client_for(world.operator).get("/tags/").content.decode()
    assert "排队重试的“新建标签 护肤”被企业微信拒绝" in page and "40071" in page
