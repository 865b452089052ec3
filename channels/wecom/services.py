"""Apply WeCom facts to the customer base, through the contacts services only.

Used by both the inbox (one callback at a time) and the full sync: every write is an upsert from
the platform's current truth, so replays, duplicates and reordering converge to the same state.
Network calls happen outside database transactions; each block of writes is its own transaction.

Lookups of contacts rows (staff by WeCom userid, tags by WeCom id, a customer by identity) read the
contacts models directly: background jobs have no actor to scope by, and the models are the
contract (contacts/models.py). Every write goes through ``contacts.services``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from channels import registry
from channels.errors import PlatformError
from channels.leads.pool import lead_pool_convert
from channels.models import ChannelAccount, ContactWayKind, InboxEvent, MediaPurpose
from channels.selectors import contact_way_for_state
from channels.wecom import acquisition, adapter, add_caps, media
from channels.wecom.churn_alerts import churn_alert
from channels.wecom.client import WeComClient
from channels.wecom.lead_codes import lead_code_join
from channels.wecom.remarks import auto_remark_queue
from channels.wecom.tag_catalogue import catalogue_notices, catalogue_push, from_wecom_order
from contacts import crypto
from contacts import services as contacts
from contacts.models import (
    ChurnedBy,
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    Follow,
    Identity,
    MemberType,
    Platform,
    Role,
    Staff,
    Tag,
    TagGroup,
    TagSource,
    TimelineKind,
)
from scrm.celery import enqueue

log = logging.getLogger(__name__)

NOT_A_CONTACT = {84061, 40096}
# groupchat/get of a dismissed (or never-existing) chat: 40050. 90500 means "the owner has not resigned"
# and only comes from group handovers, so it must not mark a group gone.
GROUP_GONE = {40050}


# -- lookups ----------------------------------------------------------------------------------------
def staff_for(account: ChannelAccount, userid: str, name: str = "") -> Staff:
    """The Staff of a WeCom member, created (without a console login) when first seen."""
    staff = Staff.objects.filter(organization_id=account.organization_id, wecom_userid=userid).first()
    if staff is None:
        staff = contacts.staff_create(
            organization=account.organization, name=name or userid, role=Role.STORE_STAFF, wecom_userid=userid
        )
    return staff


def customer_for(account: ChannelAccount, external_userid: str) -> Customer | None:
    identity = (
        Identity.objects.filter(
            organization_id=account.organization_id,
            platform=Platform.WECOM,
            account=account.external_id,
            external_id=external_userid,
        )
        .select_related("customer")
        .first()
    )
    return identity.customer if identity else None


def tags_by_wecom_id(account: ChannelAccount, wecom_ids: list[str]) -> dict[str, Tag]:
    if not wecom_ids:
        return {}
    tags = Tag.objects.filter(organization_id=account.organization_id, wecom_tag_id__in=wecom_ids)
    return {t.wecom_tag_id: t for t in tags}


# -- customers --------------------------------------------------------------------------------------
def apply_contact(
    account: ChannelAccount,
    data: adapter.ContactData,
    *,
    complete: bool = True,
    still_following: set[str] | frozenset[str] = frozenset(),
) -> tuple[Customer, list[str]]:
    """Create/refresh the customer, their follows and WeCom tags from the platform's view.

    ``complete``: ``data.follows`` lists every follow user (``externalcontact/get``), so local follows
    missing from it have ended, except those of ``still_following`` (resigned members whose customers
    await handover, which WeCom lists apart). Returns the customer and the userids whose follow was new
    (or revived).
    """
    first = data.first_follow()
    way = contact_way_for_state(account=account, state=first.state) if first else None
    defaults: dict[str, Any] = {"name": data.name, "gender": data.gender, "avatar": data.avatar}
    if first is not None:
        channel = adapter.source_channel(first, way.channel if way else None)
        first_staff = Staff.objects.filter(organization_id=account.organization_id, wecom_userid=first.userid).first()
        store = (way.store if way else None) or (first_staff.store if first_staff else None) or account.default_store
        defaults.update(
            source_channel=channel,
            first_touch=adapter.first_touch(first, channel=channel, contact_way_id=way.pk if way else None),
            first_touch_at=first.added_at,
            home_store=store,
        )
    phones = _valid_phones(data.remark_phones())
    with transaction.atomic():
        customer, _created = contacts.customer_resolve(
            organization=account.organization,
            platform=Platform.WECOM,
            account=account.external_id,
            external_id=data.external_userid,
            unionid=data.unionid,
            # A remark phone typed by a member is the person's phone (OneID): it finds the lead,
            # the Meituan buyer or the imported customer with that number.
            phone=phones[0] if phones else "",
            defaults=defaults,
            source="wecom",
        )
        for follow in data.follows:
            if follow.state:
                customer = lead_code_join(account=account, customer=customer, state=follow.state)
        active = {
            f.staff.wecom_userid: f
            for f in Follow.objects.filter(customer=customer, deleted_at__isnull=True).select_related("staff")
        }
        new_follows: list[str] = []
        for follow in data.follows:
            staff = staff_for(account, follow.userid)
            if follow.userid not in active:
                new_follows.append(follow.userid)
            contacts.follow_upsert(
                customer=customer,
                staff=staff,
                added_at=follow.added_at,
                add_way=follow.add_way,
                state=follow.state,
                remark=follow.remark,
                description=follow.description,
                remark_mobiles=_valid_phones(follow.remark_mobiles),
                remarks_exact=True,  # WeCom's view of the follow: a remark cleared there is cleared here
            )
        if complete:
            listed = {f.userid for f in data.follows} | set(still_following)
            for userid, follow_row in active.items():
                if userid not in listed and userid:
                    # Gone on the platform while we missed the event: we cannot tell who deleted whom.
                    contacts.follow_end(customer=customer, staff=follow_row.staff, by=ChurnedBy.CUSTOMER)
        _sync_customer_wecom_tags(account, customer, data)
        added: list[registry.ContactAdded] = []
        for userid in new_follows:
            follow = next(f for f in data.follows if f.userid == userid)
            _apply_contact_way_tags(account, customer, follow)
            _auto_remark(account, customer, follow)
            added.append(
                registry.ContactAdded(
                    organization_id=account.organization_id,
                    account_id=account.pk,
                    customer_id=customer.pk,
                    staff_id=staff_for(account, userid).pk,
                    state=follow.state,
                )
            )
        # After OneID (lead code state, remark phone, unionid): a person waiting in the lead pool is added.
        lead_pool_convert(customer_id=customer.pk)
        registry.contact_added_notify(added)
    return customer, new_follows


def _valid_phones(raw: list[str]) -> list[str]:
    """Normalized mainland numbers among WeCom's remark phones (a landline or a typo is skipped)."""
    phones = []
    for value in raw:
        try:
            phones.append(crypto.normalize_phone(value))
        except crypto.InvalidPhone:
            continue
    return list(dict.fromkeys(phones))


def _auto_remark(account: ChannelAccount, customer: Customer, follow: adapter.FollowData) -> None:
    """The 活码's remark template (e.g. "{channel}-{store}") for the new friend, pushed after commit."""
    way = contact_way_for_state(account=account, state=follow.state)
    if way is None or not way.remark_template.strip():
        return
    row = Follow.objects.filter(customer=customer, staff__wecom_userid=follow.userid).select_related("staff").first()
    if row is not None:
        auto_remark_queue(way=way, follow=row)


def _sync_customer_wecom_tags(account: ChannelAccount, customer: Customer, data: adapter.ContactData) -> None:
    """WeCom corp tags on any follow → local tags (source "sync"); WeCom tags no follow has any more → removed."""
    wanted_ids = sorted({t for f in data.follows for t in f.wecom_tag_ids})
    wanted = tags_by_wecom_id(account, wanted_ids)
    held = set(customer.tag_ids or [])
    for tag in wanted.values():
        if tag.pk not in held:
            contacts.customer_tag_add(customer=customer, tag=tag, source=TagSource.SYNC)
    stale = Tag.objects.filter(pk__in=held, organization_id=account.organization_id).exclude(wecom_tag_id="")
    for tag in stale:
        if tag.wecom_tag_id not in wanted:
            contacts.customer_tag_remove(customer=customer, tag=tag, source=TagSource.SYNC)


def _apply_contact_way_tags(account: ChannelAccount, customer: Customer, follow: adapter.FollowData) -> None:
    way = contact_way_for_state(account=account, state=follow.state)
    tags = list(way.tags.all()) if way else []
    tags += [t for t in account.default_tags.all() if t not in tags]
    for tag in tags:
        contacts.customer_tag_add(customer=customer, tag=tag, source=TagSource.CHANNEL)


def refresh_contact(
    account: ChannelAccount, client: WeComClient, external_userid: str
) -> tuple[Customer | None, list[str]]:
    """Re-read one customer from WeCom and apply it; ends local follows when WeCom no longer knows them."""
    try:
        raw = client.external_contact_get(external_userid)
    except PlatformError as exc:
        if exc.code not in NOT_A_CONTACT:
            raise
        customer = customer_for(account, external_userid)
        if customer is not None:
            with transaction.atomic():
                for follow in Follow.objects.filter(customer=customer, deleted_at__isnull=True).select_related("staff"):
                    contacts.follow_end(customer=customer, staff=follow.staff, by=ChurnedBy.CUSTOMER)
        return customer, []
    data = adapter.ContactData.from_api(raw["external_contact"], raw["follow_user"])
    return apply_contact(account, data, complete=True)


def send_welcome(
    account: ChannelAccount,
    client: WeComClient,
    event: adapter.ContactEvent,
    occurred_at: datetime | None,
    sent: list[registry.WelcomeContent] | None = None,
) -> str:
    """Send the welcome message with the 20-second WelcomeCode. Returns a note for the inbox.

    What is sent, first match wins:
      1. a welcome template for this 渠道活码 (offered by a registered provider: campaigns);
      2. the 活码's own ``welcome_text``;
      3. the default welcome template (a provider, asked with no 活码);
      4. the account's ``settings["welcome_text"]``.

    The content WeCom accepted is appended to ``sent`` (its ``after_send`` runs once the customer is stored).

    Consent and opt-out are deliberately not checked: a welcome is the service reply to a customer
    who has just added the staff member themselves, not marketing (and a brand-new contact has no
    consent record yet). Marketing sends go through the campaigns planner, which does check them.
    """
    if not event.welcome_code:
        return ""
    way = contact_way_for_state(account=account, state=event.state)
    content = registry.welcome_from_providers(account=account, contact_way=way) if way else None
    if not content and way and way.welcome_text.strip():
        content = registry.WelcomeContent(text=way.welcome_text, source=f"contact way {way.pk}")
    if not content:
        content = registry.welcome_from_providers(account=account, contact_way=None)
    if not content:
        default_text = str((account.settings or {}).get("welcome_text", ""))
        content = registry.WelcomeContent(text=default_text, source="account settings")
    if not content:
        return "no welcome text"
    if occurred_at and (timezone.now() - occurred_at).total_seconds() > 25:
        return "welcome skipped: the 20 s WelcomeCode window has passed"
    body: dict[str, Any] = {"welcome_code": event.welcome_code}
    if content.text.strip():
        body["text"] = {"content": content.text}

    def send(attachments: list[dict[str, Any]]) -> None:
        client.post(
            "externalcontact/send_welcome_msg", {**body, **({"attachments": attachments} if attachments else {})}
        )

    try:
        # Library materials become media ids (uploaded and cached; once more with fresh ids on 40007).
        media.with_media(
            account=account, attachments=content.attachments, purpose=MediaPurpose.MESSAGE, call=send, client=client
        )
    except PlatformError as exc:
        if exc.code == 41051:
            return "welcome skipped: already sent or the customer started chatting (41051)"
        return f"welcome failed: {exc.code} {exc.message}"
    log.info("welcome sent on account %s from %s", account.pk, content.source)
    if sent is not None:
        sent.append(content)
    return "welcome sent"


# -- groups -----------------------------------------------------------------------------------------
def apply_group(account: ChannelAccount, chat: dict[str, Any]) -> CustomerGroup:
    """Upsert the group and its members; customers who just joined through a 群活码 get its tags."""
    owner = staff_for(account, str(chat.get("owner", ""))) if chat.get("owner") else None
    present = set(
        CustomerGroupMember.objects.filter(
            group__organization_id=account.organization_id,
            group__wecom_chat_id=str(chat["chat_id"]),
            left_at__isnull=True,
        ).values_list("member_id", flat=True)
    )
    joined_with_state: list[tuple[Customer, str]] = []
    members = []
    for member in chat.get("member_list") or []:
        external = int(member.get("type") or 1) == 2
        member_id = str(member.get("userid", ""))
        members.append(
            {
                "member_id": member_id,
                "member_type": MemberType.EXTERNAL if external else MemberType.STAFF,
                "name": member.get("name") or member.get("group_nickname") or "",
                "join_scene": int(member.get("join_scene") or 0),
                "joined_at": adapter.ts(member.get("join_time")),
                "customer": customer_for(account, member_id) if external else None,
            }
        )
        customer = members[-1]["customer"]
        if customer is not None and member.get("state") and member_id not in present:
            joined_with_state.append((customer, str(member["state"])))  # type: ignore[arg-type]
    group = contacts.group_upsert(
        organization=account.organization,
        wecom_chat_id=str(chat["chat_id"]),
        name=str(chat.get("name") or ""),
        owner=owner,
        store=owner.store if owner else None,
        notice=str(chat.get("notice") or ""),
        members=members,
    )
    for customer, state in joined_with_state:
        way = contact_way_for_state(account=account, state=state)
        if way is not None and way.kind == ContactWayKind.JOIN:
            for tag in way.tags.all():
                contacts.customer_tag_add(customer=customer, tag=tag, source=TagSource.CHANNEL)
    return group


def group_gone(account: ChannelAccount, chat_id: str) -> None:
    """The group was dismissed (or WeCom no longer knows it): dismissed here too, everyone left."""
    group = CustomerGroup.objects.filter(organization_id=account.organization_id, wecom_chat_id=chat_id).first()
    if group is None:
        return
    contacts.group_dismiss(group=group)


def refresh_group(account: ChannelAccount, client: WeComClient, chat_id: str) -> None:
    try:
        chat = client.groupchat_get(chat_id)
    except PlatformError as exc:
        if exc.code not in GROUP_GONE:
            raise
        with transaction.atomic():
            group_gone(account, chat_id)
        return
    with transaction.atomic():
        apply_group(account, chat)


# -- corp tags --------------------------------------------------------------------------------------
def sync_corp_tags(account: ChannelAccount, client: WeComClient) -> dict[str, int]:
    """Mirror WeCom corp tags into local tag groups/tags, names and orders included.

    A group is matched by its WeCom id, then by name; a tag by its WeCom id, then by name within its
    group — a same-name tag made on both sides is linked, not duplicated. WeCom tags gone from WeCom
    are deleted here (and groups WeCom no longer has, once empty), without pushing anything back.
    """
    stats = {"tag_groups": 0, "tags_created": 0, "tags_linked": 0, "tags_renamed": 0, "tags_deleted": 0}
    groups = client.corp_tag_list()
    seen: set[str] = set()
    seen_groups: set[str] = set()
    org_id = account.organization_id
    sync = TagSource.SYNC
    with transaction.atomic():
        for group in groups:
            if group.get("deleted"):
                continue
            group_id, group_name = str(group["group_id"]), str(group["group_name"])
            seen_groups.add(group_id)
            order = from_wecom_order(group.get("order") or 0)
            local_group = (
                TagGroup.objects.filter(organization_id=org_id, wecom_group_id=group_id).first()
                or TagGroup.objects.filter(organization_id=org_id, name=group_name, wecom_group_id="").first()
            )
            if local_group is None:
                local_group = contacts.tag_group_create(
                    organization=account.organization,
                    name=_free_group_name(org_id, group_name),
                    order=order,
                    wecom_group_id=group_id,
                )
            elif (local_group.wecom_group_id, local_group.order, local_group.name) != (group_id, order, group_name):
                clash = TagGroup.objects.filter(organization_id=org_id, name=group_name).exclude(pk=local_group.pk)
                contacts.tag_group_update(
                    group=local_group,
                    name=None if clash.exists() else group_name,
                    order=order,
                    wecom_group_id=group_id,
                    source=sync,
                )
            stats["tag_groups"] += 1
            for item in group.get("tag") or []:
                if item.get("deleted"):
                    continue
                wecom_id, name = str(item["id"]), str(item["name"])
                tag_order = from_wecom_order(item.get("order") or 0)
                seen.add(wecom_id)
                tag = Tag.objects.filter(organization_id=org_id, wecom_tag_id=wecom_id).first()
                if tag is None:
                    tag = Tag.objects.filter(group=local_group, name=name, wecom_tag_id="").first()
                    if tag is not None:
                        contacts.tag_update(tag=tag, order=tag_order, wecom_tag_id=wecom_id, source=sync)
                        stats["tags_linked"] += 1
                    elif Tag.objects.filter(group=local_group, name=name).exists():
                        log.warning("wecom tag %s: the group already has another WeCom tag named alike", wecom_id)
                    else:
                        contacts.tag_create(group=local_group, name=name, order=tag_order, wecom_tag_id=wecom_id)
                        stats["tags_created"] += 1
                    continue
                if tag.name != name or tag.order != tag_order:
                    taken = Tag.objects.filter(group_id=tag.group_id, name=name).exclude(pk=tag.pk).exists()
                    stats["tags_renamed"] += int(tag.name != name and not taken)
                    contacts.tag_update(tag=tag, name=None if taken else name, order=tag_order, source=sync)
        gone = Tag.objects.filter(organization_id=org_id).exclude(wecom_tag_id="")
        for tag in gone.exclude(wecom_tag_id__in=seen):
            contacts.tag_delete(tag=tag, source=sync)
            stats["tags_deleted"] += 1
        empty = TagGroup.objects.filter(organization_id=org_id, tags__isnull=True).exclude(wecom_group_id="")
        for local_group in empty.exclude(wecom_group_id__in=seen_groups):
            contacts.tag_group_delete(group=local_group, source=sync)
    return stats


def _free_group_name(organization_id: int, name: str) -> str:
    """WeCom's name, or (when a local group linked to another WeCom group has it) a marked variant."""
    if not TagGroup.objects.filter(organization_id=organization_id, name=name).exists():
        return name
    return f"{name}（企业微信）"[:50]


# -- the inbox processor ----------------------------------------------------------------------------
def process_event(event: InboxEvent) -> str:
    fields = adapter.parse_event(event.body)
    typed = adapter.to_event(fields)
    account = event.account
    if isinstance(typed, adapter.Ignored):
        return f"ignored: {typed.reason}"
    client = WeComClient.for_account(account, max_wait=10.0)
    if isinstance(typed, adapter.AcquisitionEvent):
        return acquisition.acquisition_event(account=account, change_type=typed.change_type, link_id=typed.link_id)
    if isinstance(typed, adapter.ContactEvent):
        return _process_contact(account, client, typed)
    if isinstance(typed, adapter.ChatEvent):
        if typed.change_type == "dismiss":
            with transaction.atomic():
                group_gone(account, typed.chat_id)
            return "group dismissed"
        refresh_group(account, client, typed.chat_id)
        return f"group {typed.change_type}"
    stats = sync_corp_tags(account, client)
    return f"tags synced: {stats}"


def _after_welcome(content: registry.WelcomeContent, customer: Customer) -> None:
    """Run the welcome's follow-up (a new-friend coupon) in a savepoint: the welcome is already on
    WeCom, so a refused follow-up is logged and must not fail the event (a replay would not resend)."""
    if content.after_send is None:
        return
    try:
        with transaction.atomic():
            content.after_send(customer)
    except Exception:
        log.exception("welcome follow-up from %s failed for customer %s", content.source, customer.pk)


def _process_contact(account: ChannelAccount, client: WeComClient, event: adapter.ContactEvent) -> str:
    kind = event.change_type
    if kind in adapter.CONTACT_ADDS:
        # The WelcomeCode lives 20 s: send first, then write (a replay gets 41051 and changes nothing).
        sent: list[registry.WelcomeContent] = []
        note = send_welcome(account, client, event, event.occurred_at, sent)
        customer, _new = refresh_contact(account, client, event.external_userid)
        capped = contact_way_for_state(account=account, state=event.state) if event.state else None
        if capped is not None and add_caps.has_caps(capped):
            # The add just counted may fill this member's cap: switch WeCom's list to the backups now.
            add_caps.caps_check(way=capped)
        if customer is not None and note == "welcome sent":
            way = contact_way_for_state(account=account, state=event.state)
            contacts.timeline_add(
                customer=customer,
                kind=TimelineKind.WELCOMED,
                summary="发送欢迎语",
                data={"state": event.state, "contact_way_id": way.pk if way else None, "staff": event.userid},
                actor=Staff.objects.filter(organization_id=account.organization_id, wecom_userid=event.userid).first(),
            )
            for content in sent:
                _after_welcome(content, customer)
        return note or "contact added"
    if kind in ("edit_external_contact", "msg_audit_approved"):
        refresh_contact(account, client, event.external_userid)
        return "contact refreshed"
    if kind in ("del_external_contact", "del_follow_user"):
        customer = customer_for(account, event.external_userid)
        staff = Staff.objects.filter(organization_id=account.organization_id, wecom_userid=event.userid).first()
        if customer is None or staff is None:
            return "ignored: unknown customer or member"
        follow = Follow.objects.filter(customer=customer, staff=staff).first()
        if follow and event.occurred_at and follow.added_at and follow.added_at > event.occurred_at:
            return "ignored: the customer was re-added after this deletion"
        ended = contacts.follow_end(customer=customer, staff=staff, by=event.churned_by, at=event.occurred_at)
        if ended:
            at = event.occurred_at or timezone.now()
            churn_alert(customer=customer, staff=staff, by=event.churned_by, at=at)
            registry.contact_removed_notify(
                [
                    registry.ContactRemoved(
                        organization_id=account.organization_id,
                        account_id=account.pk,
                        customer_id=customer.pk,
                        staff_id=staff.pk,
                        by=event.churned_by,
                        at=at,
                    )
                ]
            )
        return f"follow ended ({event.churned_by})"
    if kind == "transfer_fail":
        customer = customer_for(account, event.external_userid)
        if customer is not None:
            reason = {"customer_refused": "客户拒绝", "customer_limit_exceed": "接替成员客户已达上限"}.get(
                event.fail_reason, event.fail_reason
            )
            contacts.timeline_add(
                customer=customer,
                kind=TimelineKind.TRANSFERRED,
                summary=f"转接失败：{reason}",
                data={"takeover": event.userid, "reason": event.fail_reason},
                occurred_at=event.occurred_at,
            )
        return "transfer failed"
    return f"ignored: change type {kind}"


# -- tag changes pushed back to WeCom -------------------------------------------------------------------
UNKNOWN_TAG = 40068  # WeCom: invalid tagid (already deleted, or a tag of another corp)


def on_tags_changed(customer_id: int, added: list[int], removed: list[int], source: str) -> None:
    """contacts tag listener (after commit): push WeCom corp tags with mark_tag, in the background."""
    if source == TagSource.SYNC:
        return
    ids = [*added, *removed]
    if not Tag.objects.filter(pk__in=ids).exclude(wecom_tag_id="").exists():
        return
    enqueue("channels.sync.tag_push", customer_id, added, removed)


def tag_push(*, customer_id: int, added: list[int], removed: list[int]) -> int:
    """mark_tag for each active WeCom follow of the customer. Returns the number of calls made."""
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return 0
    tags = {t.pk: t.wecom_tag_id for t in Tag.objects.filter(pk__in=[*added, *removed]).exclude(wecom_tag_id="")}
    add = [tags[t] for t in added if t in tags]
    remove = [tags[t] for t in removed if t in tags]
    if not add and not remove:
        return 0
    calls = 0
    identities = Identity.objects.filter(customer=customer, platform=Platform.WECOM)
    follows = list(Follow.objects.filter(customer=customer, deleted_at__isnull=True).select_related("staff"))
    for identity in identities:
        account = ChannelAccount.objects.filter(
            organization_id=customer.organization_id, platform="wecom", external_id=identity.account, is_active=True
        ).first()
        if account is None:
            continue
        client = WeComClient.for_account(account, max_wait=10.0)
        for follow in follows:
            if not follow.staff.wecom_userid:
                continue
            try:
                client.mark_tag(
                    userid=follow.staff.wecom_userid, external_userid=identity.external_id, add=add, remove=remove
                )
                calls += 1
            except PlatformError as exc:
                if exc.code not in NOT_A_CONTACT:
                    raise
    return calls


def on_tag_deleted(organization_id: int, wecom_tag_id: str, source: str) -> None:
    """contacts tag-deleted listener (after commit): delete the WeCom corp tag, in the background."""
    if source == TagSource.SYNC or not wecom_tag_id:
        return
    enqueue("channels.sync.tag_delete_push", organization_id, wecom_tag_id)


def tag_delete_push(*, organization_id: int, wecom_tag_id: str) -> int:
    """``del_corp_tag`` on every active WeCom account of the brand (the tag's corp deletes it; another
    corp answers 40068, unknown tag, which is fine). Returns the number of accounts that deleted it."""
    deleted = 0
    accounts = ChannelAccount.objects.filter(organization_id=organization_id, platform="wecom", is_active=True)
    for account in accounts:
        client = WeComClient.for_account(account, max_wait=10.0)
        try:
            client.post("externalcontact/del_corp_tag", {"tag_id": [wecom_tag_id]})
            deleted += 1
        except PlatformError as exc:
            if exc.code != UNKNOWN_TAG:
                raise
    return deleted


def connect_tag_listener() -> None:
    contacts.register_tag_listener(on_tags_changed)
    contacts.register_tag_deleted_listener(on_tag_deleted)
    contacts.register_tag_catalogue_pusher(catalogue_push)
    contacts.register_tag_notices(catalogue_notices)
