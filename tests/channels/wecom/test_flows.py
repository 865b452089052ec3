"""WeCom flows over real HTTP: the sandbox posts encrypted callbacks to our live webhook."""

from __future__ import annotations

import time

import pytest

from channels.inbox import inbox_process
from channels.models import InboxEvent, InboxStatus
from channels.wecom.sync import full_sync
from contacts.models import Customer, CustomerGroup, Follow, Identity, Tag, TagGroup
from contacts.services import customer_tag_add


def process_pending():
    for event_id in InboxEvent.objects.filter(status=InboxStatus.PENDING).order_by("id").values_list("id", flat=True):
        inbox_process(event_id=event_id)


def our_base(org, corp_id):
    """Our customers as the sandbox snapshot shows them: ext → {name, follows{userid: tags}}."""
    out = {}
    for identity in Identity.objects.filter(organization=org, platform="wecom", account=corp_id).select_related(
        "customer"
    ):
        follows = Follow.objects.filter(customer=identity.customer, deleted_at__isnull=True).select_related("staff")
        if not follows:
            continue
        tags = sorted(
            Tag.objects.filter(pk__in=identity.customer.tag_ids)
            .exclude(wecom_tag_id="")
            .values_list("wecom_tag_id", flat=True)
        )
        out[identity.external_id] = {
            "name": identity.customer.name,
            "follows": sorted(f.staff.wecom_userid for f in follows),
            "tags": tags,
        }
    return out


def platform_base(snapshot):
    return {
        ext: {
            "name": c["name"],
            "follows": sorted(c["follows"]),
            "tags": sorted({t for f in c["follows"].values() for t in f["tags"]}),
        }
        for ext, c in snapshot["customers"].items()
    }


@pytest.fixture
def live_account(transactional_db, live_server, wecom_sandbox, world):
    for userid in ("zhangsan", "lisi", "wangwu"):
        wecom_sandbox.add_member(userid, userid)
    return wecom_sandbox.connect(world.org, callback_base=live_server.url)


def test_the_sandbox_answers_the_url_verification_against_our_live_webhook(live_account, wecom_sandbox):
    result = wecom_sandbox.verify_callback_url()
    assert result["ok"], result
    assert result["seconds"] < 1.0


def test_after_drops_and_reordering_a_sync_equals_the_platform(live_account, wecom_sandbox, world):
    wecom_sandbox.add_tag_group("兴趣", ["护肤", "彩妆"])
    skin = wecom_sandbox.tag_id("护肤")
    wecom_sandbox.set_options(hold_callbacks=True)
    a = wecom_sandbox.scan(userid="zhangsan", name="甲")["external_userid"]
    b = wecom_sandbox.scan(userid="lisi", name="乙")["external_userid"]
    c = wecom_sandbox.scan(userid="zhangsan", name="丙")["external_userid"]
    wecom_sandbox.scan(userid="wangwu", external_userid=a)  # 甲 also adds 王五
    wecom_sandbox.edit_customer(a, "zhangsan", add_tags=[skin])
    wecom_sandbox.customer_deletes(b, "lisi")  # churn
    wecom_sandbox.member_deletes("zhangsan", c)
    chat = wecom_sandbox.create_group("zhangsan", name="福利群", members=[a])
    # Delivered backwards, the second event twice, the third dropped.
    statuses = wecom_sandbox.flush(order="reverse", drop=[2], duplicate=[1])
    assert all(s == 200 for s in statuses)
    process_pending()
    assert our_base(world.org, wecom_sandbox.corp_id) != platform_base(wecom_sandbox.snapshot())

    run = full_sync(account=live_account)
    assert run.status == "done"
    assert our_base(world.org, wecom_sandbox.corp_id) == platform_base(wecom_sandbox.snapshot())
    group = CustomerGroup.objects.get(wecom_chat_id=chat)
    assert {m.member_id for m in group.members.filter(left_at__isnull=True)} == {"zhangsan", a}
    # 乙 deleted 李四 (the add arrived after the deletion): no active follow for 乙.
    assert not Follow.objects.filter(customer__identities__external_id=b, deleted_at__isnull=True).exists()
    # Idempotent: a second sync changes nothing.
    full_sync(account=live_account)
    assert our_base(world.org, wecom_sandbox.corp_id) == platform_base(wecom_sandbox.snapshot())


def test_tag_changes_in_the_console_are_pushed_with_mark_tag(live_account, wecom_sandbox, world):
    wecom_sandbox.add_tag_group("兴趣", ["护肤"])
    ext = wecom_sandbox.seed_customer("zhangsan", name="丁")
    full_sync(account=live_account)
    tag = Tag.objects.get(name="护肤")
    assert TagGroup.objects.get(name="兴趣")
    customer = Customer.objects.get(name="丁")
    from channels.wecom.services import tag_push

    customer_tag_add(customer=customer, tag=tag)  # enqueues the push (worker-less test: run it here)
    assert tag_push(customer_id=customer.pk, added=[tag.pk], removed=[]) == 1
    assert wecom_sandbox.snapshot()["customers"][ext]["follows"]["zhangsan"]["tags"] == [tag.wecom_tag_id]


def test_a_tag_deleted_in_the_console_is_deleted_in_wecom_and_a_sync_does_not_bring_it_back(
    live_account, wecom_sandbox, world
):
    from unittest import mock

    from channels.wecom.services import tag_delete_push
    from contacts.services import tag_delete

    wecom_sandbox.add_tag_group("兴趣", ["护肤", "美妆"])
    wecom_sandbox.seed_customer("zhangsan", name="丁")
    full_sync(account=live_account)
    tag = Tag.objects.get(name="护肤")
    wecom_id = tag.wecom_tag_id
    with mock.patch("channels.wecom.tasks.tag_delete_push_task.delay") as delay:
        tag_delete(tag=tag)  # del_corp_tag first (in the call), then deleted here
    assert delay.call_args_list == []  # the listener hears source=sync: nothing is pushed twice
    assert not Tag.objects.filter(pk=tag.pk).exists()
    names = [t["name"] for g in wecom_sandbox.snapshot()["tag_groups"] for t in g["tag"]]
    assert names == ["美妆"]
    # Pushed again (a retried task): WeCom answers 40068 (unknown tag), which counts as done.
    assert tag_delete_push(organization_id=world.org.pk, wecom_tag_id=wecom_id) == 0
    full_sync(account=live_account)
    assert not Tag.objects.filter(name="护肤").exists()


def test_a_tag_deleted_in_wecom_is_deleted_here_without_pushing_it_back(live_account, wecom_sandbox, world):
    from unittest import mock

    wecom_sandbox.add_tag_group("兴趣", ["护肤", "美妆"])
    full_sync(account=live_account)
    wecom_id = wecom_sandbox.tag_id("美妆")
    assert Tag.objects.filter(wecom_tag_id=wecom_id).exists()
    for group in wecom_sandbox.fake.corp(wecom_sandbox.corp_id).tag_groups.values():  # deleted in WeCom
        group["tag"] = [t for t in group["tag"] if t["id"] != wecom_id]
    with mock.patch("channels.wecom.tasks.tag_delete_push_task.delay") as delay:
        full_sync(account=live_account)
    assert not Tag.objects.filter(wecom_tag_id=wecom_id).exists()
    assert Tag.objects.filter(name="护肤").exists()
    assert delay.call_args_list == []


def test_the_sync_marks_a_resigned_member_departed_and_brings_a_returning_one_back(live_account, wecom_sandbox, world):
    from django.contrib.auth import get_user_model

    from campaigns.models import Campaign, CampaignKind, Delivery
    from campaigns.planner import campaign_plan
    from contacts.models import Staff

    ext = wecom_sandbox.seed_customer("zhangsan", name="戊", createtime=int(time.time()) - 86400)
    wecom_sandbox.scan(userid="lisi", external_userid=ext)  # 戊 also adds 李四 (the later follow)
    other = wecom_sandbox.seed_customer("wangwu", name="己")
    wecom_sandbox.scan(userid="lisi", external_userid=other)  # 己: 王五 (stays) and 李四
    full_sync(account=live_account)
    zhangsan = Staff.objects.get(organization=world.org, wecom_userid="zhangsan")
    lisi = Staff.objects.get(organization=world.org, wecom_userid="lisi")
    user = get_user_model().objects.create_user(username="zhangsan-login", password="x")
    Staff.objects.filter(pk=zhangsan.pk).update(user=user)
    customer = Identity.objects.get(external_id=ext).customer
    Customer.objects.filter(pk=customer.pk).update(marketing_consent=True)

    wecom_sandbox.resign_member("lisi")
    wecom_sandbox.resign_member("zhangsan")
    run = full_sync(account=live_account)
    zhangsan.refresh_from_db()
    lisi.refresh_from_db()
    user.refresh_from_db()
    assert not zhangsan.is_active and zhangsan.departed_at is not None
    assert not user.is_active  # a resigned member can no longer sign in
    assert not lisi.is_active
    assert run.stats["staff_departed"] == 2
    # The follows stay (WeCom keeps them until 离职继承), whether or not an active member also follows.
    assert Follow.objects.filter(customer=customer, deleted_at__isnull=True).count() == 2
    other_customer = Identity.objects.get(external_id=other).customer
    assert {f.staff.wecom_userid for f in Follow.objects.filter(customer=other_customer, deleted_at__isnull=True)} == {
        "wangwu",
        "lisi",
    }
    # A userid WeCom does not know at all (a typing error, say) is left alone.
    stranger = world.store_staff
    stranger.refresh_from_db()
    assert stranger.is_active and stranger.user.is_active
    # Idempotent.
    assert full_sync(account=live_account).stats["staff_departed"] == 0

    # 张三 comes back: the next sync returns him, login included, and he sends to 戊 again.
    wecom_sandbox.add_member("zhangsan", "zhangsan")
    assert full_sync(account=live_account).stats["staff_returned"] == 1
    zhangsan.refresh_from_db()
    user.refresh_from_db()
    assert zhangsan.is_active and zhangsan.departed_at is None and user.is_active
    campaign = Campaign.objects.create(
        organization=world.org,
        name="回访",
        kind=CampaignKind.BROADCAST_SINGLE,
        text="你好",
        expression={"consent": "granted"},
    )
    campaign_plan(campaign_id=campaign.pk)
    delivery = Delivery.objects.get(campaign=campaign, customer=customer)
    assert delivery.sender_id == zhangsan.pk  # 李四 (the later follow) has resigned
