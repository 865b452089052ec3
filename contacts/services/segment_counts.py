"""``Segment.last_count``: the segment's size across the whole brand, recounted on save, on demand and
nightly (``contacts.segments.recount_all``).

The stored figure is brand-wide (no store scope): it is shared by everyone who opens the segment, so
it cannot depend on who pressed the button; a store manager's own count is the live preview. A
recount of an organization is set-based: one ``UPDATE … FROM (VALUES …)`` per chunk of segments, each
count a sub-select over the segment facts.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from contacts import segments
from contacts.models import Segment

logger = logging.getLogger(__name__)
CHUNK = 50


def segment_count_brand(*, organization_id: int, expression: Any) -> int:
    """The brand-wide size of an expression (one ``count(*)``)."""
    sql, params = segments.count_sql(organization_id=organization_id, expression=expression, store_ids=None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


@transaction.atomic
def segments_recount(*, organization_id: int, segment_ids: list[int] | None = None) -> int:
    """Recount the organization's saved segments (or only ``segment_ids`` of them); returns how many
    were recounted. A stored rule the engine no longer reads is skipped (logged), never guessed."""
    qs = Segment.objects.filter(organization_id=organization_id).order_by("id")
    if segment_ids is not None:
        qs = qs.filter(pk__in=segment_ids)
    rows = list(qs.values_list("id", "expression"))
    now = timezone.now()
    done = 0
    for start in range(0, len(rows), CHUNK):
        selects: list[str] = []
        params: list[Any] = []
        for pk, expression in rows[start : start + CHUNK]:
            try:
                sql, p = segments.count_sql(organization_id=organization_id, expression=expression, store_ids=None)
            except segments.SegmentError:
                logger.warning("segment %s has a rule the engine cannot read; not recounted", pk)
                continue
            selects.append(f"SELECT %s::bigint AS id, ({sql}) AS n")
            params += [pk, *p]
        if not selects:
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE contacts_segment s SET last_count = v.n, last_counted_at = %s"
                f" FROM ({' UNION ALL '.join(selects)}) v WHERE s.id = v.id",
                [now, *params],
            )
            done += cursor.rowcount
    return done
