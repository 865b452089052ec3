"""Celery tasks of WeCom: tag pushes, the full sync, the behaviour data pull. Thin (ids in, one
service call); routed by name prefix (``channels.sync.*`` → the sync queue); beat entries in
``scrm/schedule.py``. Every service is idempotent, so a redelivered task changes nothing."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import shared_task

from channels.app_messages import app_message_deliver, app_messages_sweep
from channels.models import AcquisitionLink, ChannelAccount, ChannelPlatform
from channels.tasks import with_platform_retry
from channels.todo_reminders import todo_reminders_send
from channels.wecom.acquisition import acquisition_stats_refresh
from channels.wecom.add_caps import caps_rollover
from channels.wecom.behavior import wecom_accounts, wecom_behavior_sync
from channels.wecom.group_transfers import group_transfer_run
from channels.wecom.remarks import remark_push_run
from channels.wecom.services import tag_delete_push, tag_push
from channels.wecom.sync import full_sync
from channels.wecom.tag_catalogue import tag_push_run
from scrm.celery import enqueue

log = logging.getLogger(__name__)


@shared_task(name="channels.sync.tag_push", bind=True, ignore_result=True, max_retries=5)
def tag_push_task(self: Any, customer_id: int, added: list[int], removed: list[int]) -> None:
    with_platform_retry(self, lambda: tag_push(customer_id=customer_id, added=added, removed=removed))


@shared_task(name="channels.sync.tag_delete_push", bind=True, ignore_result=True, max_retries=5)
def tag_delete_push_task(self: Any, organization_id: int, wecom_tag_id: str) -> None:
    with_platform_retry(self, lambda: tag_delete_push(organization_id=organization_id, wecom_tag_id=wecom_tag_id))


@shared_task(name="channels.sync.wecom_tag_catalogue_push", bind=True, ignore_result=True, max_retries=6)
def tag_catalogue_push_task(self: Any, push_id: int) -> None:
    """One recorded add/edit/del_corp_tag call; rate limits and transient errors retry with backoff."""
    with_platform_retry(self, lambda: tag_push_run(push_id=push_id))


@shared_task(name="channels.sync.wecom_remark_push", bind=True, ignore_result=True, max_retries=6)
def remark_push_task(self: Any, push_id: int) -> None:
    """One recorded ``externalcontact/remark`` call; rate limits and transient errors retry with backoff."""
    with_platform_retry(self, lambda: remark_push_run(push_id=push_id))


@shared_task(name="channels.sync.wecom_group_transfer", bind=True, ignore_result=True, max_retries=6)
def group_transfer_task(self: Any, transfer_id: int) -> None:
    """The rest of a 客户群继承 a transient error interrupted; retried with backoff like the pushes."""
    with_platform_retry(self, lambda: group_transfer_run(transfer_id=transfer_id))


@shared_task(name="channels.sync.wecom_full", ignore_result=True)
def wecom_full_sync_task(account_id: int) -> None:
    account = ChannelAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        log.info("wecom sync: account %s gone or disabled", account_id)
        return
    full_sync(account=account)


@shared_task(name="channels.sync.wecom_all", ignore_result=True)
def wecom_sync_all_task() -> None:
    """Beat: one full sync per active WeCom account (each its own task)."""
    for account_id in ChannelAccount.objects.filter(platform=ChannelPlatform.WECOM, is_active=True).values_list(
        "id", flat=True
    ):
        enqueue("channels.sync.wecom_full", account_id)


@shared_task(name="channels.sync.wecom_behavior", ignore_result=True)
def wecom_behavior_task(day: str | None = None) -> None:
    for account_id in wecom_accounts():
        enqueue("channels.sync.wecom_behavior_account", account_id, day)


@shared_task(name="channels.sync.wecom_behavior_account", ignore_result=True)
def wecom_behavior_account_task(account_id: int, day: str | None = None) -> None:
    wecom_behavior_sync(account_id=account_id, day=date.fromisoformat(day) if day else None)


@shared_task(name="channels.sync.contact_way_caps_rollover", ignore_result=True)
def contact_way_caps_rollover_task() -> None:
    """Beat (every minute): 活码 on an earlier day's fallback get their own members back, and 活码 with
    working-hours windows get the staff of the window open now."""
    caps_rollover()


@shared_task(name="channels.sync.acquisition_stats_all", ignore_result=True)
def acquisition_stats_all_task() -> None:
    """Beat: one task per live 获客链接 to re-read its customer list from WeCom (the page's counts)."""
    for link_id in (
        AcquisitionLink.objects.filter(is_active=True, account__is_active=True)
        .exclude(link_id="")
        .values_list("id", flat=True)
    ):
        enqueue("channels.sync.acquisition_stats", link_id)


@shared_task(name="channels.sync.acquisition_stats", bind=True, ignore_result=True, max_retries=5)
def acquisition_stats_task(self: Any, link_id: int) -> None:
    link = AcquisitionLink.objects.filter(pk=link_id, is_active=True).select_related("account").first()
    if link is None or not link.link_id:
        return
    with_platform_retry(self, lambda: acquisition_stats_refresh(link=link))


@shared_task(name="channels.sync.wecom_app_message", bind=True, ignore_result=True, max_retries=6)
def app_message_task(self: Any, message_id: int) -> None:
    """One recorded app message (应用消息); rate limits and transient errors retry with backoff."""
    with_platform_retry(self, lambda: app_message_deliver(message_id=message_id))


@shared_task(name="channels.sync.wecom_app_messages_sweep", ignore_result=True)
def app_messages_sweep_task() -> None:
    app_messages_sweep()


@shared_task(name="channels.sync.todo_reminders", ignore_result=True)
def todo_reminders_task() -> None:
    """Beat: members with overdue to-dos get an app message (at most 3 a day each)."""
    todo_reminders_send()
