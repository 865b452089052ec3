"""The report filter: dates, store, channel and staff, always within the actor's scope.

A :class:`ReportFilter` is built from an :class:`~contacts.access.Actor` (``report_filter``), which is
where organization and store scoping is applied: every report reads ``f.organization_id`` /
``f.store_ids`` from it and never from request parameters. Store staff are pinned to themselves (their
own performance); managers to their stores.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.rollups import SHANGHAI
from contacts.access import Actor
from contacts.models import SourceChannel, Staff, Store

__all__ = ["SHANGHAI", "ReportFilter", "report_filter"]


@dataclass(frozen=True)
class ReportFilter:
    organization_id: int
    start: dt.date
    end: dt.date
    store_ids: frozenset[int] | None = None  # None: every store of the organization
    channel: str = ""
    staff_id: int | None = None
    today: dt.date = field(default_factory=timezone.localdate)

    @property
    def lo(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=SHANGHAI)

    @property
    def hi(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=SHANGHAI)

    def query(self) -> dict[str, str]:
        """The filter as GET parameters (for export links)."""
        q = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.channel:
            q["channel"] = self.channel
        if self.staff_id:
            q["staff"] = str(self.staff_id)
        return q

    def use_cells(self) -> bool:
        """Read the pre-summed cells: they are by home store and channel, not by follower, so a staff
        filter (a store clerk's own customers, a few thousand at most) reads the customers instead."""
        return not self.staff_id


def _parse_date(value: str | None, default: dt.date) -> dt.date:
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return default


def report_filter(*, actor: Actor, params: Any, default_days: int = 90) -> ReportFilter:
    """Build the filter from GET parameters, within the actor's scope.

    A store outside the actor's stores is refused; store staff always see only themselves.
    """
    today = timezone.localdate()
    end = _parse_date(params.get("end"), today)
    start = _parse_date(params.get("start"), end - dt.timedelta(days=default_days - 1))
    if start > end:
        start, end = end, start
    store_ids = actor.store_ids
    store = params.get("store") or ""
    if store:
        try:
            store_id = int(store)
        except ValueError:
            store_id = -1
        if not actor.can_access_store(store_id) or not actor.scope(Store.objects.filter(pk=store_id)).exists():
            raise PermissionDenied(_("无权查看该门店的数据"))
        store_ids = frozenset({store_id})
    channel = params.get("channel") or ""
    if channel not in SourceChannel.values:
        channel = ""
    staff_id: int | None = None
    if actor.is_store_staff:
        staff_id = actor.staff.pk
    elif params.get("staff"):
        try:
            staff_id = int(params.get("staff"))
        except ValueError:
            staff_id = None
        if staff_id and not actor.scope(Staff.objects.filter(pk=staff_id)).exists():
            raise PermissionDenied(_("无权查看该员工的数据"))
    return ReportFilter(
        organization_id=actor.organization_id,
        start=start,
        end=end,
        store_ids=store_ids,
        channel=channel,
        staff_id=staff_id,
        today=today,
    )
