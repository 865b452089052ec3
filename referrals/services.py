"""Writes of 任务宝: campaigns, enrolment, the participant's 渠道活码 and poster link.

Counting, the 24-hour rule and rewards live in :mod:`referrals.counting`. The 活码 is made through
channels' own path (``contact_way_save``: our row first, then WeCom's add_contact_way), never inside a
transaction, lazily — on staff enrolment or the first poster view — since WeCom holds at most 500,000
API-made codes per corp (docs/platforms.md#wecom-contact-ways); the campaign's end deletes them.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.errors import PlatformError, TransientError
from channels.models import ChannelAccount, ContactWay, ContactWayKind
from channels.wecom.contact_ways import ContactWayError, contact_way_disable, contact_way_push, contact_way_save
from contacts.models import Customer, Segment, SourceChannel, Staff, Store
from contacts.segments import compile_sql
from offers.models import CouponTemplate
from referrals.models import EnrolSource, ReferralCampaign, ReferralParticipant, ReferralStatus
from todos.models import TodoKind
from todos.services import TodoSpec, todos_create

log = logging.getLogger(__name__)

POSTER_SALT = "referrals.poster"
POSTER_TODO_DUE = dt.timedelta(days=1)


class ReferralError(ValueError):
    """Refused input; the message (Chinese) says what to fix, ``field`` names the form field."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CampaignInput:
    name: str
    account: ChannelAccount
    staff: list[Staff]
    store: Store | None
    goal: int
    reward: CouponTemplate
    starts_at: dt.datetime
    ends_at: dt.datetime
    poster_text: str = ""
    goal2: int | None = None
    reward2: CouponTemplate | None = None


def _check(data: CampaignInput, organization_id: int) -> None:
    if not data.name.strip():
        raise ReferralError(_("请填写活动名称"), "name")
    if data.account.organization_id != organization_id or data.account.platform != "wecom":
        raise ReferralError(_("请选择本品牌的企业微信账号"), "account")
    if not data.staff:
        raise ReferralError(_("请至少选择一位接待员工"), "staff")
    if any(s.organization_id != organization_id or not s.wecom_userid for s in data.staff):
        raise ReferralError(_("接待员工须是本品牌有企业微信账号的员工"), "staff")
    if data.goal < 1:
        raise ReferralError(_("目标人数至少为 1"), "goal")
    for template in (data.reward, data.reward2):
        if template is not None and template.organization_id != organization_id:
            raise ReferralError(_("奖励优惠券不存在"), "reward")
    if (data.goal2 is None) != (data.reward2 is None):
        raise ReferralError(_("第二档需要同时填写目标人数和奖励"), "goal2")
    if data.goal2 is not None and data.goal2 <= data.goal:
        raise ReferralError(_("第二档目标人数须大于第一档"), "goal2")
    if data.ends_at <= data.starts_at:
        raise ReferralError(_("结束时间须晚于开始时间"), "ends_at")
    if data.store is not None and data.store.organization_id != organization_id:
        raise ReferralError(_("门店不存在"), "store")


@transaction.atomic
def referral_campaign_save(
    *, organization_id: int, data: CampaignInput, by: Staff | None, campaign: ReferralCampaign | None = None
) -> ReferralCampaign:
    """Create a draft campaign or edit one (an ended campaign cannot be edited)."""
    _check(data, organization_id)
    if campaign is None:
        campaign = ReferralCampaign(organization_id=organization_id, created_by=by)
    elif campaign.status == ReferralStatus.ENDED:
        raise ReferralError(_("活动已结束，不能再修改"))
    elif campaign.status == ReferralStatus.RUNNING and campaign.account_id != data.account.pk:
        raise ReferralError(_("进行中的活动不能更换企业微信账号"), "account")
    for name in ("name", "account", "store", "goal", "reward", "goal2", "reward2", "starts_at", "ends_at"):
        setattr(campaign, name, getattr(data, name))
    campaign.name = data.name.strip()
    campaign.poster_text = data.poster_text.strip()
    campaign.save()
    campaign.staff.set(data.staff)
    return campaign


@transaction.atomic
def referral_campaign_start(*, campaign: ReferralCampaign, now: dt.datetime | None = None) -> ReferralCampaign:
    now = now or timezone.now()
    if campaign.status != ReferralStatus.DRAFT:
        raise ReferralError(_("只有草稿状态的活动可以开始"))
    if campaign.ends_at <= now:
        raise ReferralError(_("结束时间已过，请先修改活动时间"), "ends_at")
    ReferralCampaign.objects.filter(pk=campaign.pk).update(status=ReferralStatus.RUNNING)
    campaign.status = ReferralStatus.RUNNING
    return campaign


def referral_campaign_end(*, campaign: ReferralCampaign, now: dt.datetime | None = None) -> int:
    """End the campaign (claimed by a conditional UPDATE) and delete its participants' 活码 on WeCom.

    Returns how many codes were deleted. Friends already added stay pending until their 24 hours pass,
    and rewards they complete are still issued.
    """
    now = now or timezone.now()
    with transaction.atomic():
        ReferralCampaign.objects.filter(pk=campaign.pk).exclude(status=ReferralStatus.ENDED).update(
            status=ReferralStatus.ENDED, ended_at=now
        )
    campaign.status = ReferralStatus.ENDED
    return referral_codes_retire(campaign_id=campaign.pk)


def referral_codes_retire(*, campaign_id: int) -> int:
    """del_contact_way for each participant's code still on WeCom (outside any transaction)."""
    deleted = 0
    ways = ContactWay.objects.filter(referral_participant__campaign_id=campaign_id, is_active=True).select_related(
        "account"
    )
    for way in ways:
        try:
            contact_way_disable(way=way)
            deleted += 1
        except (PlatformError, TransientError) as exc:  # retried by the next tick
            log.warning("referral code %s not deleted on WeCom: %s", way.pk, exc)
    return deleted


# -- enrolment --------------------------------------------------------------------------------------
def _enrollable(campaign: ReferralCampaign, now: dt.datetime) -> None:
    if campaign.status != ReferralStatus.RUNNING or not campaign.starts_at <= now < campaign.ends_at:
        raise ReferralError(_("活动未在进行中，不能邀请客户参加"), "campaign")


def _serving_staff_id(customer_id: int) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT f.staff_id FROM contacts_follow f JOIN contacts_staff st ON st.id = f.staff_id AND st.is_active
             WHERE f.customer_id = %s AND f.deleted_at IS NULL
          ORDER BY COALESCE(f.last_interaction_at, f.added_at) DESC, f.id DESC LIMIT 1
            """,
            [customer_id],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


@transaction.atomic
def referral_participant_enrol(
    *,
    campaign: ReferralCampaign,
    customer: Customer,
    by: Staff | None,
    source: str = EnrolSource.STAFF,
    now: dt.datetime | None = None,
) -> tuple[ReferralParticipant, bool]:
    """Enrol one customer (again: the existing row). The serving staff member gets a to-do with the
    poster link to send. Call :func:`referral_code_ensure` after it, outside the transaction."""
    now = now or timezone.now()
    _enrollable(campaign, now)
    if customer.organization_id != campaign.organization_id:
        raise ReferralError(_("客户不存在"), "customer_id")
    if customer.erased_at is not None:
        raise ReferralError(_("该客户的资料已删除，不能参加活动"), "customer_id")
    serving = (by.pk if by is not None and by.wecom_userid else None) or _serving_staff_id(customer.pk)
    participant, created = ReferralParticipant.objects.get_or_create(
        campaign=campaign,
        customer=customer,
        defaults={
            "organization_id": campaign.organization_id,
            "serving_staff_id": serving,
            "source": source,
            "enrolled_by": by,
            "created_at": now,
        },
    )
    if created and serving is not None:
        _poster_todos(campaign, [(participant.pk, customer.pk, serving, participant.token)], now)
    return participant, created


@transaction.atomic
def referral_participants_enrol_segment(
    *,
    campaign: ReferralCampaign,
    segment: Segment,
    store_ids: frozenset[int] | None,
    by: Staff | None,
    now: dt.datetime | None = None,
) -> int:
    """Enrol every customer of a saved segment (within the actor's stores) in one ``INSERT … SELECT``;
    their 活码 are made on the first poster view. Returns how many were new."""
    now = now or timezone.now()
    _enrollable(campaign, now)
    if segment.organization_id != campaign.organization_id:
        raise ReferralError(_("客户分群不存在"), "segment_id")
    sql, params = compile_sql(
        organization_id=campaign.organization_id, expression=segment.expression, store_ids=store_ids
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO referrals_referralparticipant
                   (organization_id, campaign_id, customer_id, serving_staff_id, source, token, enrolled_by_id,
                    created_at)
            SELECT %s, %s, cu.id,
                   (SELECT f.staff_id FROM contacts_follow f
                      JOIN contacts_staff st ON st.id = f.staff_id AND st.is_active
                     WHERE f.customer_id = cu.id AND f.deleted_at IS NULL
                  ORDER BY COALESCE(f.last_interaction_at, f.added_at) DESC, f.id DESC LIMIT 1),
                   %s, replace(gen_random_uuid()::text, '-', ''), %s, %s
              FROM ({sql}) s JOIN contacts_customer cu ON cu.id = s.id
             WHERE cu.erased_at IS NULL
            ON CONFLICT (campaign_id, customer_id) DO NOTHING
            RETURNING id, customer_id, serving_staff_id, token
            """,
            [campaign.organization_id, campaign.pk, EnrolSource.SEGMENT, by.pk if by else None, now, *params],
        )
        rows = cursor.fetchall()
    _poster_todos(campaign, [r for r in rows if r[2] is not None], now)
    return len(rows)


def _poster_todos(campaign: ReferralCampaign, rows: list[tuple[int, int, int, str]], now: dt.datetime) -> None:
    """(participant id, customer id, staff id, token): a to-do each to send the poster 1-to-1."""
    todos_create(
        organization_id=campaign.organization_id,
        specs=[
            TodoSpec(
                assignee_id=staff_id,
                kind=TodoKind.FOLLOW_UP,
                title=_("邀请客户参加任务宝：%(name)s") % {"name": campaign.name},
                body=_("邀请好友扫码添加，满 %(n)s 位新好友即得奖励。你的专属海报：%(link)s")
                % {"n": campaign.goal, "link": poster_link(token)},
                due_at=now + POSTER_TODO_DUE,
                source_key=f"referral-poster:{pid}",
                customer_id=customer_id,
                payload={"referral_campaign_id": campaign.pk, "referral_participant_id": pid},
            )
            for pid, customer_id, staff_id, token in rows
        ],
    )


# -- the participant's 活码 and poster ---------------------------------------------------------------
def referral_code_ensure(*, participant: ReferralParticipant) -> ContactWay | None:
    """The participant's 渠道活码, made on WeCom the first time (never inside a transaction).

    ``None`` when the campaign is not running or WeCom refused (the reason is on the code's
    ``sync_error``; the next poster view tries the push again).
    """
    campaign = participant.campaign
    if campaign.status != ReferralStatus.RUNNING or participant.erased_at is not None:
        return None
    way = participant.contact_way
    if way is not None and way.config_id:
        return way
    if way is None:
        try:
            way = contact_way_save(
                account=campaign.account,
                name=f"任务宝·{campaign.name[:40]}·{participant.pk}",
                state=participant.state,
                kind=ContactWayKind.CONTACT,
                channel=SourceChannel.WECOM,
                store=campaign.store,
                staff=list(campaign.staff.all()),
            )
        except ContactWayError:
            # Another request made the row first (contactway_state_unique): use it.
            way = ContactWay.objects.filter(account=campaign.account, state=participant.state).first()
            if way is None:
                log.warning("referral participant %s: no contact way", participant.pk)
                return None
        ReferralParticipant.objects.filter(pk=participant.pk, contact_way__isnull=True).update(contact_way=way)
        participant.contact_way = way
    if not way.config_id:
        contact_way_push(way=way)
        way.refresh_from_db()
    return way if way.config_id else None


def poster_signed(token: str) -> str:
    return signing.Signer(salt=POSTER_SALT).sign(token)


def poster_token(value: str) -> str | None:
    try:
        return signing.Signer(salt=POSTER_SALT).unsign(value)
    except signing.BadSignature:
        return None


def poster_link(token: str) -> str:
    """The participant's poster page (absolute: it goes into WeCom messages)."""
    return settings.PUBLIC_BASE_URL + reverse("referrals:poster", args=[poster_signed(token)])
