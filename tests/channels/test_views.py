"""Channel console pages: owner / same-org user without the right / outsider, against the sandbox."""

from __future__ import annotations

import pytest
from django.urls import reverse

from channels.inbox import inbox_store
from channels.models import ChannelAccount, ContactWay, CustomerTransfer, InboxEvent, InboxStatus
from channels.registry import IncomingEvent
from channels.wecom.contact_ways import contact_way_save
from contacts.models import Identity
from tests.factories import CustomerFactory, FollowFactory, StaffFactory, TagFactory


@pytest.fixture
def account(db, wecom_sandbox, world):
    wecom_sandbox.add_member("guide_a", "导购A")
    wecom_sandbox.add_member("guide_b", "导购B")
    return wecom_sandbox.connect(world.org)


@pytest.fixture
def guide(world):
    return StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_a", name="导购A")


def test_contactway_list_is_for_operators_and_managers_only(account, guide, world):
    way = contact_way_save(account=account, name="A店前台", store=world.store_a, staff=[guide])
    url = reverse("channels:contactway_list")
    assert url == "/channels/qrcodes/"
    page = world.client_for(world.operator).get(url)
    assert page.status_code == 200 and "A店前台" in page.content.decode()
    assert "A店前台" in world.client_for(world.manager).get(url).content.decode()
    assert world.client_for(world.store_staff).get(url).status_code == 403
    assert world.client_for(world.no_role).get(url).status_code == 403
    assert "A店前台" not in world.client_for(world.outsider).get(url).content.decode()
    assert world.client_for(world.outsider).get(reverse("channels:contactway_edit", args=[way.pk])).status_code == 404


def test_managers_only_see_codes_of_their_stores(account, guide, world):
    contact_way_save(account=account, name="B店门口", store=world.store_b, staff=[guide])
    assert "B店门口" not in world.client_for(world.manager).get(reverse("channels:contactway_list")).content.decode()


def test_an_operator_creates_a_code_that_is_mirrored_to_wecom_and_downloads_its_qr(
    account, guide, world, wecom_sandbox
):
    tag = TagFactory(group__organization=world.org, name="扫码")
    client = world.client_for(world.operator)
    response = client.post(
        reverse("channels:contactway_new"),
        {"kind": "contact", "name": "抖音投放页", "state": "dy_ad_42", "channel": "douyin", "store": world.store_a.pk,
         "staff": [guide.pk], "tags": [tag.pk], "welcome_text": "你好", "skip_verify": "on", "room_base_id": 1},
    )  # fmt: skip
    assert response.status_code == 302
    way = ContactWay.objects.get(state="dy_ad_42")
    assert way.config_id in wecom_sandbox.snapshot()["contact_ways"]
    assert wecom_sandbox.snapshot()["contact_ways"][way.config_id]["user"] == ["guide_a"]
    qr = client.get(reverse("channels:contactway_qr", args=[way.pk]) + "?download=1")
    assert qr.status_code == 200 and qr["Content-Type"] == "image/png" and qr.content.startswith(b"\x89PNG")
    assert "attachment" in qr["Content-Disposition"]
    assert client.get(reverse("channels:contactway_print", args=[way.pk])).status_code == 200
    # Edit: WeCom's code is updated in place (same config_id).
    client.post(
        reverse("channels:contactway_edit", args=[way.pk]),
        {"name": "抖音投放页2", "state": "dy_ad_42", "channel": "douyin", "staff": [guide.pk], "room_base_id": 1},
    )
    way.refresh_from_db()
    assert (
        way.name == "抖音投放页2" and wecom_sandbox.snapshot()["contact_ways"][way.config_id]["remark"] == "抖音投放页2"
    )
    # Managers may look but not create.
    assert world.client_for(world.manager).post(reverse("channels:contactway_new"), {"name": "x"}).status_code == 403
    client.post(reverse("channels:contactway_action", args=[way.pk]), {"action": "disable"})
    assert wecom_sandbox.snapshot()["contact_ways"] == {}


def test_invalid_codes_are_refused_with_a_clear_message(account, world):
    nobody = StaffFactory(organization=world.org, wecom_userid="", name="无企微")
    client = world.client_for(world.operator)
    response = client.post(
        reverse("channels:contactway_new"),
        {"kind": "contact", "name": "x", "state": "有中文", "channel": "wecom", "room_base_id": 1},
    )
    assert "渠道参数最多 30 个字符" in response.content.decode()
    response = client.post(
        reverse("channels:contactway_new"), {"kind": "contact", "name": "x", "channel": "wecom", "room_base_id": 1}
    )
    assert "请至少选择一位接待员工" in response.content.decode()
    assert nobody.pk  # staff without a WeCom account are not offered at all
    assert not ContactWay.objects.exists()


def test_group_code_opens_a_new_group_when_full(account, guide, world, wecom_sandbox):
    chat = wecom_sandbox.create_group("guide_a", name="福利群1")
    way = contact_way_save(
        account=account, name="福利群活码", kind="join", chat_ids=[chat], room_base_name="福利群", room_base_id=1
    )
    assert way.config_id and way.qr_code and not way.sync_error
    wecom_sandbox.set_options(group_capacity=2)
    assert wecom_sandbox.join_via(way.config_id, "wm1") == chat
    second = wecom_sandbox.join_via(way.config_id, "wm2")
    assert second != chat
    assert wecom_sandbox.snapshot()["groups"][second]["name"] == "福利群2"


def test_accounts_connect_test_and_disable(world, wecom_sandbox):
    client = world.client_for(world.operator)
    url = reverse("channels:account_connect")
    bad = client.post(
        url, {"name": "企微", "corp_id": wecom_sandbox.corp_id, "secret": "s", "token": "t", "aes_key": "short"}
    )
    assert "43 个字符" in bad.content.decode()
    response = client.post(url, {"name": "企微", "corp_id": wecom_sandbox.corp_id, "secret": wecom_sandbox.secret, "token": wecom_sandbox.token,
                                 "aes_key": wecom_sandbox.aes_key, "api_base": wecom_sandbox.base_url})  # fmt: skip
    assert response.status_code == 302
    account = ChannelAccount.objects.get()
    assert wecom_sandbox.secret not in account.credentials_encrypted
    assert account.credentials()["secret"] == wecom_sandbox.secret
    listing = client.get(reverse("channels:account_list")).content.decode()
    assert f"/hooks/wecom/{account.hook_key}/" in listing
    client.post(reverse("channels:account_action", args=[account.pk]), {"action": "test"})
    account.refresh_from_db()
    assert account.last_test_ok is True
    # Editing with blank secrets keeps them.
    client.post(
        reverse("channels:account_edit", args=[account.pk]),
        {
            "name": "企微2",
            "corp_id": wecom_sandbox.corp_id,
            "api_base": wecom_sandbox.base_url,
            "per_minute": 600,
            "concurrency": 3,
        },
    )
    account.refresh_from_db()
    assert account.name == "企微2" and account.credentials()["aes_key"] == wecom_sandbox.aes_key
    assert account.rate_limits == {"default": {"per_minute": 600, "concurrency": 3}}
    client.post(reverse("channels:account_action", args=[account.pk]), {"action": "disable"})
    account.refresh_from_db()
    assert not account.is_active
    for staff in (world.manager, world.store_staff, world.no_role):
        assert world.client_for(staff).get(reverse("channels:account_list")).status_code == 403
    assert (
        world.client_for(world.outsider)
        .post(reverse("channels:account_action", args=[account.pk]), {"action": "enable"})
        .status_code
        == 404
    )


def test_a_wrong_secret_shows_what_to_fix(world, wecom_sandbox):
    account = wecom_sandbox.connect(world.org)
    account.set_credentials({**account.credentials(), "secret": "wrong"})
    account.save()
    response = world.client_for(world.operator).post(
        reverse("channels:account_action", args=[account.pk]), {"action": "test"}, follow=True
    )
    assert "40001" in response.content.decode() and "Secret" in response.content.decode()


def test_operators_see_and_replay_failed_inbox_events(account, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        inbox_store(
            account=account,
            events=[IncomingEvent(event_key="k1", body="<xml/>", event_type="change_external_contact:add")],
        )
    InboxEvent.objects.update(status=InboxStatus.FAILED, error="boom", attempts=1)
    client = world.client_for(world.operator)
    page = client.get(reverse("channels:inbox_list") + "?status=failed")
    assert page.status_code == 200 and "boom" in page.content.decode()
    event = InboxEvent.objects.get()
    assert client.get(reverse("channels:inbox_detail", args=[event.pk])).status_code == 200
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("channels:inbox_replay"), {"event": event.pk})
    assert len(callbacks) == 1
    event.refresh_from_db()
    assert event.status == InboxStatus.PENDING
    assert world.client_for(world.manager).get(reverse("channels:inbox_list")).status_code == 403
    outsider_page = world.client_for(world.outsider).get(reverse("channels:inbox_list")).content.decode()
    assert "boom" not in outsider_page
    assert world.client_for(world.outsider).get(reverse("channels:inbox_detail", args=[event.pk])).status_code == 404


def test_reassigning_a_departing_members_customers(account, guide, world, wecom_sandbox):
    other = StaffFactory(organization=world.org, wecom_userid="guide_b", name="导购B")
    customer = CustomerFactory(organization=world.org)
    FollowFactory(customer=customer, staff=guide)
    ext = wecom_sandbox.seed_customer("guide_a")
    Identity.objects.create(
        organization=world.org, customer=customer, platform="wecom", account=wecom_sandbox.corp_id, external_id=ext
    )
    client = world.client_for(world.operator)
    response = client.post(
        reverse("channels:transfer_list"),
        {"kind": "on_job", "handover": guide.pk, "takeover": other.pk, "message": "以后由我为您服务"},
    )
    assert response.status_code == 302
    transfer = CustomerTransfer.objects.get()
    assert transfer.results == {ext: {"errcode": 0, "status": 2}}
    wecom_sandbox.complete_transfers()
    client.post(reverse("channels:transfer_refresh", args=[transfer.pk]))
    transfer.refresh_from_db()
    assert transfer.status == "done" and transfer.results[ext]["status"] == 1
    assert "guide_b" in wecom_sandbox.snapshot()["customers"][ext]["follows"]
    assert world.client_for(world.manager).get(reverse("channels:transfer_list")).status_code == 403


def test_in_the_sandbox_an_operator_can_simulate_a_scan(account, guide, world, wecom_sandbox, settings):
    settings.SANDBOX_ENABLED = True
    wecom_sandbox.set_options(hold_callbacks=True)
    way = contact_way_save(account=account, name="演示码", state="demo_scan", staff=[guide])
    client = world.client_for(world.operator)
    assert "模拟扫码" in client.get(reverse("channels:contactway_list")).content.decode()
    client.post(reverse("channels:contactway_action", args=[way.pk]), {"action": "simulate_scan"})
    customers = wecom_sandbox.snapshot()["customers"]
    assert [c["follows"]["guide_a"]["state"] for c in customers.values()] == ["demo_scan"]


def test_list_pages_do_not_query_per_row(
    account, guide, world, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    client = world.client_for(world.operator)
    tag = TagFactory(group__organization=world.org)
    for i in range(8):
        way = contact_way_save(account=account, name=f"码{i}", staff=[guide])
        way.tags.set([tag])
    with django_capture_on_commit_callbacks():
        inbox_store(account=account, events=[IncomingEvent(event_key=f"k{i}", body="<xml/>") for i in range(8)])
    with django_assert_max_num_queries(16):
        assert client.get(reverse("channels:contactway_list")).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("channels:inbox_list")).status_code == 200


def test_the_account_list_shows_the_last_sync(account, world, wecom_sandbox):
    from channels.wecom.sync import full_sync

    wecom_sandbox.seed_customer("guide_a", name="己")
    full_sync(account=account)
    page = world.client_for(world.operator).get(reverse("channels:account_list")).content.decode()
    assert "1 位客户，0 个群" in page


def test_departed_members_with_customers_are_listed_for_handover(account, guide, world):
    from contacts.services import staff_depart

    customer = CustomerFactory(organization=world.org)
    FollowFactory(customer=customer, staff=guide)
    quiet = StaffFactory(organization=world.org, name="无客户的离职员工")
    staff_depart(staff=guide)
    staff_depart(staff=quiet)  # no customers: nothing to hand over
    client = world.client_for(world.operator)
    page = client.get(reverse("channels:transfer_list")).content.decode()
    waiting = page.split("离职待继承", 1)[1].split("</table>", 1)[0]
    assert guide.name in waiting and quiet.name not in waiting
    prefilled = client.get(reverse("channels:transfer_list"), {"kind": "resigned", "handover": guide.pk})
    form = prefilled.context["form"]
    assert form["kind"].value() == "resigned" and str(form["handover"].value()) == str(guide.pk)
    # Another organization's departed staff never show.
    assert guide.name not in world.client_for(world.outsider).get(reverse("channels:transfer_list")).content.decode()
