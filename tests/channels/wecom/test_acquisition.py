"""获客助手: a link made in the console opens a chat in the sandbox, and the add arrives with the link's
customer_channel, is attributed like a 活码 add and gets the link's tags and staff; refusals with
WeCom's codes; click-to-add counts."""

from __future__ import annotations

import pytest
import requests
from django.urls import reverse

from channels.errors import PlatformError
from channels.models import AcquisitionLink, ContactWay, ContactWayKind
from channels.wecom import acquisition
from channels.wecom.acquisition import AcquisitionLinkError, ChannelSpec, acquisition_link_save
from channels.wecom.client import WeComClient
from contacts.models import Customer, Follow
from tests.channels.wecom.test_events import Relay
from tests.factories import StaffFactory, TagFactory


@pytest.fixture
def linked(db, wecom_sandbox, world):
    for userid in ("guide_a", "guide_b", "guide_c"):
        wecom_sandbox.add_member(userid, userid)
    account = wecom_sandbox.connect(world.org, default_store=world.store_b)
    staff = {
        u: StaffFactory(organization=world.org, store=None, wecom_userid=u, name=name)
        for u, name in (("guide_a", "导购甲"), ("guide_b", "导购乙"), ("guide_c", "导购丙"))
    }
    return account, staff, Relay(wecom_sandbox, account)


def _form(staff, tags, store, rows):
    data = {
        "name": "抖音小红书引流",
        "store": store.pk,
        "staff": [s.pk for s in staff],
        "tags": [t.pk for t in tags],
        "welcome_text": "你好，我是门店顾问",
        "skip_verify": "on",
        "ch-TOTAL_FORMS": str(len(rows)),
        "ch-INITIAL_FORMS": "0",
        "ch-MIN_NUM_FORMS": "0",
        "ch-MAX_NUM_FORMS": "50",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"ch-{i}-{key}"] = value
    return data


def test_a_link_made_in_the_console_opens_a_chat_and_the_add_is_attributed(linked, wecom_sandbox, world):
    account, staff, relay = linked
    tag = TagFactory(organization=world.org, name="抖音引流")
    client = world.client_for(world.operator)
    rows = [
        {"label": "抖音主页", "customer_channel": "dy_bio", "channel": "douyin", "store": ""},
        {"label": "小红书笔记", "customer_channel": "xhs_note", "channel": "other", "store": world.store_b.pk},
        {"label": "", "customer_channel": "", "channel": "other", "store": ""},  # an empty row is skipped
    ]
    response = client.post(
        reverse("channels:acquisition_new"), _form([staff["guide_a"], staff["guide_b"]], [tag], world.store_a, rows)
    )
    assert response.status_code == 302
    link = AcquisitionLink.objects.get()
    assert link.link_id and link.url.startswith(wecom_sandbox.base_url + "/ca/") and not link.sync_error
    ways = {w.state: w for w in ContactWay.objects.filter(acquisition_link=link)}
    assert set(ways) == {"dy_bio", "xhs_note"} and {w.kind for w in ways.values()} == {ContactWayKind.LINK}

    # WeCom's copy, read back over HTTP like the product reads WeCom.
    got = WeComClient.for_account(account).post("externalcontact/customer_acquisition/get", {"link_id": link.link_id})
    assert got["link"]["link_name"] == "抖音小红书引流" and got["link"]["skip_verify"] is True
    assert got["range"]["user_list"] == ["guide_a", "guide_b"]

    page = client.get(reverse("channels:acquisition_list")).content.decode()
    dy_url = acquisition.channel_url(link, "dy_bio")
    assert dy_url == f"{link.url}?customer_channel=dy_bio" and dy_url in page and "复制链接" in page

    # A WeChat user opens the 抖音 bio link: click → chat → add, delivered to our callback.
    opened = requests.get(dy_url, params={"name": "抖音粉丝"}, timeout=5)
    assert opened.status_code == 200 and "已添加企业微信好友" in opened.text
    assert relay() == ["done"]
    customer = Customer.objects.get()
    follow = Follow.objects.get(customer=customer)
    assert follow.state == "dy_bio" and follow.staff.wecom_userid in {"guide_a", "guide_b"}
    assert customer.source_channel == "douyin"
    assert customer.first_touch["contact_way_id"] == ways["dy_bio"].pk
    assert customer.home_store == world.store_a  # the link's store (the channel row names none)
    assert tag.pk in customer.tag_ids
    assert wecom_sandbox.welcomes()[-1]["text"] == "你好，我是门店顾问"

    # The 小红书 channel is attributed to its own store; the range is served in turn.
    requests.get(acquisition.channel_url(link, "xhs_note"), timeout=5)
    relay()
    second = Customer.objects.exclude(pk=customer.pk).get()
    assert second.home_store == world.store_b and second.source_channel == "other"
    assert {f.staff.wecom_userid for f in Follow.objects.all()} == {"guide_a", "guide_b"}

    # Click-to-add counts: ours from the add events, WeCom's from customer_acquisition/customer.
    assert client.post(reverse("channels:acquisition_action", args=[link.pk]), {"action": "stats"}).status_code == 302
    link.refresh_from_db()
    assert link.wecom_stats == {"dy_bio": {"customers": 1, "chatted": 1}, "xhs_note": {"customers": 1, "chatted": 1}}
    page = client.get(reverse("channels:acquisition_list")).content.decode()
    assert "添加 1 · 企业微信记录 1（已开口 1）" in page


def test_editing_replaces_the_range_and_deleting_stops_the_link(linked, wecom_sandbox, world):
    account, staff, relay = linked
    link = acquisition_link_save(
        account=account, name="直播间", staff=[staff["guide_a"]],
        channels=[ChannelSpec(label="抖音直播", customer_channel="dy_live", channel="douyin")],
    )  # fmt: skip
    client = world.client_for(world.operator)
    rows = [{"label": "视频号", "customer_channel": "sph_live", "channel": "video", "store": ""}]
    response = client.post(
        reverse("channels:acquisition_edit", args=[link.pk]), _form([staff["guide_c"]], [], world.store_a, rows)
    )
    assert response.status_code == 302
    api = WeComClient.for_account(account)
    got = api.post("externalcontact/customer_acquisition/get", {"link_id": link.link_id})
    assert got["range"]["user_list"] == ["guide_c"]
    old = ContactWay.objects.get(state="dy_live")
    assert not old.is_active  # taken off the link, kept for the adds it brought
    assert api.post("externalcontact/customer_acquisition/list_link", {"limit": 100})["link_id_list"] == [link.link_id]

    client.post(reverse("channels:acquisition_action", args=[link.pk]), {"action": "delete"})
    link.refresh_from_db()
    assert not link.is_active and not ContactWay.objects.filter(acquisition_link=link, is_active=True).exists()
    with pytest.raises(PlatformError) as refused:
        api.post("externalcontact/customer_acquisition/get", {"link_id": link.link_id})
    assert refused.value.code == 40058
    gone = requests.get(acquisition.channel_url(link, "sph_live"), timeout=5)
    assert gone.status_code == 404 and "40058" in gone.text
    assert relay() == []  # nothing was added


def test_the_sandbox_refuses_what_wecom_refuses(linked, wecom_sandbox):
    account, _staff, relay = linked
    api = WeComClient.for_account(account)
    create = "externalcontact/customer_acquisition/create_link"
    cases = [
        ({"link_name": "空范围", "range": {"user_list": [], "department_list": []}}, 40058),
        ({"link_name": "", "range": {"user_list": ["guide_a"]}}, 40058),
        ({"link_name": "太多人", "range": {"user_list": [f"u{i}" for i in range(101)]}}, 40058),
        ({"link_name": "不认识", "range": {"user_list": ["nobody"]}}, 60111),
    ]
    for body, code in cases:
        with pytest.raises(PlatformError) as refused:
            api.post(create, body)
        assert refused.value.code == code, body
    for path in ("get", "update_link", "delete_link", "customer"):
        with pytest.raises(PlatformError) as refused:
            api.post(f"externalcontact/customer_acquisition/{path}", {"link_id": "cawcde_unknown"})
        assert refused.value.code == 40058
    link = api.post(create, {"link_name": "ok", "range": {"user_list": ["guide_a"]}})["link"]
    with pytest.raises(PlatformError) as refused:
        api.post("externalcontact/customer_acquisition/update_link", {"link_id": link["link_id"], "range": {}})
    assert refused.value.code == 40058

    # The quota: each add uses one; used up, the link adds nobody and WeCom says so by callback.
    wecom_sandbox.set_acquisition_quota(balance=1)
    assert wecom_sandbox.open_link(link["link_id"], customer_channel="x" * 80)["state"] == "x" * 64  # cut at 64 B
    assert api.get("externalcontact/customer_acquisition_quota")["balance"] == 0
    refused_page = requests.get(link["url"], timeout=5)
    assert refused_page.status_code == 404 and "quota" in refused_page.text
    outbox = wecom_sandbox.fake.corp(wecom_sandbox.corp_id).outbox
    assert sum("balance_exhausted" in xml for xml in outbox) == 1
    assert relay() == ["done", "done"]  # the add, then balance_exhausted: kept on the account and shown
    account.refresh_from_db()
    assert account.settings["acquisition_quota"]["state"] == "balance_exhausted"


def test_bad_input_is_refused_before_anything_is_written(linked, wecom_sandbox, world):
    account, staff, _relay = linked
    ContactWay.objects.create(organization=world.org, account=account, name="门店码", state="dy_bio")
    no_wecom = StaffFactory(organization=world.org, wecom_userid="", name="没有企微")
    one = [ChannelSpec(label="抖音", customer_channel="dy_new", channel="douyin")]
    cases = [
        ({"name": "", "staff": [staff["guide_a"]], "channels": one}, "请填写链接名称"),
        ({"name": "x", "staff": [], "channels": one}, "请至少选择一位接待员工"),
        ({"name": "x", "staff": [no_wecom], "channels": one}, "没有企业微信账号"),
        ({"name": "x", "staff": [staff["guide_a"]], "channels": []}, "请至少添加一个投放渠道"),
        (
            {"name": "x", "staff": [staff["guide_a"]], "channels": [ChannelSpec(label="a", customer_channel="dy_bio")]},
            "已被其他活码或获客链接使用",
        ),
        (
            {"name": "x", "staff": [staff["guide_a"]], "channels": [ChannelSpec(label="a", customer_channel="有中文")]},
            "渠道参数最多 30 个字符",
        ),
        (
            {
                "name": "x",
                "staff": [staff["guide_a"]],
                "channels": [ChannelSpec("a", "same"), ChannelSpec("b", "same")],
            },
            "渠道参数重复",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(AcquisitionLinkError, match=message):
            acquisition_link_save(account=account, **kwargs)
    assert not AcquisitionLink.objects.exists()
    assert wecom_sandbox.fake.corp(wecom_sandbox.corp_id).acquisition_links == {}
    # The console shows the reason with the form (200, nothing written).
    client = world.client_for(world.operator)
    rows = [{"label": "抖音", "customer_channel": "dy_bio", "channel": "douyin", "store": ""}]
    page = client.post(reverse("channels:acquisition_new"), _form([staff["guide_a"]], [], world.store_a, rows))
    assert page.status_code == 200 and "已被其他活码或获客链接使用" in page.content.decode()
    assert not AcquisitionLink.objects.exists()


def test_store_staff_cannot_reach_links_of_other_stores(linked, world):
    account, staff, _relay = linked
    link = acquisition_link_save(
        account=account, name="B店链接", staff=[staff["guide_a"]], store=world.store_b,
        channels=[ChannelSpec(label="抖音", customer_channel="dy_b", channel="douyin")],
    )  # fmt: skip
    manager = world.client_for(world.manager)  # store A
    assert "B店链接" not in manager.get(reverse("channels:acquisition_list")).content.decode()
    operator_only = world.client_for(world.manager).post(
        reverse("channels:acquisition_action", args=[link.pk]), {"action": "delete"}
    )
    assert operator_only.status_code in (403, 404)
    other = world.client_for(world.outsider)
    assert other.get(reverse("channels:acquisition_edit", args=[link.pk])).status_code == 404
    link.refresh_from_db()
    assert link.is_active


def test_wecom_link_events_reach_the_page(linked, wecom_sandbox, world):
    account, staff, relay = linked
    link = acquisition_link_save(
        account=account, name="只有甲", staff=[staff["guide_a"]],
        channels=[ChannelSpec(label="抖音", customer_channel="dy_a", channel="douyin")],
    )  # fmt: skip
    other = acquisition_link_save(
        account=account, name="乙的链接", staff=[staff["guide_b"]],
        channels=[ChannelSpec(label="小红书", customer_channel="xhs_b", channel="other")],
    )  # fmt: skip
    wecom_sandbox.resign_member("guide_a")  # the whole range has left
    wecom_sandbox.admin_deletes_link(other.link_id)
    assert relay() == ["done", "done"]
    link.refresh_from_db()
    other.refresh_from_db()
    assert "已不可用" in link.sync_error and link.is_active
    assert not other.is_active and not ContactWay.objects.get(state="xhs_b").is_active
    page = world.client_for(world.operator).get(reverse("channels:acquisition_list")).content.decode()
    assert "企业微信报告该链接已不可用" in page
    wecom_sandbox.set_acquisition_quota(balance=20)
    wecom_sandbox.fake.corp(wecom_sandbox.corp_id).members["guide_a"]["status"] = 1
    wecom_sandbox.open_link(link.link_id, customer_channel="dy_a")
    assert relay() == ["done", "done"]  # the add and balance_low
    page = world.client_for(world.operator).get(reverse("channels:acquisition_list")).content.decode()
    assert "获客助手使用量即将用完" in page
