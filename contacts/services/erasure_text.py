"""What identifies a person in free text, and set-based SQL that scrubs it — for erasure handlers.

Erasure handlers (contacts' own and the higher layers', registered through
``contacts.services.register_erasure_handler``) run before contacts blanks the customer row and
deletes the identities. :func:`customer_identifiers` reads what they need to find the person's copies
in text other code wrote (import file names and rejected-row reasons, webhook bodies and keys, order
item text); :func:`scrub_sql` builds the ``replace(…)`` expression that masks those strings in one
``UPDATE`` over every matching row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import JSONField

from contacts.crypto import decrypt_phone
from contacts.models import Customer, Identity

MASK = "***"
# Shorter strings (a 2-letter id, a common word) would match other people's text.
MIN_ID_LENGTH = 6
MIN_NAME_LENGTH = 2


@dataclass(frozen=True)
class PersonIdentifiers:
    """The person's identifiers as held before erasure (``phone`` as 11 digits, or empty)."""

    organization_id: int
    phone: str
    name: str
    unionid: str
    external_ids: tuple[str, ...]

    @property
    def phone_forms(self) -> list[str]:
        """The number as people and platforms write it: plain (also inside +86…), spaced, dashed."""
        p = self.phone
        if not p:
            return []
        return [p, f"{p[:3]} {p[3:7]} {p[7:]}", f"{p[:3]}-{p[3:7]}-{p[7:]}"]

    @property
    def platform_ids(self) -> list[str]:
        """WeCom external_userid, Douyin open_id, unionid… long enough not to match by chance."""
        return sorted({i for i in (*self.external_ids, self.unionid) if len(i) >= MIN_ID_LENGTH})

    def needles(self, *, with_name: bool = True) -> list[str]:
        """Every string to mask, longest first (so a longer form is masked before a part of it)."""
        values = [*self.phone_forms, *self.platform_ids]
        if with_name and len(self.name) >= MIN_NAME_LENGTH:
            values.append(self.name)
        # JSON and SQL text stay valid when a needle is replaced by MASK only if it holds no quote.
        clean = {v for v in values if v and not set(v) & {'"', "'", "\\"}}
        return sorted(clean, key=lambda v: (-len(v), v))


def customer_identifiers(customer_id: int) -> PersonIdentifiers | None:
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return None
    return PersonIdentifiers(
        organization_id=customer.organization_id,
        phone=decrypt_phone(customer.phone_encrypted) if customer.phone_encrypted else "",
        name=customer.name.strip(),
        unionid=customer.unionid,
        external_ids=tuple(Identity.objects.filter(customer_id=customer_id).values_list("external_id", flat=True)),
    )


def scrub_sql(expression: str, needles: list[str]) -> tuple[str, list[str]]:
    """``replace(replace(expression, n1, '***'), n2, '***')…`` and its parameters."""
    sql, params = expression, []
    for needle in needles:
        sql = f"replace({sql}, %s, %s)"
        params += [needle, MASK]
    return sql, params


def contains_any_sql(expression: str, needles: list[str]) -> tuple[str, list[str]]:
    """``(position(n1 in expression) > 0 OR …)`` — the rows worth updating."""
    if not needles:
        return "false", []
    return "(" + " OR ".join(f"position(%s in {expression}) > 0" for _ in needles) + ")", list(needles)


def scrub_columns(*, table: str, columns: list[str], where: str, where_params: list[Any], needles: list[str]) -> int:
    """Mask ``needles`` in each of ``columns`` (text, or jsonb — masked in its text form) of the rows
    of ``table`` matching ``where`` that hold one of them. One UPDATE; returns the rows changed.
    ``table``, ``columns`` and ``where`` are code, never client input."""
    if not needles:
        return 0
    json_columns = _json_columns(table)
    sets: list[str] = []
    matches: list[str] = []
    set_params: list[Any] = []
    match_params: list[Any] = []
    for column in columns:
        as_text = f"{column}::text" if column in json_columns else column
        expression, params = scrub_sql(as_text, needles)
        sets.append(f"{column} = ({expression})::jsonb" if column in json_columns else f"{column} = {expression}")
        set_params += params
        match, params = contains_any_sql(as_text, needles)
        matches.append(match)
        match_params += params
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(sets)} WHERE ({where}) AND ({' OR '.join(matches)})",
            [*set_params, *where_params, *match_params],
        )
        return int(cursor.rowcount)


def _json_columns(table: str) -> set[str]:
    for model in apps.get_models():
        if model._meta.db_table == table:
            return {str(f.column) for f in model._meta.concrete_fields if isinstance(f, JSONField)}
    raise LookupError(table)
