"""Lifecycle stages (``contacts.models.Lifecycle``) derived from a customer's follows and orders.

The rules, in order (the first that holds wins), with the brand's own thresholds from
``Organization`` (the settings page tunes them):

1. 流失 ``churned`` — the customer had WeCom follows and every one of them is gone
   (``lifecycle_churn_on_unfollow``, on by default);
2. 沉睡 ``dormant`` — they have orders, the last one more than ``lifecycle_dormant_days`` Beijing
   days ago (0 turns the rule off);
3. 复购 ``repeat`` — at least ``lifecycle_repeat_orders`` counted orders (not fully refunded);
4. 成交 ``customer`` — at least one counted order;
5. 潜客 ``prospect`` — a live follow and no order;
6. otherwise the stage an import or lead source stated (线索 or 潜客) stays; a former buyer whose only
   order was refunded and who has no follow becomes 潜客 (they are known, not a cold lead).

:func:`customer_lifecycle_refresh` applies them in one ``UPDATE … FROM`` over any number of customers
and touches only the rows whose stage changes. It runs on the order path (inside
``customer_order_figures_set``), on the follow path (``follow_upsert``/``follow_end``) and nightly for
every organization (beat task ``contacts.lifecycle.refresh_all``), since idling moves with the calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from contacts.models import Lifecycle, TimelineKind

_SQL = """
    WITH ids AS ({ids}),
    fw AS (
        SELECT f.customer_id, bool_or(f.deleted_at IS NULL) AS live
          FROM contacts_follow f JOIN ids ON ids.id = f.customer_id
         GROUP BY f.customer_id
    ),
    new AS (
        SELECT c.id,
               CASE
                 WHEN o.lifecycle_churn_on_unfollow AND fw.customer_id IS NOT NULL AND NOT fw.live
                   THEN 'churned'
                 WHEN c.order_count > 0 AND o.lifecycle_dormant_days > 0
                      AND %(today)s::date - (c.last_order_at AT TIME ZONE 'Asia/Shanghai')::date
                          > o.lifecycle_dormant_days
                   THEN 'dormant'
                 WHEN c.order_count >= o.lifecycle_repeat_orders THEN 'repeat'
                 WHEN c.order_count > 0 THEN 'customer'
                 WHEN fw.live THEN 'prospect'
                 WHEN c.lifecycle IN ('lead', 'prospect') THEN c.lifecycle
                 ELSE 'prospect'
               END AS lifecycle
          FROM ids
          JOIN contacts_customer c ON c.id = ids.id
          JOIN contacts_organization o ON o.id = c.organization_id
          LEFT JOIN fw ON fw.customer_id = c.id
    )
    UPDATE contacts_customer c SET lifecycle = new.lifecycle
      FROM new
     WHERE c.id = new.id AND c.lifecycle IS DISTINCT FROM new.lifecycle
"""


def _run(ids_sql: str, params: dict[str, Any], today: dt.date | None) -> int:
    params = {**params, "today": today or timezone.localdate()}
    with connection.cursor() as cursor:
        cursor.execute(_SQL.format(ids=ids_sql), params)
        return int(cursor.rowcount)


def customer_lifecycle_refresh(*, customer_ids: Sequence[int], today: dt.date | None = None) -> int:
    """Re-derive the stage of ``customer_ids`` (one statement). ``today`` is the Beijing day the idle
    rule counts from (injected by tests). Returns the rows whose stage changed."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return 0
    return _run("SELECT unnest(%(ids)s::bigint[]) AS id", {"ids": ids}, today)


def organization_lifecycle_refresh(*, organization_id: int, today: dt.date | None = None) -> int:
    """Re-derive the stage of every customer of the organization (nightly, and after the brand changes
    its rules). Returns the rows whose stage changed."""
    return _run(
        "SELECT c0.id FROM contacts_customer c0 WHERE c0.organization_id = %(org)s", {"org": organization_id}, today
    )


def customers_lifecycle_move(
    *,
    organization_id: int,
    customer_ids: Sequence[int],
    lifecycle: str,
    reason: str,
    occurred_at: dt.datetime | None = None,
) -> list[int]:
    """Put ``customer_ids`` (of the organization) at stage ``lifecycle`` by hand or by a journey step,
    in one UPDATE, with a timeline entry (``reason``) for each whose stage changed; returns their ids.

    The derived rules above still run on the next order, follow change or nightly refresh: a stage
    they decide (流失, 沉睡, 复购, 成交, 潜客 with a follow) replaces the one set here."""
    # cycle: contacts.services.customers → merges → rollups → this module
    from contacts.services.customers import timeline_add_bulk

    if lifecycle not in Lifecycle.values:
        raise ValueError(f"unknown lifecycle stage {lifecycle!r}")
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_customer SET lifecycle = %s WHERE organization_id = %s AND id = ANY(%s)"
            " AND lifecycle IS DISTINCT FROM %s AND erased_at IS NULL RETURNING id",
            [lifecycle, organization_id, ids, lifecycle],
        )
        moved = sorted(row[0] for row in cursor.fetchall())
    timeline_add_bulk(
        organization_id=organization_id,
        customer_ids=moved,
        kind=TimelineKind.EDITED,
        summary=f"生命周期阶段改为“{Lifecycle(lifecycle).label}”：{reason}",
        data={"lifecycle": lifecycle},
        occurred_at=occurred_at,
    )
    return moved
