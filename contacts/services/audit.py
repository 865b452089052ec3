"""The audit log of sensitive actions (``contacts.models.AuditEntry``): one typed writer for every layer.

Higher layers (campaign approval, channel credentials) call :func:`audit_record` like contacts' own
services do; it writes in the caller's transaction, so an action that rolls back leaves no entry and
an entry never exists for an action that did not happen. Only ids, codes and field names are stored
(never a name, phone or secret): erasure has nothing to scrub here, and the table stays append-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contacts.models import AuditAction, AuditEntry

# Detail values are codes and ids; anything else is refused so no personal data slips in by accident.
_DetailValue = str | int | bool | None | list[str] | list[int]


def audit_record(
    *,
    organization_id: int,
    action: AuditAction,
    target_type: str,
    target_id: int | str = "",
    actor_staff_id: int | None = None,
    actor_user_id: int | None = None,
    fields: Iterable[str] = (),
    details: Mapping[str, _DetailValue] | None = None,
) -> AuditEntry:
    """Append one entry. ``fields`` names the fields changed; ``details`` holds codes only (a role, a
    platform, store ids), never values that identify a person."""
    clean: dict[str, _DetailValue] = {}
    for key, value in (details or {}).items():
        if isinstance(value, str) and len(value) > 64:
            raise ValueError(f"audit detail {key!r} is longer than a code (64 chars)")
        clean[str(key)] = value
    return AuditEntry.objects.create(
        organization_id=organization_id,
        action=action,
        target_type=target_type[:32],
        target_id=str(target_id)[:64],
        actor_staff_id=actor_staff_id,
        actor_user_id=actor_user_id,
        fields=sorted({str(f)[:64] for f in fields}),
        details=clean,
    )
