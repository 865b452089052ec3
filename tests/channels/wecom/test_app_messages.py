"""App messages (应用消息) to members through the sandbox: recorded before sent, sent once, refusals kept
with WeCom's code, and the sandbox refusing what message/send refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from channels.app_messages import (
    AppMessageError,
    app_message_deliver,
    app_message_send,
    app_messages_sweep,
)
from channels.errors import PlatformError
from channels.models import AppMessage, AppMessageStatus
from channels.wecom.client import WeComClient
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(wecom_sandbox, world):
    wecom_sandbox.add_member("clerk1", "店员一")
    wecom_sandbox.add_member("gone", "已离职")
    wecom_sandbox.fake.corp(wecom_sandbox.corp_id).members["gone"]["status"] = 5
    return wecom_sandbox.connect(world.org)


def _staff(world, userid):
    return StaffFactory(organization=world.org, store=world.store_a, wecom_userid=userid)


def test_a_message_is_recorded_once_per_key_and_arrives_once(
    account, world, wecom_sandbox, django_capture_on_commit_callbacks
):
    clerk = _staff(world, "clerk1")
    with django_capture_on_commit_callbacks() as callbacks:
        first = app_message_send(
            organization_id=world.org.pk, staff_ids=[clerk.pk], text="新线索待添加", source_key="lead:1"
        )
        again = app_message_send(
            organization_id=world.org.pk, staff_ids=[clerk.pk], text="新线索待添加", source_key="lead:1"
        )
    assert first.pk == again.pk and len(callbacks) == 1  # one row, one task
    sent = app_message_deliver(message_id=first.pk)
    assert sent.status == AppMessageStatus.SENT and sent.msgid and sent.touser == ["clerk1"]
    assert app_message_deliver(message_id=first.pk).attempts == 1  # a redelivered task sends nothing
    received = wecom_sandbox.app_messages()
    assert [(m["touser"], m["msgtype"], m["text"]["content"]) for m in received] == [
        (["clerk1"], "text", "新线索待添加")
    ]


def test_a_card_with_a_link_and_members_without_wecom_or_departed(account, world, wecom_sandbox):
    clerk, departed, no_wecom = _staff(world, "clerk1"), _staff(world, "gone"), _staff(world, "")
    message = app_message_send(
        organization_id=world.org.pk,
        staff_ids=[clerk.pk, departed.pk, no_wecom.pk],
        text="你有 3 条待办将到期",
        title="待办提醒",
        url="https://scrm.example.com/todos/",
        source_key="todo-reminder:1",
    )
    sent = app_message_deliver(message_id=message.pk)
    assert sent.status == AppMessageStatus.PARTIAL and sent.invalid_users == ["gone"]
    assert sent.skipped_staff_ids == [no_wecom.pk]
    card = wecom_sandbox.app_messages()[0]
    assert card["touser"] == ["clerk1"] and card["textcard"]["url"] == "https://scrm.example.com/todos/"


def test_every_recipient_invalid_is_a_failure_with_what_to_do(account, world, wecom_sandbox):
    departed = _staff(world, "gone")
    message = app_message_send(organization_id=world.org.pk, staff_ids=[departed.pk], text="提醒", source_key="k")
    failed = app_message_deliver(message_id=message.pk)
    assert failed.status == AppMessageStatus.FAILED and "81013" in failed.error and "可见范围" in failed.error
    assert wecom_sandbox.app_messages() == []


def test_no_agent_id_fails_and_says_where_to_fill_it_in(account, world, wecom_sandbox):
    account.agent_id = ""
    account.save(update_fields=["agent_id"])
    message = app_message_send(
        organization_id=world.org.pk, staff_ids=[_staff(world, "clerk1").pk], text="x", source_key="k"
    )
    assert "AgentId" in app_message_deliver(message_id=message.pk).error
    assert wecom_sandbox.app_messages() == []


def test_bad_input_is_refused_before_anything_is_recorded(world):
    with pytest.raises(AppMessageError):
        app_message_send(organization_id=world.org.pk, staff_ids=[], text="x", source_key="k")
    with pytest.raises(AppMessageError):
        app_message_send(organization_id=world.org.pk, staff_ids=[world.store_staff.pk], text="  ", source_key="k")
    assert not AppMessage.objects.exists()


def test_long_text_is_cut_to_wecoms_byte_limit(world):
    message = app_message_send(
        organization_id=world.org.pk, staff_ids=[world.store_staff.pk], text="好" * 1000, source_key="k"
    )
    assert len(message.text.encode()) <= 2048 and message.text.endswith("…")


def test_the_sweep_resends_a_stuck_message_inside_the_duplicate_window_only(account, world, wecom_sandbox, monkeypatch):
    clerk = _staff(world, "clerk1")
    enqueued: list[int] = []
    monkeypatch.setattr("channels.app_messages.enqueue", lambda name, pk: enqueued.append(pk))
    recent = app_message_send(organization_id=world.org.pk, staff_ids=[clerk.pk], text="a", source_key="recent")
    old = app_message_send(organization_id=world.org.pk, staff_ids=[clerk.pk], text="b", source_key="old")
    now = timezone.now()
    AppMessage.objects.filter(pk=recent.pk).update(
        status=AppMessageStatus.SENDING, created_at=now - timedelta(minutes=5)
    )
    AppMessage.objects.filter(pk=old.pk).update(status=AppMessageStatus.SENDING, created_at=now - timedelta(minutes=40))
    AppMessage.objects.filter(pk__in=[recent.pk, old.pk]).update(updated_at=now - timedelta(minutes=5))
    assert app_messages_sweep(now=now) == 1 and enqueued == [recent.pk]
    old.refresh_from_db()
    assert old.status == AppMessageStatus.FAILED
    # The first call got through before the crash: the resend is dropped by WeCom's duplicate check.
    client = WeComClient.for_account(account)
    body = {
        "touser": "clerk1",
        "msgtype": "text",
        "agentid": 1000002,
        "text": {"content": "a"},
        "enable_duplicate_check": 1,
    }
    client.post("message/send", body)
    assert app_message_deliver(message_id=recent.pk).status == AppMessageStatus.SENT
    assert [m["duplicate"] for m in wecom_sandbox.app_messages()] == [False, True]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"touser": "clerk1", "msgtype": "text", "agentid": 1, "text": {"content": "x"}}, 40056),
        ({"touser": "clerk1", "msgtype": "sms", "agentid": 1000002}, 40008),
        ({"touser": "clerk1", "msgtype": "text", "agentid": 1000002, "text": {"content": ""}}, 44004),
        ({"touser": "clerk1", "msgtype": "text", "agentid": 1000002, "text": {"content": "好" * 700}}, 45002),
        (
            {
                "touser": "clerk1",
                "msgtype": "textcard",
                "agentid": 1000002,
                "textcard": {"title": "t", "description": "d"},
            },
            40058,
        ),
        ({"touser": "nobody", "msgtype": "text", "agentid": 1000002, "text": {"content": "x"}}, 81013),
    ],
)
def test_the_sandbox_refuses_what_message_send_refuses(account, body, code, wecom_sandbox):
    with pytest.raises(PlatformError) as refused:
        WeComClient.for_account(account).post("message/send", body)
    assert refused.value.code == code
    assert wecom_sandbox.app_messages() == []


def test_more_than_30_a_minute_to_one_member_are_dropped_silently(account, wecom_sandbox):
    client = WeComClient.for_account(account)
    for n in range(31):
        client.post(
            "message/send", {"touser": "clerk1", "msgtype": "text", "agentid": 1000002, "text": {"content": str(n)}}
        )
    assert [bool(m["touser"]) for m in wecom_sandbox.app_messages()].count(False) == 1
