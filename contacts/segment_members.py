"""Paging through every member of a segment (or of an expression) with a stable cursor over a snapshot.

Keyset on the customer id, ascending. The first page fixes the snapshot: the highest customer id of
the organization at that moment (``max_id``) and its time (``as_of``); both travel in the signed
cursor, so customers created while an integrator pages (higher ids) never shift a page or appear
half-way, and each customer is returned at most once however long the walk takes. Membership itself
is evaluated when each page is read: a customer who stops matching before their page is reached is
not returned, one who starts matching is, if still inside the snapshot. The store scope of the caller
applies to every page, and the cursor is bound to the caller's organization and to the rule it was
issued for (a cursor reused with another rule or by another brand is refused).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core import signing
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.access import Actor
from contacts.models import Customer
from contacts.segments import SegmentError, segment_queryset, validate

SALT = "contacts.segment_members"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 200


class CursorError(ValueError):
    """The cursor cannot be used; the message (Chinese) says what to do."""


@dataclass(frozen=True)
class MembersPage:
    customers: list[Customer]
    next_cursor: str | None
    as_of: datetime
    max_id: int


def _fingerprint(organization_id: int, expression: dict[str, Any]) -> str:
    text = json.dumps([organization_id, expression], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_cursor(cursor: str, fingerprint: str) -> tuple[int, int, datetime]:
    try:
        data = signing.loads(cursor, salt=SALT)
        after, max_id, as_of = int(data["a"]), int(data["m"]), datetime.fromisoformat(data["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise CursorError(_("cursor 无效：请使用上一页返回的 next_cursor，或去掉 cursor 从第一页开始")) from exc
    if data.get("f") != fingerprint:
        raise CursorError(_("cursor 属于另一个分群条件：换了条件请去掉 cursor 从第一页开始"))
    return after, max_id, as_of


def members_page(
    *, actor: Actor, expression: Any, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> MembersPage:
    """One page of the actor's customers matching ``expression`` (checked like a save: an unknown id
    is a :class:`SegmentError` naming it), ordered by id."""
    normalized = validate(expression, organization_id=actor.organization_id)
    if not 1 <= limit <= MAX_LIMIT:
        raise SegmentError(_("limit 必须是 1 到 %(max)s 之间的整数") % {"max": MAX_LIMIT})
    fingerprint = _fingerprint(actor.organization_id, normalized)
    if cursor:
        after, max_id, as_of = _read_cursor(cursor, fingerprint)
    else:
        after, as_of = 0, timezone.now()
        max_id = Customer.objects.filter(organization_id=actor.organization_id).aggregate(m=Max("id"))["m"] or 0
    rows = list(
        segment_queryset(actor=actor, expression=normalized)
        .select_related("home_store")
        .filter(pk__gt=after, pk__lte=max_id)
        .order_by("pk")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        signing.dumps({"a": rows[-1].pk, "m": max_id, "t": as_of.isoformat(), "f": fingerprint}, salt=SALT)
        if more
        else None
    )
    return MembersPage(customers=rows, next_cursor=next_cursor, as_of=as_of, max_id=max_id)
