"""``__ilike``: a case-insensitive "contains" that the pg_trgm GIN indexes can serve.

Django compiles ``__icontains`` on PostgreSQL to ``UPPER(col::text) LIKE UPPER(%s)``, an expression
no trigram index covers, so every search scanned the whole table. ``col ILIKE '%value%'`` (with
``%``, ``_`` and ``\\`` in the value escaped) matches the same rows and uses ``gin_trgm_ops``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.db.models import BooleanField, CharField, F, Func, Lookup, QuerySet, TextField


@CharField.register_lookup
@TextField.register_lookup
class ILikeContains(Lookup):
    lookup_name = "ilike"

    def process_rhs(self, compiler: Any, connection: Any) -> tuple[str, tuple[str | int, ...]]:
        rhs, params = super().process_rhs(compiler, connection)
        return rhs, tuple(f"%{connection.ops.prep_for_like_query(p)}%" for p in params)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[str | int, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", (*lhs_params, *rhs_params)


# Searches shorter than a trigram (a two-character Chinese name such as 王芳 — four in ten names —
# or a surname alone) cannot use the pg_trgm indexes: Postgres scanned every customer for them.
# ``scrm_short_grams(text)`` (created by migration contacts 0016) is the set of the text's
# lower-cased single characters and character pairs; a GIN index over it finds the rows containing a
# one- or two-character query, and the ILIKE beside it keeps the match exact.
SHORT_GRAM_MAX = 2
SHORT_GRAMS_SQL = """
CREATE OR REPLACE FUNCTION scrm_short_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT COALESCE(array_agg(DISTINCT substr(lower(t), i, n)), '{}')
      FROM generate_series(1, char_length(t)) AS i, (VALUES (1), (2)) AS v(n)
     WHERE i + n - 1 <= char_length(t)
$$
"""


class ShortGrams(Func):
    """``scrm_short_grams(col)``: the one- and two-character grams a GIN index holds (see above)."""

    function = "scrm_short_grams"
    output_field = ArrayField(TextField())


# The database's own check (migration contacts 0016): no customer row may carry the phone hash of a
# person erased within the quiet period (contacts.ErasedKey), whichever code path writes it.
ERASED_PHONE_TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION scrm_refuse_erased_phone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.phone_hash <> '' AND EXISTS (
        SELECT 1 FROM contacts_erasedkey e
         WHERE e.organization_id = NEW.organization_id
           AND e.key_hash = encode(sha256(convert_to(NEW.phone_hash, 'UTF8')), 'hex')
           -- contacts.models.ERASURE_QUIET_PERIOD: writes that began before the erasure or soon after
           AND e.erased_at > now() - interval '24 hours'
    ) THEN
        RAISE EXCEPTION 'the phone of an erased person (contacts.ErasedKey) cannot be stored again';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER customer_refuse_erased_phone BEFORE INSERT OR UPDATE OF phone_hash ON contacts_customer
    FOR EACH ROW EXECUTE FUNCTION scrm_refuse_erased_phone();
"""
ERASED_PHONE_TRIGGER_REVERSE_SQL = """
DROP TRIGGER IF EXISTS customer_refuse_erased_phone ON contacts_customer;
DROP FUNCTION IF EXISTS scrm_refuse_erased_phone();
"""


class PkInArray(Func):
    """``pk = ANY(ARRAY(subquery))``: the subquery runs once, first, and the rows are fetched by primary
    key. ``pk IN (subquery)`` leaves the plan to the subquery's estimated size, and the gram-index
    look-ups of a search are estimated at thousands of rows (a default selectivity for ``@>``) where
    they find a few dozen: at 1M customers Postgres then hashed them and scanned every customer of the
    brand (~0.8 s) instead of fetching 47 rows by id (~20 ms)."""

    template = "(%(expressions)s))"
    arg_joiner = " = ANY("
    output_field = BooleanField()

    def __init__(self, subquery: QuerySet[Any], **extra: Any) -> None:
        super().__init__(F("pk"), ArraySubquery(subquery), **extra)
