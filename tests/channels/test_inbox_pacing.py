"""Inbox retries and sweeping; pacing keeps us under the platform's concurrency limit."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
import redis
from django.db import OperationalError, connection
from django.utils import timezone

from channels.errors import RateLimited
from channels.inbox import Retry, _claim, inbox_process, inbox_store, inbox_sweep
from channels.models import InboxEvent, InboxStatus
from channels.registry import IncomingEvent
from channels.wecom.client import WeComClient
from channels.wecom.services import on_tags_changed
from contacts.models import Tag, TagSource
from tests.factories import TagFactory

ADD = (
    "<xml><ToUserName><![CDATA[c]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1700000000</CreateTime>"
    "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>"
    "<ChangeType><![CDATA[edit_external_contact]]></ChangeType><UserID><![CDATA[g]]></UserID>"
    "<ExternalUserID><![CDATA[{ext}]]></ExternalUserID></xml>"
)


@pytest.fixture
def account(db, wecom_sandbox, world):
    wecom_sandbox.add_member("g", "导购")
    return wecom_sandbox.connect(world.org)


def store(account, ext: str) -> InboxEvent:
    inbox_store(account=account, events=[IncomingEvent(event_key=ext, body=ADD.format(ext=ext), event_type="edit")])
    return InboxEvent.objects.get(event_key=ext)


def test_a_platform_rate_limit_fails_the_event_and_asks_for_a_retry(account, wecom_sandbox):
    ext = wecom_sandbox.seed_customer("g", name="限流")
    event = store(account, ext)
    wecom_sandbox.inject_error("externalcontact/get", 45009)
    with pytest.raises(Retry) as retry:
        inbox_process(event_id=event.pk)
    assert 1 <= retry.value.countdown <= 60
    event.refresh_from_db()
    assert event.status == InboxStatus.FAILED and "45009" in event.error
    assert inbox_process(event_id=event.pk) == InboxStatus.DONE  # the retry succeeds


def test_the_sweeper_requeues_lost_and_abandoned_events(account):
    fresh, lost, stuck, done = (store(account, k) for k in ("fresh", "lost", "stuck", "done"))
    old = timezone.now() - timedelta(minutes=10)
    InboxEvent.objects.filter(pk=lost.pk).update(received_at=old)
    InboxEvent.objects.filter(pk=stuck.pk).update(status=InboxStatus.PROCESSING, started_at=old, heartbeat_at=old)
    InboxEvent.objects.filter(pk=done.pk).update(status=InboxStatus.DONE, received_at=old)
    with mock.patch("channels.tasks.inbox_process_task.apply_async") as delay:
        assert inbox_sweep() == 2
    assert sorted(c.args[0][0] for c in delay.call_args_list) == sorted([lost.pk, stuck.pk])
    assert fresh.pk not in [c.args[0][0] for c in delay.call_args_list]


def _at(moment):
    return mock.patch("channels.inbox.timezone.now", return_value=moment)


def test_a_stuck_event_is_requeued_once_its_heartbeat_is_45_seconds_old_not_after_5_minutes(account, settings):
    assert settings.INBOX_STALE_SECONDS == 45 and settings.INBOX_HEARTBEAT_SECONDS < 45 / 3
    from scrm.schedule import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["channels-inbox-sweep"]["schedule"] <= 15  # 45 s stale + one sweep < 1 minute
    event = store(account, "stuck")
    t0 = timezone.now()
    with _at(t0):
        assert _claim(event.pk) is not None  # a worker claims it … and dies without a word
    event.refresh_from_db()
    assert event.status == InboxStatus.PROCESSING and event.heartbeat_at == t0
    with mock.patch("channels.tasks.inbox_process_task.apply_async") as delay:
        with _at(t0 + timedelta(seconds=44)):
            assert inbox_sweep() == 0  # a live worker beats every 10 s: not abandoned yet
            assert _claim(event.pk) is None
        with _at(t0 + timedelta(seconds=46)):
            assert inbox_sweep() == 1
    assert [c.args[0][0] for c in delay.call_args_list] == [event.pk]
    # A heartbeat refreshed at +40 s keeps it claimed at +46 s.
    InboxEvent.objects.filter(pk=event.pk).update(heartbeat_at=t0 + timedelta(seconds=40))
    with _at(t0 + timedelta(seconds=46)), mock.patch("channels.tasks.inbox_process_task.apply_async"):
        assert inbox_sweep() == 0
    with _at(t0 + timedelta(seconds=86)):
        assert inbox_process(event_id=event.pk) == InboxStatus.DONE  # the next worker finishes it
    event.refresh_from_db()
    assert event.attempts == 2


def _plugin(process, atomic=True):
    return SimpleNamespace(process=process, atomic=atomic)


def test_the_worker_refreshes_the_heartbeat_while_it_works(transactional_db, account, settings):
    settings.INBOX_HEARTBEAT_SECONDS = 0.1
    event = store(account, "slow")
    seen = []

    def slow(ev):
        started = InboxEvent.objects.values_list("heartbeat_at", flat=True).get(pk=ev.pk)
        time.sleep(0.6)
        seen.append((started, InboxEvent.objects.values_list("heartbeat_at", flat=True).get(pk=ev.pk)))
        return "ok"

    with mock.patch("channels.inbox.plugin_for", return_value=_plugin(slow, atomic=False)):
        assert inbox_process(event_id=event.pk) == InboxStatus.DONE
    (before, after), = seen
    assert after - before >= timedelta(seconds=0.3)
    assert not any(t.name.startswith("inbox-heartbeat") for t in threading.enumerate())  # stopped with the event


def test_a_worker_whose_claim_was_taken_over_rolls_back_instead_of_recording_twice(transactional_db, account, world):
    event = store(account, "taken")

    def process(ev):
        TagFactory(group__organization=world.org, name="副作用")

        def takeover():  # another worker found the heartbeat stale and claimed the event
            InboxEvent.objects.filter(pk=ev.pk).update(attempts=ev.attempts + 1)
            connection.close()

        t = threading.Thread(target=takeover)
        t.start()
        t.join()
        return "ok"

    with mock.patch("channels.inbox.plugin_for", return_value=_plugin(process)):
        assert inbox_process(event_id=event.pk) == "superseded"
    assert not Tag.objects.filter(name="副作用").exists()  # this attempt's writes were rolled back
    event.refresh_from_db()
    assert event.status == InboxStatus.PROCESSING and event.attempts == 2 and event.processed_at is None


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("terminating connection due to administrator command"),
        redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    ],
)
def test_postgres_or_redis_going_away_mid_event_puts_it_back_for_the_sweep(account, error):
    event = store(account, "down")

    def boom(ev):
        raise error

    with mock.patch("channels.inbox.plugin_for", return_value=_plugin(boom)), pytest.raises(Retry):
        inbox_process(event_id=event.pk)
    event.refresh_from_db()
    # pending, not failed: it needs no operator, and the sweep requeues it if the retry is lost too
    assert event.status == InboxStatus.PENDING and str(error) in event.error
    InboxEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=1))
    with mock.patch("channels.tasks.inbox_process_task.apply_async") as delay:
        assert inbox_sweep() == 1
    assert delay.call_args.args[0] == (event.pk,)


def test_our_concurrency_cap_keeps_the_platform_from_answering_45033(account, wecom_sandbox):
    wecom_sandbox.set_limits("externalcontact/get_follow_user_list", concurrency=2)
    wecom_sandbox.set_options(slow_apis={"externalcontact/get_follow_user_list": 0.2})
    account.rate_limits = {"externalcontact/get_follow_user_list": {"concurrency": 2}}
    WeComClient.for_account(account).access_token()
    errors: list[Exception] = []

    def call():
        try:
            WeComClient.for_account(account, max_wait=10).follow_user_list()
        except RateLimited as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_without_our_cap_the_platform_refuses_with_45033(account, wecom_sandbox):
    wecom_sandbox.set_limits("externalcontact/get_follow_user_list", concurrency=2)
    wecom_sandbox.set_options(slow_apis={"externalcontact/get_follow_user_list": 0.5})
    account.rate_limits = {"externalcontact/get_follow_user_list": {"concurrency": 50}}
    WeComClient.for_account(account).access_token()
    codes: list[int] = []

    def call():
        try:
            WeComClient.for_account(account).follow_user_list()
        except RateLimited as exc:
            codes.append(exc.code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 45033 in codes


def test_console_tag_changes_are_pushed_but_sync_changes_are_not(world):
    wecom_tag = TagFactory(group__organization=world.org, wecom_tag_id="et1")
    local_tag = TagFactory(group__organization=world.org)
    with mock.patch("channels.wecom.tasks.tag_push_task.delay") as delay:
        on_tags_changed(1, [wecom_tag.pk], [], TagSource.STAFF)
        on_tags_changed(1, [wecom_tag.pk], [], TagSource.SYNC)
        on_tags_changed(1, [local_tag.pk], [], TagSource.STAFF)
    assert [c.args for c in delay.call_args_list] == [(1, [wecom_tag.pk], [])]


def test_an_event_that_lost_a_unique_race_runs_again_but_not_forever(account):
    from django.db import IntegrityError

    event = store(account, "race")

    def dup(ev):
        raise IntegrityError('duplicate key value violates unique constraint "staff_wecom_userid_unique_per_org"')

    with mock.patch("channels.inbox.plugin_for", return_value=_plugin(dup)):
        for _ in range(2):
            with pytest.raises(Retry):
                inbox_process(event_id=event.pk)
            assert InboxEvent.objects.get(pk=event.pk).status == InboxStatus.PENDING
        assert inbox_process(event_id=event.pk) == InboxStatus.FAILED  # the third time it is a real error
    event.refresh_from_db()
    assert event.attempts == 3 and "staff_wecom_userid_unique_per_org" in event.error
