"""The segment-fact copy of customers (``contacts.models.SegmentFact``).

Postgres triggers keep it in step with every statement on ``contacts_customer``; this rebuild exists
for loads that ran with triggers off (``session_replication_role = replica``) and for the
consistency check. It uses the triggers' own projection (``contacts_segmentfact_upsert_sql``).
"""

from __future__ import annotations

from django.db import connection, transaction


@transaction.atomic
def segment_facts_rebuild(*, organization_id: int | None = None) -> int:
    """Recompute segment facts (of one organization, or all) from the customers; returns rows written.

    Set-based: facts of deleted customers go in one DELETE, the rest in one upsert that leaves
    unchanged rows alone.
    """
    org_filter = "true" if organization_id is None else f"c.organization_id = {int(organization_id)}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            DELETE FROM contacts_segmentfact c
             WHERE {org_filter}
               AND NOT EXISTS (SELECT 1 FROM contacts_customer x WHERE x.id = c.id)
            """
        )
        cursor.execute("SELECT contacts_segmentfact_upsert_sql('contacts_customer', %s)", [org_filter])
        cursor.execute(cursor.fetchone()[0])
        return int(cursor.rowcount)
