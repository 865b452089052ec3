"""获客助手 (customer acquisition links): our rows first, then WeCom, never inside one transaction.

A link (``AcquisitionLink``) is mirrored to WeCom with ``customer_acquisition/create_link`` /
``update_link`` (name, range = the staff, skip_verify). Each channel the operator hands the link to
(抖音主页, 小红书笔记…) gets its own ``customer_channel`` value appended to the url; WeCom returns it as
the add's ``State`` and as ``follow_info.state`` (docs/platforms.md#wecom-acquisition-links). Each
channel is a ContactWay row of kind ``link`` whose ``state`` is that value, so the add is attributed
(source channel, store), tagged, welcomed and auto-remarked by the very code that handles a 活码
add (``channels.selectors.contact_way_for_state``) — there is no second attribution path.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import transaction
from django.utils import timezone

from channels.errors import PlatformError, TransientError
from channels.models import AcquisitionLink, ChannelAccount, ContactWay, ContactWayKind
from channels.wecom.client import WeComClient
from channels.wecom.contact_ways import ContactWayError, check_state, new_state, staff_without_wecom, state_taken
from contacts.models import SourceChannel, Staff, Store, Tag

RANGE_MAX_USERS = 100  # range.user_list (official path/97297)
NAME_MAX = 100
UNKNOWN_LINK = 40058  # what WeCom answers for a link_id it does not know (docs/platforms.md)


class AcquisitionLinkError(ContactWayError):
    """Refused input; the message (Chinese) says what to fix."""


@dataclass(frozen=True)
class ChannelSpec:
    """One place the link is handed out: its ``customer_channel``, a label, and the attribution."""

    label: str
    customer_channel: str = ""
    channel: str = SourceChannel.OTHER
    store: Store | None = None


def channel_url(link: AcquisitionLink, customer_channel: str) -> str:
    """The link's url with ``customer_channel`` appended (what the operator pastes into a bio or an ad)."""
    if not link.url:
        return ""
    sep = "&" if "?" in link.url else "?"
    return f"{link.url}{sep}{urlencode({'customer_channel': customer_channel})}"


def _clean(
    account: ChannelAccount,
    link: AcquisitionLink | None,
    name: str,
    staff: list[Staff],
    tags: list[Tag],
    channels: list[ChannelSpec],
) -> list[ChannelSpec]:
    if not name:
        raise AcquisitionLinkError("请填写链接名称")
    if len(name) > NAME_MAX:
        raise AcquisitionLinkError(f"链接名称最多 {NAME_MAX} 个字符")
    if not staff:
        raise AcquisitionLinkError("请至少选择一位接待员工")
    if len(staff) > RANGE_MAX_USERS:
        raise AcquisitionLinkError(f"一个获客链接最多 {RANGE_MAX_USERS} 位接待员工")
    missing = staff_without_wecom(account, staff)
    if missing:
        raise AcquisitionLinkError(f"这些员工没有企业微信账号，不能接待：{'、'.join(missing)}")
    if any(t.organization_id != account.organization_id for t in tags):
        raise AcquisitionLinkError("标签不属于该企业")
    if not channels:
        raise AcquisitionLinkError("请至少添加一个投放渠道")
    cleaned: list[ChannelSpec] = []
    for spec in channels:
        label = spec.label.strip()
        if not label:
            raise AcquisitionLinkError("每个投放渠道都需要一个名称")
        if spec.channel not in SourceChannel.values:
            raise AcquisitionLinkError(f"来源渠道无效：{spec.channel}")
        if spec.store is not None and spec.store.organization_id != account.organization_id:
            raise AcquisitionLinkError("门店不属于该企业")
        value = (spec.customer_channel or new_state("ca")).strip()
        try:
            check_state(value)
        except ContactWayError as exc:
            raise AcquisitionLinkError(f"投放渠道“{label}”：{exc}") from exc
        cleaned.append(ChannelSpec(label=label[:100], customer_channel=value, channel=spec.channel, store=spec.store))
    values = [c.customer_channel for c in cleaned]
    doubled = sorted({v for v in values if values.count(v) > 1})
    if doubled:
        raise AcquisitionLinkError(f"渠道参数重复：{'、'.join(doubled)}")
    own = list(link.channels.values_list("pk", flat=True)) if link and link.pk else []
    taken = [v for v in values if state_taken(account, v, own)]
    if taken:
        raise AcquisitionLinkError(f"渠道参数“{'、'.join(taken)}”已被其他活码或获客链接使用，请换一个")
    return cleaned


@transaction.atomic
def _save_rows(
    *,
    account: ChannelAccount,
    link: AcquisitionLink | None,
    name: str,
    store: Store | None,
    staff: list[Staff],
    tags: list[Tag],
    welcome_text: str,
    skip_verify: bool,
    channels: list[ChannelSpec],
    by: Staff | None,
) -> AcquisitionLink:
    if link is None:
        link = AcquisitionLink(organization_id=account.organization_id, account=account, created_by=by)
    link.name, link.store, link.welcome_text, link.skip_verify = name, store, welcome_text, skip_verify
    link.save()
    link.staff.set(staff)
    link.tags.set(tags)
    existing = {w.state: w for w in link.channels.all()}
    for spec in channels:
        way = existing.pop(spec.customer_channel, None) or ContactWay(
            organization_id=account.organization_id, account=account, kind=ContactWayKind.LINK,
            acquisition_link=link, state=spec.customer_channel, created_by=by,
        )  # fmt: skip
        way.name, way.channel, way.store = spec.label, spec.channel, spec.store or store
        way.welcome_text, way.skip_verify, way.is_active = welcome_text, skip_verify, link.is_active
        way.save()
        way.staff.set(staff)
        way.tags.set(tags)
    # A channel taken off the link stops being handed out but keeps attributing its earlier adds.
    ContactWay.objects.filter(pk__in=[w.pk for w in existing.values()]).update(is_active=False)
    return link


def acquisition_link_save(
    *,
    account: ChannelAccount,
    name: str,
    staff: list[Staff],
    channels: list[ChannelSpec],
    tags: list[Tag] | None = None,
    store: Store | None = None,
    welcome_text: str = "",
    skip_verify: bool = True,
    by: Staff | None = None,
    link: AcquisitionLink | None = None,
) -> AcquisitionLink:
    """Create or edit a 获客链接 and its channels, then mirror it to WeCom.

    Raises :class:`AcquisitionLinkError` for invalid input (nothing written); a refusal by WeCom is
    kept on ``sync_error`` for the operator.
    """
    name = name.strip()
    staff, tags = list(staff), list(tags or [])
    if store is not None and store.organization_id != account.organization_id:
        raise AcquisitionLinkError("门店不属于该企业")
    cleaned = _clean(account, link, name, staff, tags, channels)
    link = _save_rows(account=account, link=link, name=name, store=store, staff=staff, tags=tags,
                      welcome_text=welcome_text, skip_verify=skip_verify, channels=cleaned, by=by)  # fmt: skip
    acquisition_link_push(link=link)
    link.refresh_from_db()
    return link


def acquisition_link_push(*, link: AcquisitionLink) -> None:
    """create_link (first time) or update_link; record link_id/url, or the error for the operator."""
    client = WeComClient.for_account(link.account, max_wait=10.0)
    body = {
        "link_name": link.name,
        "range": {"user_list": [s.wecom_userid for s in link.staff.all().order_by("id")]},
        "skip_verify": link.skip_verify,
    }
    updates: dict[str, str] = {"sync_error": ""}
    try:
        if link.link_id:
            client.post("externalcontact/customer_acquisition/update_link", {"link_id": link.link_id, **body})
        else:
            data = client.post("externalcontact/customer_acquisition/create_link", body)["link"]
            updates.update(link_id=data["link_id"], url=data.get("url", ""))
    except PlatformError as exc:
        updates["sync_error"] = f"企业微信返回错误 {exc.code}：{exc.message}"[:300]
    except TransientError as exc:
        updates["sync_error"] = f"暂时无法连接企业微信（{exc}），请稍后点“重新同步”"[:300]
    AcquisitionLink.objects.filter(pk=link.pk).update(**updates)


def acquisition_link_delete(*, link: AcquisitionLink) -> None:
    """Delete the link on WeCom (it stops working) and keep our rows, so earlier adds stay attributed."""
    if link.link_id:
        client = WeComClient.for_account(link.account, max_wait=10.0)
        try:
            client.post("externalcontact/customer_acquisition/delete_link", {"link_id": link.link_id})
        except PlatformError as exc:
            if exc.code != UNKNOWN_LINK:  # already gone on WeCom
                raise
    with transaction.atomic():
        AcquisitionLink.objects.filter(pk=link.pk).update(is_active=False, sync_error="")
        ContactWay.objects.filter(acquisition_link=link).update(is_active=False)


def acquisition_stats_refresh(*, link: AcquisitionLink) -> dict[str, dict[str, int]]:
    """Read ``customer_acquisition/customer`` (every page) and keep the counts per customer_channel."""
    client = WeComClient.for_account(link.account, max_wait=10.0)
    stats: dict[str, dict[str, int]] = defaultdict(lambda: {"customers": 0, "chatted": 0})
    for row in client.paginate(
        "externalcontact/customer_acquisition/customer", {"link_id": link.link_id, "limit": 1000}, "customer_list"
    ):
        cell = stats[str(row.get("state") or "")]
        cell["customers"] += 1
        cell["chatted"] += 1 if row.get("chat_status") == 1 else 0
    result = dict(stats)
    AcquisitionLink.objects.filter(pk=link.pk).update(wecom_stats=result, stats_synced_at=timezone.now())
    return result


QUOTA_CHANGES = {"balance_low", "balance_exhausted", "balance_increased", "quota_expire_soon"}


def acquisition_event(*, account: ChannelAccount, change_type: str, link_id: str) -> str:
    """A ``customer_acquisition`` callback: the quota state is kept on the account (the links page warns
    when it runs low or out); a link WeCom reports unusable gets a sync error, one deleted in WeCom's
    admin console stops here too. Returns the inbox note."""
    if change_type in QUOTA_CHANGES:
        with transaction.atomic():
            locked = ChannelAccount.objects.select_for_update().get(pk=account.pk)
            locked.settings = {
                **(locked.settings or {}),
                "acquisition_quota": {"state": change_type, "at": timezone.now().isoformat()},
            }
            locked.save(update_fields=["settings", "updated_at"])
        return f"acquisition quota: {change_type}"
    link = AcquisitionLink.objects.filter(account=account, link_id=link_id).first() if link_id else None
    if link is None:
        return f"ignored: acquisition {change_type} for an unknown link"
    if change_type == "link_unavailable":
        AcquisitionLink.objects.filter(pk=link.pk).update(
            sync_error="企业微信报告该链接已不可用：请确认接待员工仍在职且有客户联系权限，再点“重新同步”"
        )
        return "acquisition link unavailable"
    if change_type == "delete_link":
        with transaction.atomic():
            AcquisitionLink.objects.filter(pk=link.pk).update(is_active=False)
            ContactWay.objects.filter(acquisition_link=link).update(is_active=False)
        return "acquisition link deleted on WeCom"
    return f"ignored: acquisition {change_type}"
