"""``__ilike``: a case-insensitive "contains" that the pg_trgm GIN indexes can serve.

Django compiles ``__icontains`` on PostgreSQL to ``UPPER(col::text) LIKE UPPER(%s)``, an expression
no trigram index covers, so every search scanned the whole table. ``col ILIKE '%value%'`` (with
``%``, ``_`` and ``\\`` in the value escaped) matches the same rows and uses ``gin_trgm_ops``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Lookup, TextField


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
