"""Each WeCom callback type, from the sandbox's real encrypted payloads through the inbox processor."""

from __future__ import annotations

import pytest
from django.test import Client

from channels.inbox import inbox_process
from channels.models import InboxEvent, InboxStatus
from channels.selectors import callback_url
from channels.wecom.crypto import WXBizMsgCrypt
from contacts.models import Customer, CustomerGroup, Follow, Tag, TimelineEvent


class Relay:
    """Delivers the sandbox's held callbacks to our webhook with the Django test client (no live server)."""

    def __init__(self, sandbox, account):
        self.sandbox, self.account = sandbox, account
        self.path = "/hooks/" + callback_url(account).split("/hooks/", 1)[1]
        sandbox.set_options(hold_callbacks=True)

    def __call__(self) -> list[str]:
        corp = self.sandbox.fake.corp(self.sandbox.corp_id)
        crypt = WXBizMsgCrypt(self.sandbox.token, self.sandbox.aes_key, self.sandbox.corp_id)
        results = []
        for index, xml in enumerate(list(corp.outbox)):
            body, query = crypt.encrypt_message(xml, nonce=str(1000 + index))
            url = self.path + "?" + "&".join(f"{k}={v}" for k, v in query.items())
            assert Client().post(url, data=body, content_type="text/xml").status_code == 200
        corp.outbox.clear()
        for event_id in (
            InboxEvent.objects.filter(status=InboxStatus.PENDING).order_by("id").values_list("id", flat=True)
        ):
            results.append(inbox_process(event_id=event_id))
        return results


@pytest.fixture
def relay(db, wecom_sandbox, world):
    for userid in ("guide_a", "guide_b"):
        wecom_sandbox.add_member(userid, userid)
    account = wecom_sandbox.connect(world.org, default_store=world.store_b)
    return Relay(wecom_sandbox, account)


def test_video_account_adds_are_attributed_to_video(relay, wecom_sandbox):
    wecom_sandbox.scan(
        userid="guide_a", name="直播观众", add_way=10, wechat_channels={"nickname": "悦享直播", "source": 2}
    )
    assert relay() == [InboxStatus.DONE]
    customer = Customer.objects.get()
    assert customer.source_channel == "video"
    assert customer.first_touch["video"] == {"nickname": "悦享直播", "source": 2, "source_label": "视频号直播间"}
    assert customer.home_store == relay.account.default_store  # no 活码, staff without store → the account's default


def test_add_half_edit_and_both_deletions(relay, wecom_sandbox, world):
    ext = wecom_sandbox.scan(userid="guide_a", name="甲", half=True)["external_userid"]
    wecom_sandbox.scan(userid="guide_b", external_userid=ext)
    relay()
    customer = Customer.objects.get()
    assert Follow.objects.filter(customer=customer, deleted_at__isnull=True).count() == 2
    wecom_sandbox.add_tag_group("兴趣", ["护肤"])
    from channels.wecom.client import WeComClient
    from channels.wecom.services import sync_corp_tags

    sync_corp_tags(relay.account, WeComClient.for_account(relay.account))
    wecom_sandbox.edit_customer(ext, "guide_a", remark="老客户", add_tags=[wecom_sandbox.tag_id("护肤")])
    relay()
    customer.refresh_from_db()
    assert Tag.objects.get(name="护肤").pk in customer.tag_ids
    assert Follow.objects.get(customer=customer, staff__wecom_userid="guide_a").remark == "老客户"
    wecom_sandbox.customer_deletes(ext, "guide_a")
    wecom_sandbox.member_deletes("guide_b", ext)
    relay()
    follows = {f.staff.wecom_userid: f.deleted_by for f in Follow.objects.filter(customer=customer)}
    assert follows == {"guide_a": "customer", "guide_b": "staff"}
    assert TimelineEvent.objects.filter(customer=customer, kind="removed").count() == 2


def test_a_replayed_deletion_does_not_end_a_later_re_add(relay, wecom_sandbox):
    ext = wecom_sandbox.scan(userid="guide_a", name="乙")["external_userid"]
    relay()
    wecom_sandbox.customer_deletes(ext, "guide_a")
    relay()
    event = InboxEvent.objects.filter(event_type__endswith="del_follow_user").get()
    wecom_sandbox.set_options(clock_offset=5)  # the re-add happens later
    wecom_sandbox.scan(userid="guide_a", external_userid=ext)
    relay()
    follow = Follow.objects.get()
    assert follow.deleted_at is None
    InboxEvent.objects.filter(pk=event.pk).update(status=InboxStatus.FAILED)
    assert inbox_process(event_id=event.pk) == InboxStatus.IGNORED
    follow.refresh_from_db()
    assert follow.deleted_at is None


def test_group_create_update_and_dismiss(relay, wecom_sandbox, world):
    ext = wecom_sandbox.scan(userid="guide_a", name="丙")["external_userid"]
    chat = wecom_sandbox.create_group("guide_a", name="会员群")
    wecom_sandbox.join_group(chat, ext)
    relay()
    group = CustomerGroup.objects.get(wecom_chat_id=chat)
    assert group.name == "会员群" and group.owner.wecom_userid == "guide_a" and group.member_count == 2
    member = group.members.get(member_id=ext)
    assert member.customer == Customer.objects.get()
    wecom_sandbox.leave_group(chat, ext)
    relay()
    member.refresh_from_db()
    assert member.left_at is not None
    wecom_sandbox.dismiss_group(chat)
    relay()
    assert not group.members.filter(left_at__isnull=True).exists()
    group.refresh_from_db()
    assert group.dismissed_at is not None and group.member_count == 0  # no campaign plans it again


def test_corp_tag_events_resync_tags(relay, wecom_sandbox):
    wecom_sandbox.add_tag_group("等级", ["金卡"])
    tag_id = wecom_sandbox.tag_id("金卡")
    wecom_sandbox.emit_tag_change(tag_id, "create")
    relay()
    assert Tag.objects.get(wecom_tag_id=tag_id).name == "金卡"
    wecom_sandbox.fake.corp(wecom_sandbox.corp_id).tag_groups.clear()
    wecom_sandbox.emit_tag_change(tag_id, "delete")
    relay()
    assert not Tag.objects.filter(wecom_tag_id=tag_id).exists()


def test_transfer_fail_is_written_on_the_timeline(relay, wecom_sandbox):
    ext = wecom_sandbox.scan(userid="guide_a", name="丁")["external_userid"]
    relay()
    from channels import outbound  # noqa: F401 - transfer through the client like the console does
    from channels.wecom.client import WeComClient

    WeComClient.for_account(relay.account).post(
        "externalcontact/transfer_customer",
        {"handover_userid": "guide_a", "takeover_userid": "guide_b", "external_userid": [ext]},
    )
    wecom_sandbox.complete_transfers(refuse=[ext])
    relay()
    assert TimelineEvent.objects.filter(kind="transferred", summary__contains="客户拒绝").exists()
    assert Follow.objects.get().staff.wecom_userid == "guide_a"


def test_unknown_events_are_kept_as_ignored(relay, wecom_sandbox):
    corp = wecom_sandbox.fake.corp(wecom_sandbox.corp_id)
    corp.outbox.append(
        "<xml><ToUserName>x</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content></xml>"
    )
    assert relay() == [InboxStatus.IGNORED]


def test_joining_through_a_group_code_applies_its_tags(relay, wecom_sandbox, world):
    from channels.wecom.contact_ways import contact_way_save
    from tests.factories import TagFactory

    tag = TagFactory(group__organization=world.org, name="福利群")
    ext = wecom_sandbox.scan(userid="guide_a", name="戊")["external_userid"]
    chat = wecom_sandbox.create_group("guide_a", name="福利1群")
    relay()
    way = contact_way_save(
        account=relay.account, name="福利群码", kind="join", state="join_fl", chat_ids=[chat], tags=[tag]
    )
    wecom_sandbox.join_via(way.config_id, ext)
    relay()
    customer = Customer.objects.get()
    assert tag.pk in customer.tag_ids
    assert CustomerGroup.objects.get(wecom_chat_id=chat).members.get(member_id=ext).left_at is None


def test_only_40050_marks_a_group_gone_not_a_handover_code(relay, wecom_sandbox):
    from channels.errors import PlatformError
    from channels.wecom.client import WeComClient
    from channels.wecom.services import refresh_group

    chat = wecom_sandbox.create_group("guide_a", name="会员群")
    client = WeComClient.for_account(relay.account)
    refresh_group(relay.account, client, chat)
    group = CustomerGroup.objects.get(wecom_chat_id=chat)
    wecom_sandbox.inject_error("externalcontact/groupchat/get", 90500)  # "owner not resigned": not "gone"
    with pytest.raises(PlatformError):
        refresh_group(relay.account, client, chat)
    group.refresh_from_db()
    assert group.dismissed_at is None
    wecom_sandbox.inject_error("externalcontact/groupchat/get", 40050)
    refresh_group(relay.account, client, chat)
    group.refresh_from_db()
    assert group.dismissed_at is not None
