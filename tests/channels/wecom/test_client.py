"""The WeCom client and channels.outbound against the sandbox over real HTTP."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from channels import outbound, ratelimit
from channels.errors import PlatformError, RateLimited
from channels.wecom.client import WeComClient


@pytest.fixture
def account(db, wecom_sandbox, world):
    wecom_sandbox.add_member("zhangsan", "张三")
    wecom_sandbox.add_member("lisi", "李四")
    return wecom_sandbox.connect(world.org)


def test_the_token_is_fetched_once_and_cached_across_clients(account, wecom_sandbox):
    for _ in range(3):
        WeComClient.for_account(account).follow_user_list()
    assert wecom_sandbox.gettoken_calls == 1


def test_concurrent_first_calls_fetch_the_token_once(account, wecom_sandbox):
    errors = []

    def call():
        try:
            WeComClient.for_account(account).follow_user_list()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert wecom_sandbox.gettoken_calls == 1


@pytest.mark.parametrize("mode", ["expire", "revoke"])
def test_an_expired_or_revoked_token_is_refreshed_once(account, wecom_sandbox, mode):
    client = WeComClient.for_account(account)
    client.follow_user_list()
    wecom_sandbox.expire_tokens() if mode == "expire" else wecom_sandbox.revoke_tokens()
    assert sorted(client.follow_user_list()) == ["lisi", "zhangsan"]
    assert wecom_sandbox.gettoken_calls == 2


def test_a_token_error_twice_in_a_row_is_not_retried_forever(account, wecom_sandbox):
    wecom_sandbox.inject_error("externalcontact/get_follow_user_list", 40014, times=5)
    with pytest.raises(PlatformError) as exc:
        WeComClient.for_account(account).follow_user_list()
    assert exc.value.code == 40014
    assert wecom_sandbox.gettoken_calls == 2


@pytest.mark.parametrize("code", [45009, 45033])
def test_platform_rate_limits_raise_rate_limited(account, wecom_sandbox, code):
    wecom_sandbox.inject_error("externalcontact/get_follow_user_list", code)
    with pytest.raises(RateLimited) as exc:
        WeComClient.for_account(account).follow_user_list()
    assert exc.value.code == code and exc.value.retry_after > 0


def test_our_bucket_keeps_calls_under_the_configured_rate(account, wecom_sandbox):
    account.rate_limits = {
        "externalcontact/get_follow_user_list": {"per_second": 5, "per_minute": None, "per_hour": None}
    }
    client = WeComClient.for_account(account, max_wait=0.0)
    ok = limited = 0
    for _ in range(20):
        try:
            client.follow_user_list()
            ok += 1
        except RateLimited:
            limited += 1
    assert ok <= 6 and limited >= 14


def test_the_token_bucket_is_exact_under_concurrency(db):
    limits = ratelimit.Limits(per_minute=30, per_hour=None, concurrency=100)
    scope = f"test:{timezone.now().timestamp()}"
    taken = []

    def grab():
        for _ in range(10):
            if ratelimit.take(scope, limits) == 0:
                taken.append(1)

    threads = [threading.Thread(target=grab) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # burst = one second's worth of the per-minute rate (0.5/s → 1), plus at most a token of refill.
    assert 1 <= len(taken) <= 2


def test_the_concurrency_cap_holds_and_releases(db):
    scope = f"cc:{timezone.now().timestamp()}"
    first, second = ratelimit.lease(scope, 2), ratelimit.lease(scope, 2)
    assert first and second and ratelimit.lease(scope, 2) is None
    ratelimit.release(scope, first)
    assert ratelimit.lease(scope, 2)


def test_broadcast_lifecycle_through_outbound(account, wecom_sandbox):
    a = wecom_sandbox.seed_customer("zhangsan", name="甲")
    b = wecom_sandbox.seed_customer("zhangsan", name="乙")
    wecom_sandbox.manual_send([b])  # b already got a message today: the daily cap is used
    created = outbound.broadcast_create(
        account_id=account.pk,
        chat_type="single",
        sender="zhangsan",
        external_userids=[a, b, "wmnotafriend"],
        text="双11",
    )
    assert created.msgid and created.fail_list == ["wmnotafriend"]
    assert outbound.broadcast_task(account_id=account.pk, msgid=created.msgid) == [
        {"userid": "zhangsan", "status": 0, "send_time": 0}
    ]
    outbound.broadcast_remind(account_id=account.pk, msgid=created.msgid)
    wecom_sandbox.confirm("zhangsan", created.msgid)
    results = {
        r["external_userid"]: r["status"]
        for r in outbound.broadcast_send_result(account_id=account.pk, msgid=created.msgid, userid="zhangsan")
    }
    assert results == {a: 1, b: 3}
    now = timezone.now()
    listed = outbound.broadcast_list(
        account_id=account.pk, start=now - timedelta(days=1), end=now + timedelta(minutes=1)
    )
    assert [m["msgid"] for m in listed] == [created.msgid]
    outbound.broadcast_cancel(account_id=account.pk, msgid=created.msgid)


def test_remind_is_limited_to_three_times_a_day(account, wecom_sandbox):
    a = wecom_sandbox.seed_customer("zhangsan")
    msgid = outbound.broadcast_create(
        account_id=account.pk, chat_type="single", sender="zhangsan", external_userids=[a], text="hi"
    ).msgid
    for _ in range(3):
        outbound.broadcast_remind(account_id=account.pk, msgid=msgid)
    with pytest.raises(PlatformError):
        outbound.broadcast_remind(account_id=account.pk, msgid=msgid)


def test_group_broadcast_needs_a_sender_and_lists_only_sent_groups(account, wecom_sandbox):
    chat = wecom_sandbox.create_group("zhangsan", name="福利群")
    created = outbound.broadcast_create(
        account_id=account.pk, chat_type="group", sender="zhangsan", chat_ids=[chat], text="hi"
    )
    assert outbound.broadcast_send_result(account_id=account.pk, msgid=created.msgid, userid="zhangsan") == []
    wecom_sandbox.confirm("zhangsan", created.msgid)
    rows = outbound.broadcast_send_result(account_id=account.pk, msgid=created.msgid, userid="zhangsan")
    assert [(r["chat_id"], r["status"]) for r in rows] == [(chat, 1)]


def test_moments_welcome_and_tags_through_outbound(account, wecom_sandbox):
    ext = wecom_sandbox.seed_customer("zhangsan")
    jobid = outbound.moment_create(account_id=account.pk, text="新品", attachments=None, sender_list=["zhangsan"])
    assert "moment_id" not in outbound.moment_result(account_id=account.pk, jobid=jobid).get("result", {})
    moment_id = outbound.moment_result(account_id=account.pk, jobid=jobid)["result"]["moment_id"]
    assert outbound.moment_send_results(account_id=account.pk, moment_id=moment_id, userid="zhangsan") == [
        {"userid": "zhangsan", "external_userid": ext}
    ]
    scanned = wecom_sandbox.scan(userid="zhangsan")
    outbound.welcome_send(account_id=account.pk, welcome_code=scanned["welcome_code"], text="欢迎")
    with pytest.raises(PlatformError) as exc:
        outbound.welcome_send(account_id=account.pk, welcome_code=scanned["welcome_code"], text="欢迎")
    assert exc.value.code == 41051
    wecom_sandbox.add_tag_group("兴趣", ["护肤"])
    tag = wecom_sandbox.tag_id("护肤")
    outbound.tag_mark(account_id=account.pk, userid="zhangsan", external_userid=ext, add=[tag], remove=[])
    assert wecom_sandbox.snapshot()["customers"][ext]["follows"]["zhangsan"]["tags"] == [tag]


def test_a_disabled_account_refuses_outbound_calls(account):
    from channels.services import channel_account_disable

    channel_account_disable(account=account)
    with pytest.raises(PlatformError, match="停用"):
        outbound.tag_mark(account_id=account.pk, userid="u", external_userid="e", add=["t"], remove=[])
