"""WeCom callbacks: one decrypted payload per event type we handle (fixtures/), parsed into typed events.

Each fixture is the decrypted XML WeCom posts to the callback URL (docs/platforms.md#wecom-callback-events),
named ``<Event>__<ChangeType>[__<variant>].xml``. Every fixture has one expected row below, and every
ChangeType the services handle has a fixture, so neither can be added without the other.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from channels.models import InboxEvent
from channels.services import channel_account_connect
from channels.wecom import adapter, plugin, services
from channels.wecom.adapter import ChatEvent, ContactEvent, Ignored, TagEvent
from contacts.models import ChurnedBy

FIXTURES = Path(__file__).parent / "fixtures"
UTC = ZoneInfo("UTC")
CORP = "ww5823bf96d3bd56c7"
EXT = "woAJ2GCAAAXtWyujaWJHDDGi0mACAAA"
CHAT = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"

# What services.process_event / _process_contact act on (anything else is ignored with a note).
HANDLED: dict[str, set[str]] = {
    "change_external_contact": {
        *adapter.CONTACT_ADDS,
        "edit_external_contact",
        "msg_audit_approved",
        "del_external_contact",
        "del_follow_user",
        "transfer_fail",
    },
    "change_external_chat": {"create", "update", "dismiss"},
    "change_external_tag": {"create", "update", "delete", "shuffle"},
}
CHAT_UPDATE_DETAILS = {"add_member", "del_member", "change_owner", "change_name", "change_notice"}


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


Typed = ContactEvent | ChatEvent | TagEvent | Ignored

EXPECTED: dict[str, Typed] = {
    "change_external_contact__add_external_contact": ContactEvent(
        change_type="add_external_contact",
        userid="zhangsan",
        external_userid=EXT,
        occurred_at=at(1763870400),
        state="cw:12:store_a",
        welcome_code="CALLBACK_WELCOME_CODE_ADD",
    ),
    "change_external_contact__add_half_external_contact": ContactEvent(
        change_type="add_half_external_contact",
        userid="lisi",
        external_userid="woAJ2GCAAAHalfAddedAAAAAAAAAAAA",
        occurred_at=at(1763870410),
        state="cw:13:store_b",
        welcome_code="CALLBACK_WELCOME_CODE_HALF",
    ),
    "change_external_contact__edit_external_contact": ContactEvent(
        change_type="edit_external_contact", userid="zhangsan", external_userid=EXT, occurred_at=at(1763870420)
    ),
    "change_external_contact__del_external_contact": ContactEvent(
        change_type="del_external_contact", userid="zhangsan", external_userid=EXT, occurred_at=at(1763870430)
    ),
    "change_external_contact__del_external_contact__by_transfer": ContactEvent(
        change_type="del_external_contact",
        userid="lisi",
        external_userid=EXT,
        occurred_at=at(1763870440),
        source="DELETE_BY_TRANSFER",
    ),
    "change_external_contact__del_follow_user": ContactEvent(
        change_type="del_follow_user", userid="zhangsan", external_userid=EXT, occurred_at=at(1763870450)
    ),
    "change_external_contact__transfer_fail": ContactEvent(
        change_type="transfer_fail",
        userid="wangwu",  # the takeover member
        external_userid=EXT,
        occurred_at=at(1763870460),
        fail_reason="customer_refused",
    ),
    "change_external_contact__msg_audit_approved": ContactEvent(
        change_type="msg_audit_approved",
        userid="zhangsan",
        external_userid=EXT,
        occurred_at=at(1763870470),
        welcome_code="CALLBACK_WELCOME_CODE_AUDIT",
    ),
    "change_external_chat__create": ChatEvent(change_type="create", chat_id=CHAT, occurred_at=at(1763870500)),
    "change_external_chat__update__add_member": ChatEvent(
        change_type="update", chat_id=CHAT, occurred_at=at(1763870510), update_detail="add_member"
    ),
    "change_external_chat__update__del_member": ChatEvent(
        change_type="update", chat_id=CHAT, occurred_at=at(1763870520), update_detail="del_member"
    ),
    "change_external_chat__update__change_owner": ChatEvent(
        change_type="update", chat_id=CHAT, occurred_at=at(1763870530), update_detail="change_owner"
    ),
    "change_external_chat__update__change_name": ChatEvent(
        change_type="update", chat_id=CHAT, occurred_at=at(1763870540), update_detail="change_name"
    ),
    "change_external_chat__update__change_notice": ChatEvent(
        change_type="update", chat_id=CHAT, occurred_at=at(1763870550), update_detail="change_notice"
    ),
    "change_external_chat__dismiss": ChatEvent(change_type="dismiss", chat_id=CHAT, occurred_at=at(1763870560)),
    "change_external_tag__create": TagEvent(
        change_type="create", tag_id="etAJ2GCAAAtagCreatedAAAAAAAAAAA", tag_type="tag", occurred_at=at(1763870600)
    ),
    "change_external_tag__update": TagEvent(
        change_type="update",
        tag_id="etAJ2GCAAAtagGroupRenamedAAAAAA",
        tag_type="tag_group",
        occurred_at=at(1763870610),
    ),
    "change_external_tag__delete": TagEvent(
        change_type="delete", tag_id="etAJ2GCAAAtagDeletedAAAAAAAAAAA", tag_type="tag", occurred_at=at(1763870620)
    ),
    # A shuffle names the tag group whose tags were reordered and carries no TagType.
    "change_external_tag__shuffle": TagEvent(
        change_type="shuffle", tag_id="etAJ2GCAAAtagGroupShuffledAAAAA", tag_type="", occurred_at=at(1763870630)
    ),
    # An address-book event reaching the same callback URL: not 客户联系, ignored.
    "change_contact__update_user": Ignored("not a 客户联系 event: event/change_contact"),
}

# Who ended the follow, for the deletion events.
CHURNED_BY = {
    "change_external_contact__del_external_contact": ChurnedBy.STAFF,
    "change_external_contact__del_external_contact__by_transfer": ChurnedBy.TRANSFER,
    "change_external_contact__del_follow_user": ChurnedBy.CUSTOMER,
}


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.xml"))


def load(name: str) -> dict[str, str]:
    return adapter.parse_event((FIXTURES / f"{name}.xml").read_bytes())


def test_every_fixture_has_an_expected_row_and_every_row_a_fixture() -> None:
    assert fixture_names(), "no fixtures found"
    assert set(fixture_names()) == set(EXPECTED)
    assert set(CHURNED_BY) <= set(EXPECTED)


def test_every_handled_change_type_has_a_fixture() -> None:
    seen: dict[str, set[str]] = {}
    details: set[str] = set()
    for name in fixture_names():
        fields = load(name)
        seen.setdefault(fields["Event"], set()).add(fields["ChangeType"])
        if fields["Event"] == "change_external_chat" and fields["ChangeType"] == "update":
            details.add(fields["UpdateDetail"])
    for event, change_types in HANDLED.items():
        assert change_types <= seen.get(event, set()), (
            f"{event}: no fixture for {change_types - seen.get(event, set())}"
        )
    assert details == CHAT_UPDATE_DETAILS


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_is_shaped_like_a_wecom_callback(name: str) -> None:
    fields = load(name)
    event, change_type, *variant = name.split("__")
    assert (fields["Event"], fields["ChangeType"]) == (event, change_type)
    assert fields["ToUserName"] == CORP
    assert fields["FromUserName"] == "sys"
    assert fields["MsgType"] == "event"
    assert fields["CreateTime"].isdigit()
    if event == "change_external_chat" and change_type == "update":
        assert variant == [fields["UpdateDetail"]]


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_becomes_its_typed_event(name: str) -> None:
    typed = adapter.to_event(load(name))
    assert typed == EXPECTED[name]
    if name in CHURNED_BY:
        assert isinstance(typed, ContactEvent)
        assert typed.churned_by == CHURNED_BY[name]


def test_group_member_changes_keep_their_counts_for_the_event_key() -> None:
    fields = load("change_external_chat__update__add_member")
    assert (fields["JoinScene"], fields["MemChangeCnt"]) == ("3", "2")
    assert fields["MemChangeList"] == ""  # nested <Item>s are not flattened; we re-read groupchat/get
    assert load("change_external_chat__update__del_member")["QuitScene"] == "0"


def test_every_fixture_has_its_own_event_key() -> None:
    keys = {plugin.event_key(load(name)): name for name in fixture_names()}
    assert len(keys) == len(fixture_names())


def test_unknown_event_is_ignored() -> None:
    fields = load("change_external_contact__add_external_contact") | {"Event": "msgaudit_notify"}
    typed = adapter.to_event(fields)
    assert isinstance(typed, Ignored)
    assert "msgaudit_notify" in typed.reason


@pytest.fixture
def account(world):
    return channel_account_connect(
        organization=world.org,
        platform="wecom",
        name="企业微信",
        external_id=CORP,
        credentials={"secret": "s", "token": "t", "aes_key": "k" * 43},
        api_base="http://127.0.0.1:9",  # never called: ignored events make no request
    )


def test_unknown_contact_change_type_is_ignored_by_the_processor(account) -> None:
    xml = (FIXTURES / "change_external_contact__edit_external_contact.xml").read_text()
    xml = xml.replace("edit_external_contact", "brand_new_change_type")
    typed = adapter.to_event(adapter.parse_event(xml))
    assert isinstance(typed, ContactEvent) and typed.change_type == "brand_new_change_type"
    note = services.process_event(InboxEvent(account=account, body=xml))
    assert note == "ignored: change type brand_new_change_type"


def test_non_customer_event_is_ignored_by_the_processor(account) -> None:
    xml = (FIXTURES / "change_contact__update_user.xml").read_text()
    note = services.process_event(InboxEvent(account=account, body=xml))
    assert note == "ignored: not a 客户联系 event: event/change_contact"
