"""Full sync of a WeCom account: staff, corp tags, customers (by cursor) and groups with members.

It heals lost or out-of-order callbacks (docs/platforms.md#wecom-customer-groups: "可能乱序可能丢失"):
after it runs, our follows, WeCom tags and groups equal the platform's. Each customer/group is applied in its own
transaction with the same idempotent upserts the event handlers use; no transaction spans a call.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.utils import timezone

from channels.errors import PlatformError
from channels.models import ChannelAccount, SyncRun, SyncStatus
from channels.wecom import adapter
from channels.wecom import services as wecom
from channels.wecom.client import WeComClient
from contacts import services as contacts
from contacts.models import ChurnedBy, CustomerGroup, Follow, Identity, Platform, Staff

log = logging.getLogger(__name__)


def full_sync(*, account: ChannelAccount) -> SyncRun:
    run = SyncRun.objects.create(organization_id=account.organization_id, account=account)
    stats: dict[str, Any] = {}
    try:
        client = WeComClient.for_account(account, max_wait=30.0)
        # Customers of resigned members awaiting handover (离职待继承): those follows go on.
        unassigned = {
            (str(row.get("handover_userid") or ""), str(row.get("external_userid") or ""))
            for row in client.unassigned_list()
        }
        userids = _sync_staff(account, client, {userid for userid, _ext in unassigned}, stats)
        stats.update(wecom.sync_corp_tags(account, client))
        _sync_customers(account, client, userids, unassigned, stats)
        _sync_groups(account, client, stats)
    except Exception as exc:
        SyncRun.objects.filter(pk=run.pk).update(
            status=SyncStatus.FAILED,
            stats=stats,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    now = timezone.now()
    SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.DONE, stats=stats, finished_at=now)
    ChannelAccount.objects.filter(pk=account.pk).update(last_synced_at=now)
    run.refresh_from_db()
    return run


# WeCom member status (user/get): 1 active, 2 disabled, 4 not yet activated, 5 resigned.
MEMBER_GONE_STATUSES = {2, 5}
USERID_NOT_FOUND = 60111


def _sync_staff(account: ChannelAccount, client: WeComClient, resigned: set[str], stats: dict[str, Any]) -> list[str]:
    """New members become staff; resigned or disabled members are marked departed; returning ones return.

    ``get_follow_user_list`` only lists members with 客户联系, so a member missing from it is not gone
    by that alone. A member is departed when WeCom says so: listed as the handover member of
    unassigned customers (``get_unassigned_list``, 离职待继承), or ``user/get`` answering status 2
    (disabled) or 5 (resigned). A userid WeCom does not know at all (60111) is left as it is: it may be
    a typing error in the console, and it is not worth a console login.
    """
    userids = client.follow_user_list()
    listed = set(userids)
    created = departed = returned = 0
    for userid in userids:
        if not Staff.objects.filter(organization_id=account.organization_id, wecom_userid=userid).exists():
            name = client.user_get(userid).get("name") or userid
            wecom.staff_for(account, userid, name)
            created += 1
    for staff in Staff.objects.filter(organization_id=account.organization_id).exclude(wecom_userid=""):
        if staff.wecom_userid in listed:
            returned += contacts.staff_return(staff=staff)
            continue
        if not staff.is_active:
            continue
        gone = staff.wecom_userid in resigned
        if not gone:
            try:
                gone = client.user_get(staff.wecom_userid).get("status") in MEMBER_GONE_STATUSES
            except PlatformError as exc:
                if exc.code != USERID_NOT_FOUND:
                    raise
        if gone:
            departed += contacts.staff_depart(staff=staff)
    stats["staff"] = len(userids)
    stats["staff_created"] = created
    stats["staff_departed"] = departed
    stats["staff_returned"] = returned
    return userids


def _sync_customers(
    account: ChannelAccount,
    client: WeComClient,
    userids: list[str],
    unassigned: set[tuple[str, str]],
    stats: dict[str, Any],
) -> None:
    contacts_by_ext: dict[str, dict[str, Any]] = {}
    follows_by_ext: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in client.batch_get_by_user(userids):
        ext = row["external_contact"]["external_userid"]
        contacts_by_ext[ext] = row["external_contact"]
        follows_by_ext[ext].append(row["follow_info"])
    waiting: dict[str, set[str]] = defaultdict(set)  # ext → resigned members whose follow awaits handover
    for userid, ext in unassigned:
        waiting[ext].add(userid)
    for ext, contact in contacts_by_ext.items():
        data = adapter.ContactData.from_api(contact, follows_by_ext[ext])
        # Every member with 客户联系 was asked, so their follows missing here have ended; a resigned
        # member's follow awaiting handover goes on.
        wecom.apply_contact(account, data, complete=True, still_following=waiting.get(ext, set()))
    # Customers WeCom no longer knows at all: end their remaining follows.
    ended = 0
    known = set(contacts_by_ext)
    identities = Identity.objects.filter(
        organization_id=account.organization_id, platform=Platform.WECOM, account=account.external_id
    ).select_related("customer")
    for identity in identities.iterator():
        if identity.external_id in known:
            continue
        follows = Follow.objects.filter(customer=identity.customer, deleted_at__isnull=True).select_related("staff")
        with transaction.atomic():
            for follow in follows:
                if (follow.staff.wecom_userid, identity.external_id) in unassigned:
                    continue  # followed only by a resigned member, awaiting handover
                contacts.follow_end(customer=identity.customer, staff=follow.staff, by=ChurnedBy.CUSTOMER)
                ended += 1
    stats["customers"] = len(contacts_by_ext)
    stats["follows"] = sum(len(v) for v in follows_by_ext.values())
    stats["follows_ended_for_unknown_customers"] = ended


def _sync_groups(account: ChannelAccount, client: WeComClient, stats: dict[str, Any]) -> None:
    chat_ids = list(client.groupchat_ids())
    for chat_id in chat_ids:
        wecom.refresh_group(account, client, chat_id)
    gone = (
        CustomerGroup.objects.filter(organization_id=account.organization_id, dismissed_at__isnull=True)
        .exclude(wecom_chat_id="")
        .exclude(wecom_chat_id__in=chat_ids)
        .values_list("wecom_chat_id", flat=True)
    )
    for chat_id in list(gone):
        with transaction.atomic():
            wecom.group_gone(account, chat_id)
    stats["groups"] = len(chat_ids)
