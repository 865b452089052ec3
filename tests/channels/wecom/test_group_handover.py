"""客户群继承 through the sandbox: on-job and resigned, WeCom's per-group refusals, the console action."""

from __future__ import annotations

import pytest

from channels.models import GroupTransfer, TransferKind, TransferStatus
from channels.wecom.group_transfers import GroupTransferError, group_transfer_start
from channels.wecom.sync import full_sync
from contacts.models import AuditAction, AuditEntry, CustomerGroup, Staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(wecom_sandbox, world):
    for userid in ("zhangsan", "lisi"):
        wecom_sandbox.add_member(userid, userid)
    account = wecom_sandbox.connect(world.org)
    ext = wecom_sandbox.seed_customer("zhangsan", name="甲")
    chats = [
        wecom_sandbox.create_group("zhangsan", name="福利群", members=[ext]),
        wecom_sandbox.create_group("zhangsan", name="新品群", members=[ext]),
    ]
    full_sync(account=account)
    return account, chats


def staff(userid):
    return Staff.objects.get(wecom_userid=userid)


def owners(wecom_sandbox, chats):
    snapshot = wecom_sandbox.snapshot()["groups"]
    ours = {g.wecom_chat_id: g.owner.wecom_userid for g in CustomerGroup.objects.filter(wecom_chat_id__in=chats)}
    return {c: snapshot[c]["owner"] for c in chats}, ours


def test_an_on_job_handover_moves_every_group_on_both_sides_and_is_audited(setup, wecom_sandbox, world):
    account, chats = setup
    transfer = group_transfer_start(
        account=account, kind=TransferKind.ON_JOB, handover=staff("zhangsan"), takeover=staff("lisi"), by=world.operator
    )
    assert transfer.status == TransferStatus.DONE and transfer.error == ""
    assert transfer.results == {c: {"errcode": 0, "errmsg": ""} for c in chats}
    theirs, ours = owners(wecom_sandbox, chats)
    assert theirs == ours == dict.fromkeys(chats, "lisi")
    entry = AuditEntry.objects.get(action=AuditAction.GROUP_TRANSFER)
    assert entry.target_id == str(transfer.pk) and entry.actor_staff_id == world.operator.pk
    assert entry.details["groups"] == 2 and entry.details["to_staff"] == staff("lisi").pk
    full_sync(account=account)  # the next sync finds both sides equal
    assert owners(wecom_sandbox, chats)[1] == dict.fromkeys(chats, "lisi")


def test_a_resigned_handover_of_an_on_job_owner_is_refused_per_group_with_90500(setup, wecom_sandbox):
    account, chats = setup
    transfer = group_transfer_start(
        account=account, kind=TransferKind.RESIGNED, handover=staff("zhangsan"), takeover=staff("lisi")
    )
    assert transfer.status == TransferStatus.FAILED
    assert {row["errcode"] for row in transfer.results.values()} == {90500}
    assert owners(wecom_sandbox, chats) == (dict.fromkeys(chats, "zhangsan"), dict.fromkeys(chats, "zhangsan"))
    assert not AuditEntry.objects.filter(action=AuditAction.GROUP_TRANSFER).exists()


def test_a_departed_members_groups_go_to_a_colleague_and_an_on_job_call_gets_90502(setup, wecom_sandbox):
    account, chats = setup
    wecom_sandbox.resign_member("zhangsan")
    full_sync(account=account)
    assert not staff("zhangsan").is_active
    refused = group_transfer_start(
        account=account, kind=TransferKind.ON_JOB, handover=staff("zhangsan"), takeover=staff("lisi")
    )
    assert {row["errcode"] for row in refused.results.values()} == {90502}
    done = group_transfer_start(
        account=account, kind=TransferKind.RESIGNED, handover=staff("zhangsan"), takeover=staff("lisi")
    )
    assert done.status == TransferStatus.DONE
    assert owners(wecom_sandbox, chats) == (dict.fromkeys(chats, "lisi"), dict.fromkeys(chats, "lisi"))
    with pytest.raises(GroupTransferError):  # nothing left to hand over
        group_transfer_start(
            account=account, kind=TransferKind.RESIGNED, handover=staff("zhangsan"), takeover=staff("lisi")
        )
    full_sync(account=account)
    assert owners(wecom_sandbox, chats)[1] == dict.fromkeys(chats, "lisi")


def test_bad_requests_are_refused_before_anything_is_recorded(setup):
    account, _chats = setup
    with pytest.raises(GroupTransferError, match="相同"):
        group_transfer_start(account=account, kind=TransferKind.ON_JOB, handover=staff("lisi"), takeover=staff("lisi"))
    with pytest.raises(GroupTransferError, match="没有可转接"):
        group_transfer_start(
            account=account, kind=TransferKind.ON_JOB, handover=staff("lisi"), takeover=staff("zhangsan")
        )
    assert not GroupTransfer.objects.exists()


def test_the_console_hands_a_members_groups_over(setup, wecom_sandbox, world):
    _account, chats = setup
    client = world.client_for(world.operator)
    page = client.get("/channels/transfers/").content.decode()
    assert "转接客户群" in page
    response = client.post(
        "/channels/transfers/",
        {
            "target": "groups",
            "group-kind": TransferKind.ON_JOB,
            "group-handover": staff("zhangsan").pk,
            "group-takeover": staff("lisi").pk,
        },
        follow=True,
    )
    body = response.content.decode()
    assert "客户群已转接" in body and "已转给新群主 2" in body
    assert "客户群转接记录" in body
    assert owners(wecom_sandbox, chats)[1] == dict.fromkeys(chats, "lisi")


def test_an_unreachable_wecom_is_retried_and_the_retry_finishes_the_handover(
    setup, wecom_sandbox, django_capture_on_commit_callbacks
):
    from channels.wecom.group_transfers import group_transfer_run

    account, chats = setup
    wecom_sandbox.inject_error("externalcontact/groupchat/onjob_transfer", -1)  # 系统繁忙
    with django_capture_on_commit_callbacks() as callbacks:
        transfer = group_transfer_start(
            account=account, kind=TransferKind.ON_JOB, handover=staff("zhangsan"), takeover=staff("lisi")
        )
    assert transfer.status == TransferStatus.SUBMITTED and "稍后自动重新提交" in transfer.error
    assert transfer.results == {} and len(callbacks) == 1  # the retry task is enqueued on commit
    wecom, ours = owners(wecom_sandbox, chats)
    assert set(wecom.values()) == {"zhangsan"} and set(ours.values()) == {"zhangsan"}  # nothing moved yet
    done = group_transfer_run(transfer_id=transfer.pk)  # what the task runs
    assert done.status == TransferStatus.DONE
    wecom, ours = owners(wecom_sandbox, chats)
    assert set(wecom.values()) == {"lisi"} and wecom == ours
    assert group_transfer_run(transfer_id=transfer.pk).status == TransferStatus.DONE  # a redelivery changes nothing
