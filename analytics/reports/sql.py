"""SQL helpers the report modules share (private to ``analytics.reports``): the statement runner,
the filter as parameters and WHERE clauses, the acquisition-cell split, and number formatting."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from analytics.reports.filters import SHANGHAI, ReportFilter
from contacts.models import SourceChannel


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        # No JIT: these read thousands of cells, and an overestimated row count (customers created
        # today, say) makes PostgreSQL spend up to a second compiling a plan that runs in a few ms.
        # SET LOCAL in the same round trip lasts for this statement's (implicit) transaction.
        cursor.execute("SET LOCAL jit = off; " + sql, params)
        return list(cursor.fetchall())


def _params(f: ReportFilter) -> dict[str, Any]:
    return {
        "org": f.organization_id,
        "start": f.start,
        "end": f.end,
        "lo": f.lo,
        "hi": f.hi,
        "stores": sorted(f.store_ids) if f.store_ids is not None else None,
        "channel": f.channel,
        "staff": f.staff_id,
        "today": f.today,
    }


def _daily_where(f: ReportFilter, alias: str = "d") -> str:
    conds = [f"{alias}.organization_id = %(org)s", f"{alias}.day BETWEEN %(start)s AND %(end)s"]
    if f.store_ids is not None:
        conds.append(f"{alias}.store_id = ANY(%(stores)s)")
    if f.channel:
        conds.append(f"{alias}.channel = %(channel)s")
    if f.staff_id:
        conds.append(f"{alias}.staff_id = %(staff)s")
    return " AND ".join(conds)


def _customer_where(f: ReportFilter, alias: str = "c") -> str:
    conds = [f"{alias}.organization_id = %(org)s"]
    if f.store_ids is not None:
        conds.append(f"{alias}.home_store_id = ANY(%(stores)s)")
    if f.channel:
        conds.append(f"{alias}.source_channel = %(channel)s")
    if f.staff_id:
        conds.append(
            f"EXISTS (SELECT 1 FROM contacts_follow fw WHERE fw.customer_id = {alias}.id "
            f"AND fw.staff_id = %(staff)s AND fw.deleted_at IS NULL)"
        )
    return " AND ".join(conds)


def _customer_join(f: ReportFilter, alias: str) -> str:
    """Join the customers only when a store/channel/staff filter needs them (facts carry the org)."""
    if f.store_ids is None and not f.channel and not f.staff_id:
        return ""
    return f"JOIN contacts_customer c ON c.id = {alias}.customer_id AND {_customer_where(f)}"


def _cells_where(f: ReportFilter, alias: str) -> str:
    """The store/channel filter on a report cell table (home store and channel of the customers)."""
    conds = [f"{alias}.organization_id = %(org)s"]
    if f.store_ids is not None:
        conds.append(f"{alias}.store_id = ANY(%(stores)s)")
    if f.channel:
        conds.append(f"{alias}.channel = %(channel)s")
    return " AND ".join(conds)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _acquisition_split(f: ReportFilter, p: dict[str, Any]) -> None:
    """Split the range for the acquisition cells. Complete months before the current one come from
    the month grain (``mlo``..``mhi``, end exclusive), the other days before today from the day
    grain (``d1lo``..``d1hi`` and ``d2lo``..``d2hi``), and customers created today (``tlo``..``hi``)
    live from the customers: a new lead shows at once."""
    today = f.today
    mlo = f.start if f.start.day == 1 else _next_month(f.start)
    mhi = min((f.end + dt.timedelta(days=1)).replace(day=1), today.replace(day=1))
    if mhi <= mlo:
        mlo = mhi = f.start
    p.update(
        mlo=mlo,
        mhi=mhi,
        d1lo=f.start,
        d1hi=mlo,
        d2lo=mhi,
        d2hi=min(f.end + dt.timedelta(days=1), today),
        tlo=dt.datetime.combine(max(f.start, today), dt.time.min, tzinfo=SHANGHAI),
    )


LIVE_CREATED = "(c.created_at >= %(tlo)s AND c.created_at < %(hi)s)"


def _acquisition_cells(alias: str) -> str:
    return (
        f"(({alias}.day IS NULL AND {alias}.month >= %(mlo)s AND {alias}.month < %(mhi)s)"
        f" OR ({alias}.day >= %(d1lo)s AND {alias}.day < %(d1hi)s)"
        f" OR ({alias}.day >= %(d2lo)s AND {alias}.day < %(d2hi)s))"
    )


def _pct(num: Any, den: Any) -> float | None:
    return round(100.0 * float(num) / float(den), 1) if den else None


def _money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _days(f: ReportFilter) -> list[dt.date]:
    n = (f.end - f.start).days + 1
    return [f.start + dt.timedelta(days=i) for i in range(n)]


def channel_label(code: str) -> str:
    try:
        return str(SourceChannel(code).label)
    except ValueError:
        return code or _("未知")


def _names(model: Any, ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))
