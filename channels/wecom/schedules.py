"""Working-hours schedules of a 渠道活码: who receives its adds at each Beijing weekday and hour.

A window says: on these ISO weekdays (1 = Monday … 7 = Sunday), from ``start`` to ``end`` (Beijing
time, end exclusive, ``24:00`` = end of day), WeCom's copy of the code holds these members instead of
the code's own. Outside every window the code's own members receive. WeCom has no schedule of its
own, so the switch is an ``update_contact_way {config_id, user[]}`` made by the roster beat at the
window edges (channels/wecom/add_caps.py; docs/platforms.md#wecom-contact-way-schedules); daily caps
then apply to whoever the window put on.

Operators write windows one per line: ``1-5 09:00-18:00 guide_a,guide_b`` (weekdays as ranges or
lists, then the time range, then WeCom userids).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from channels.models import ChannelAccount, ContactWay, ContactWayWindow
from contacts.models import Staff

SHANGHAI = ZoneInfo("Asia/Shanghai")
END_OF_DAY = dt.time(23, 59, 59, 999999)
WEEKDAY_NAMES = {1: _("周一"), 2: _("周二"), 3: _("周三"), 4: _("周四"), 5: _("周五"), 6: _("周六"), 7: _("周日")}
_LINE = re.compile(
    r"^(?P<days>[1-7](?:\s*[-,，]\s*[1-7])*)\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s+(?P<users>.+)$"
)


class ScheduleError(ValueError):
    """A window the operator wrote cannot be used; the message (Chinese) says which and why."""


@dataclass(frozen=True)
class WindowSpec:
    weekdays: tuple[int, ...]
    start: dt.time
    end: dt.time
    userids: tuple[str, ...]


def _time(text: str, *, end: bool) -> dt.time:
    hour, minute = (int(part) for part in text.split(":"))
    if end and (hour, minute) == (24, 0):
        return END_OF_DAY
    if hour > 23 or minute > 59:
        raise ValueError(text)
    return dt.time(hour, minute)


def _days(text: str) -> tuple[int, ...]:
    days: set[int] = set()
    for part in re.split(r"\s*[,，]\s*", text.strip()):
        if "-" in part:
            first, last = (int(x) for x in part.split("-"))
            if first > last:
                raise ValueError(part)
            days.update(range(first, last + 1))
        else:
            days.add(int(part))
    return tuple(sorted(days))


def parse_windows(text: str) -> list[WindowSpec]:
    """Parse the operator's lines; a bad line raises :class:`ScheduleError` naming the line."""
    specs: list[WindowSpec] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise ScheduleError(f"第 {number} 行格式不对，应为“1-5 09:00-18:00 userid1,userid2”")
        try:
            days = _days(match["days"])
            start, end = _time(match["start"], end=False), _time(match["end"], end=True)
        except ValueError as exc:
            raise ScheduleError(f"第 {number} 行的星期或时间无效（星期 1-7，时间 00:00-24:00）") from exc
        if start >= end:
            raise ScheduleError(f"第 {number} 行的开始时间要早于结束时间（跨零点请拆成两行）")
        users = tuple(dict.fromkeys(u for u in re.split(r"[\s,，、]+", match["users"]) if u))
        if not users:
            raise ScheduleError(f"第 {number} 行没有接待员工")
        spec = WindowSpec(weekdays=days, start=start, end=end, userids=users)
        for other in specs:
            if set(other.weekdays) & set(days) and other.start < end and start < other.end:
                raise ScheduleError(f"第 {number} 行与前面的时段重叠：同一时刻只能有一组接待员工")
        specs.append(spec)
    return specs


def format_windows(way: ContactWay) -> str:
    """The code's windows back as the lines the operator edits."""
    lines = []
    for window in way.windows.all():
        end = "24:00" if window.end == END_OF_DAY else window.end.strftime("%H:%M")
        userids = ",".join(s.wecom_userid for s in window.staff.all().order_by("id"))
        days = ",".join(str(d) for d in window.weekdays)
        lines.append(f"{days} {window.start.strftime('%H:%M')}-{end} {userids}")
    return "\n".join(lines)


def window_label(window: ContactWayWindow) -> str:
    days = "、".join(str(WEEKDAY_NAMES[d]) for d in window.weekdays)
    end = "24:00" if window.end == END_OF_DAY else window.end.strftime("%H:%M")
    return f"{days} {window.start.strftime('%H:%M')}–{end}"


def resolve_staff(account: ChannelAccount, specs: list[WindowSpec]) -> dict[str, Staff]:
    """The members the windows name, by WeCom userid; an unknown userid raises :class:`ScheduleError`."""
    wanted = {u for spec in specs for u in spec.userids}
    found = {
        s.wecom_userid: s
        for s in Staff.objects.filter(organization_id=account.organization_id, wecom_userid__in=wanted)
    }
    unknown = sorted(wanted - set(found))
    if unknown:
        raise ScheduleError(f"这些企业微信账号不是本企业的员工：{'、'.join(unknown)}")
    return found


@transaction.atomic
def windows_replace(*, way: ContactWay, specs: list[WindowSpec], staff: dict[str, Staff]) -> None:
    """Replace the code's windows (inside the caller's save)."""
    way.windows.all().delete()
    for position, spec in enumerate(specs):
        window = ContactWayWindow.objects.create(
            organization_id=way.organization_id, way=way, weekdays=list(spec.weekdays), start=spec.start,
            end=spec.end, position=position,
        )  # fmt: skip
        window.staff.set([staff[u] for u in spec.userids])


def window_at(way: ContactWay, now: dt.datetime) -> ContactWayWindow | None:
    """The window open at ``now`` (Beijing weekday and time), if any."""
    local = now.astimezone(SHANGHAI)
    weekday, moment = local.isoweekday(), local.time()
    for window in way.windows.all():
        if weekday in window.weekdays and window.start <= moment < window.end:
            return window
    return None


def own_members(way: ContactWay) -> list[str]:
    """The code's own members (what a push without schedule or caps sends)."""
    return [s.wecom_userid for s in sorted(way.staff.all(), key=lambda s: s.pk) if s.wecom_userid]


def members_at(way: ContactWay, now: dt.datetime) -> list[str]:
    """Who should receive at ``now``: the open window's staff, else the code's own members."""
    window = window_at(way, now)
    if window is None:
        return own_members(way)
    return [s.wecom_userid for s in sorted(window.staff.all(), key=lambda s: s.pk) if s.wecom_userid]  # prefetched
