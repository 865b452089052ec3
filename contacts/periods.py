"""Beijing-time periods for the home page: today, this week, this month, each against the one before.

The figures are read once per day (``{day: value}``, see ``contacts.selectors.follow_daily_counts`` and
``analytics.selectors.order_daily_totals``) over :func:`home_window`, then summed here per period: a
period runs from its first Beijing day up to and including today; the previous period is the whole
day, week (Monday to Sunday) or month before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _

BEIJING = ZoneInfo(settings.TIME_ZONE)  # Asia/Shanghai: platform days and report days
TREND_DAYS = 30

Number = int | Decimal


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    previous_label: str
    start: dt.date
    end: dt.date  # inclusive (today)
    previous_start: dt.date
    previous_end: dt.date  # inclusive


def periods(today: dt.date) -> list[Period]:
    """Today / this week (from Monday) / this month, each with the whole previous one."""
    week_start = today - dt.timedelta(days=today.weekday())
    month_start = today.replace(day=1)
    previous_month_end = month_start - dt.timedelta(days=1)
    return [
        Period("day", str(_("今日")), str(_("较昨日")), today, today, today - dt.timedelta(days=1),
               today - dt.timedelta(days=1)),
        Period("week", str(_("本周")), str(_("较上周")), week_start, today, week_start - dt.timedelta(days=7),
               week_start - dt.timedelta(days=1)),
        Period("month", str(_("本月")), str(_("较上月")), month_start, today, previous_month_end.replace(day=1),
               previous_month_end),
    ]  # fmt: skip


def trend_days(today: dt.date, days: int = TREND_DAYS) -> list[dt.date]:
    return [today - dt.timedelta(days=days - 1 - i) for i in range(days)]


def home_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last Beijing day any home figure needs (the previous month or the trend's start)."""
    first = min(min(p.previous_start for p in periods(today)), trend_days(today)[0])
    return first, today


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[first 00:00, last+1 00:00)`` Beijing time, as aware datetimes for a range filter."""
    return (
        dt.datetime.combine(first, dt.time.min, tzinfo=BEIJING),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=BEIJING),
    )


def sum_days(by_day: Mapping[dt.date, Number], first: dt.date, last: dt.date) -> Number:
    return sum((v for d, v in by_day.items() if first <= d <= last), 0)


@dataclass(frozen=True)
class Change:
    """A period's figure against the previous period's: ``delta`` and ``percent`` (``None`` from 0)."""

    value: Number
    previous: Number
    delta: Number
    percent: float | None

    @property
    def direction(self) -> str:
        return "up" if self.delta > 0 else "down" if self.delta < 0 else "flat"


def change(by_day: Mapping[dt.date, Number], period: Period) -> Change:
    value = sum_days(by_day, period.start, period.end)
    previous = sum_days(by_day, period.previous_start, period.previous_end)
    delta = value - previous
    percent = round(float(delta) * 100 / abs(float(previous)), 1) if previous else None
    return Change(value=value, previous=previous, delta=delta, percent=percent)
