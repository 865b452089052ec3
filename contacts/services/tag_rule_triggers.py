"""When customers' facts change, the tagging rules run for them (kept apart from ``tag_rules`` so the
rollup writer can call it without importing the tag services)."""

from __future__ import annotations

from django.db import connection

from scrm.celery import enqueue_on_commit

__all__ = ["tag_rules_after_change"]


def tag_rules_after_change(*, customer_ids: list[int]) -> None:
    """Some customers' facts changed (orders): after commit, run their brands' rules for them. One query
    (the customers whose brand has an active rule); nothing is enqueued for a brand without rules."""
    if not customer_ids:
        return
    grouped: dict[int, list[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.organization_id, c.id FROM contacts_customer c
                WHERE c.id = ANY(%s) AND EXISTS (SELECT 1 FROM contacts_tagrule r
                                                  WHERE r.organization_id = c.organization_id AND r.is_active)""",
            [list(customer_ids)],
        )
        for organization_id, pk in cursor.fetchall():
            grouped.setdefault(organization_id, []).append(pk)
    for organization_id, ids in grouped.items():
        enqueue_on_commit("contacts.tag_rules.apply_customers", organization_id, sorted(ids))
