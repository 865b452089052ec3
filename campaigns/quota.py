"""Quota windows and quiet hours: pure functions over a :class:`QuotaPolicy` and a clock.

Platform days are Asia/Shanghai calendar days (``settings.TIME_ZONE``). A campaign is sent on one
platform day (its ``send_after``), so every window it charges is a constant for the whole plan.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from campaigns.models import CampaignKind, CapMode, CapPeriod, ExclusionReason, LedgerKind, QuotaPolicy

PLATFORM_TZ = ZoneInfo(settings.TIME_ZONE)


def platform_day(at: datetime) -> date:
    return at.astimezone(PLATFORM_TZ).date()


@dataclass(frozen=True)
class Window:
    kind: str
    start: date
    limit: int
    reason: str


def _mode_window(mode: str, day: date) -> tuple[date, int]:
    if mode == CapMode.WEEKLY:
        return day - timedelta(days=day.weekday()), 7
    if mode == CapMode.MONTHLY:
        return day.replace(day=1), calendar.monthrange(day.year, day.month)[1]
    return day, 1


def _period_start(period: str, day: date) -> date:
    if period == CapPeriod.WEEK:
        return day - timedelta(days=day.weekday())
    if period == CapPeriod.MONTH:
        return day.replace(day=1)
    return day


def windows_for(*, policy: QuotaPolicy, kind: str, day: date) -> list[Window]:
    """The ledger slots one recipient of a campaign of ``kind`` sent on ``day`` must reserve."""
    out: list[Window] = []
    if kind == CampaignKind.BROADCAST_SINGLE:
        start, limit = _mode_window(policy.customer_mode, day)
        out.append(Window(LedgerKind.WECOM_CUSTOMER, start, limit, ExclusionReason.QUOTA))
    elif kind == CampaignKind.BROADCAST_GROUP:
        start, limit = _mode_window(policy.group_mode, day)
        out.append(Window(LedgerKind.WECOM_GROUP, start, limit, ExclusionReason.QUOTA))
    elif kind == CampaignKind.MOMENT:
        out.append(Window(LedgerKind.MOMENT, day, max(policy.moments_per_day, 0), ExclusionReason.QUOTA))
    if policy.brand_cap and kind in (CampaignKind.BROADCAST_SINGLE, CampaignKind.MOMENT):
        out.append(
            Window(
                LedgerKind.BRAND,
                _period_start(policy.brand_cap_period, day),
                policy.brand_cap,
                ExclusionReason.BRAND_CAP,
            )
        )
    return out


def in_quiet_hours(*, policy: QuotaPolicy, at: datetime) -> bool:
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    local = at.astimezone(PLATFORM_TZ).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(*, policy: QuotaPolicy, at: datetime) -> datetime:
    """``at`` itself outside quiet hours, else the end of the quiet window (deferred to the next window)."""
    if not in_quiet_hours(policy=policy, at=at):
        return at
    local = at.astimezone(PLATFORM_TZ)
    end_today = datetime.combine(local.date(), policy.quiet_end, tzinfo=PLATFORM_TZ)
    return end_today if end_today > local else end_today + timedelta(days=1)


def quiet_end_after(*, policy: QuotaPolicy, at: datetime) -> datetime:
    return next_allowed(policy=policy, at=at)


def default_policy(organization_id: int) -> QuotaPolicy:
    return QuotaPolicy(organization_id=organization_id, quiet_start=time(21, 0), quiet_end=time(9, 0))


def policy_for(*, organization_id: int, channel_account_id: int | None = None) -> QuotaPolicy:
    """The account's policy, else the organization's, else the defaults (daily 1, 21:00–09:00)."""
    qs = QuotaPolicy.objects.filter(organization_id=organization_id)
    if channel_account_id:
        found = qs.filter(channel_account_id=channel_account_id).first()
        if found:
            return found
    return qs.filter(channel_account__isnull=True).first() or default_policy(organization_id)
