"""Daily add caps of a 渠道活码 with automatic fallback to backup staff.

A 活码 may cap how many customers each member adds through it per Beijing day (one cap for all,
overridden per member). Adds are counted from the follows that carry the code's ``state`` (one
grouped query). When a member reaches the cap, WeCom's copy of the code gets the members minus the
capped ones plus the backups (``externalcontact/update_contact_way``; all capped → the backups
alone), so the next scan lands on someone who still has room. At the next Beijing day the beat task
puts the original members back. Each switch is a :class:`ContactWayRoster` row written (committed)
before the call and marked done or failed after it (docs/platforms.md#wecom-contact-way-caps).

Working-hours schedules (channels/wecom/schedules.py) decide who "the members" are at a moment: the
open window's staff, else the code's own. The same beat switches WeCom's list at the window edges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from channels.errors import PlatformError, TransientError
from channels.models import ContactWay, ContactWayKind, ContactWayRoster, RosterReason, RosterStatus
from channels.wecom.client import WeComClient
from channels.wecom.schedules import members_at, own_members, window_at
from contacts.models import Follow, Staff

SHANGHAI = ZoneInfo("Asia/Shanghai")
Clock = Callable[[], dt.datetime]


def beijing_day(now: dt.datetime) -> dt.date:
    return now.astimezone(SHANGHAI).date()


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)
    return start, start + dt.timedelta(days=1)


def has_caps(way: ContactWay) -> bool:
    return way.kind == ContactWayKind.CONTACT and (way.daily_cap is not None or bool(way.member_caps))


def has_schedule(way: ContactWay) -> bool:
    return way.kind == ContactWayKind.CONTACT and way.windows.exists()


def cap_for(way: ContactWay, userid: str) -> int | None:
    value = (way.member_caps or {}).get(userid)
    return int(value) if value is not None else way.daily_cap


def adds_today(ways: list[ContactWay], day: dt.date) -> dict[tuple[int, str], int]:
    """Adds per (way id, member userid) on one Beijing day, for many codes in one grouped query."""
    if not ways:
        return {}
    start, end = _day_bounds(day)
    by_state = {(w.organization_id, w.state): w.pk for w in ways}
    rows = (
        Follow.objects.filter(
            organization_id__in={w.organization_id for w in ways},
            state__in={w.state for w in ways},
            added_at__gte=start,
            added_at__lt=end,
        )
        .values("organization_id", "state", "staff__wecom_userid")
        .annotate(n=Count("id"))
    )
    counts: dict[tuple[int, str], int] = {}
    for row in rows:
        way_id = by_state.get((row["organization_id"], row["state"]))
        if way_id is not None:
            counts[(way_id, row["staff__wecom_userid"])] = row["n"]
    return counts


@dataclass(frozen=True)
class Roster:
    members: list[str]  # the code's own members, in order
    backups: list[str]
    capped: list[str]  # members at or over their cap today
    serving: list[str]  # who WeCom should hold now (never empty while there are members)


def roster_of(way: ContactWay, counts: dict[tuple[int, str], int], now: dt.datetime | None = None) -> Roster:
    """Who WeCom should hold: the members at ``now`` (schedule), minus the capped, plus the backups."""
    members = members_at(way, now or timezone.now())
    backups = [s.wecom_userid for s in way.backup_staff.all().order_by("id") if s.wecom_userid]
    capped = []
    for userid in members:
        cap = cap_for(way, userid)
        if cap is not None and counts.get((way.pk, userid), 0) >= cap:
            capped.append(userid)
    if not capped:
        serving = members
    else:
        open_members = [u for u in members if u not in capped]
        serving = list(dict.fromkeys(open_members + [b for b in backups if b not in capped])) or backups or members
    return Roster(members=members, backups=backups, capped=capped, serving=serving)


def current_serving(way: ContactWay, day: dt.date) -> list[str]:
    """Who WeCom holds for the code: the fallback / scheduled list of ``day``, else the members themselves."""
    if way.serving_userids and way.serving_day == day:
        return list(way.serving_userids)
    return own_members(way)


def caps_check(*, way: ContactWay, clock: Clock = timezone.now) -> ContactWayRoster | None:
    """Recount today's adds; switch WeCom's member list when it should change. Returns the switch made."""
    if way.kind != ContactWayKind.CONTACT or not way.config_id or not way.is_active:
        return None
    now = clock()
    day = beijing_day(now)
    roster = roster_of(way, adds_today([way], day) if has_caps(way) else {}, now)
    held = way.serving_userids if way.serving_userids else own_members(way)
    if roster.serving == held and (not way.serving_userids or way.serving_day == day):
        return None
    if roster.capped:
        reason = RosterReason.CAP
    elif window_at(way, now) is not None:
        reason = RosterReason.SCHEDULE
    else:
        reason = RosterReason.RESTORE
    return _switch(way=way, day=day, roster=roster, reason=reason, clock=clock)


def _switch(*, way: ContactWay, day: dt.date, roster: Roster, reason: str, clock: Clock) -> ContactWayRoster:
    with transaction.atomic():
        ContactWay.objects.select_for_update().filter(pk=way.pk).first()
        record = ContactWayRoster.objects.create(
            organization_id=way.organization_id,
            way=way,
            day=day,
            reason=reason,
            userids=roster.serving,
            capped=roster.capped,
            created_at=clock(),
        )
    client = WeComClient.for_account(way.account, max_wait=10.0)
    try:
        client.post("externalcontact/update_contact_way", {"config_id": way.config_id, "user": roster.serving})
    except (PlatformError, TransientError) as exc:
        code = f" {exc.code}" if isinstance(exc, PlatformError) else ""
        record.status, record.error = RosterStatus.FAILED, f"企业微信返回错误{code}：{exc}"[:300]
        record.save(update_fields=["status", "error"])
        ContactWay.objects.filter(pk=way.pk).update(sync_error=f"切换接待员工失败：{record.error}"[:300])
        return record
    record.status = RosterStatus.DONE
    record.save(update_fields=["status"])
    # Recorded whenever WeCom holds anything but the code's own members (a cap fallback or a window).
    fallback = roster.serving if roster.serving != own_members(way) else []
    ContactWay.objects.filter(pk=way.pk).update(serving_userids=fallback, serving_day=day if fallback else None)
    way.serving_userids, way.serving_day = fallback, (day if fallback else None)
    return record


def caps_rollover(*, clock: Clock = timezone.now) -> int:
    """Beat (every minute): codes still on a fallback of an earlier Beijing day get their list
    recomputed for today (normally the members back), and codes with working-hours windows get the
    list of the window open now. Returns how many codes were switched."""
    today = beijing_day(clock())
    stale = (
        ContactWay.objects.filter(is_active=True, kind=ContactWayKind.CONTACT)
        .exclude(config_id="")
        .filter((Q(serving_day__lt=today) & ~Q(serving_userids=[])) | Q(windows__isnull=False))
        .distinct()
        .select_related("account")
        .prefetch_related("staff", "backup_staff", "windows__staff")
    )
    switched = 0
    for way in stale:
        if caps_check(way=way, clock=clock) is not None:
            switched += 1
    return switched


def staff_names(organization_id: int, userids: set[str]) -> dict[str, str]:
    return dict(
        Staff.objects.filter(organization_id=organization_id, wecom_userid__in=userids).values_list(
            "wecom_userid", "name"
        )
    )
