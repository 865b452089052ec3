"""The rule tree: ``all`` / ``any`` / ``not`` over leaves, validated and compiled to ONE SQL statement.

``node := {"all": [node, …]} | {"any": [node, …]} | {"not": node} | leaf`` (docs/segments.md). A leaf
is the flat condition object of :mod:`contacts.segments.leaf`; ``null`` and ``{}`` mean everyone, so
every stored flat expression is a one-leaf tree.

Compilation keeps the tag part an intarray ``query_int`` wherever it can: a sub-tree made of tag-only
leaves becomes one ``query_int`` term (``(1|2)&(3|4)&!5``), and inside an ``all`` every leaf's tag part
joins the same term, so (护肤∨彩妆)∧(金卡∨黑金)∧¬勿扰 is a single ``tag_ids @@ …`` served by the composite
GIN. Other parts combine as SQL ``AND`` / ``OR`` / ``NOT``; under ``not`` the inner predicate is
``COALESCE``'d to false so a NULL column (no prediction, no last order) negates to true, as it reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Customer
from contacts.segments.leaf import check_leaf_references, leaf_where, tag_query, validate_leaf
from contacts.segments.registry import SegmentError

NODE_KEYS = ("all", "any", "not")
MAX_DEPTH = 8  # the validator's limit; the builder offers 4
BUILDER_DEPTH = 4
MAX_NODES = 200


def _is_node(value: Any) -> bool:
    return isinstance(value, dict) and any(k in value for k in NODE_KEYS)


def _shape(expression: Any, depth: int, counter: list[int], path: str) -> None:
    """Depth and size limits, before any normalization (so a refused tree names where it failed)."""
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise SegmentError(_("分群条件最多 %(max)s 个节点，请合并或删除一些条件") % {"max": MAX_NODES})
    if depth > MAX_DEPTH:
        raise SegmentError(
            _("分群条件最多嵌套 %(max)s 层（%(path)s 超出），请减少分组层级") % {"max": MAX_DEPTH, "path": path}
        )
    if not _is_node(expression):
        return
    if len(expression) != 1:
        raise SegmentError(
            _("%(path)s：all / any / not 分组只能有这一个键，其余条件请放进它的子条件里，收到 %(keys)s")
            % {"path": path, "keys": ", ".join(sorted(expression))}
        )
    ((key, children),) = expression.items()
    if key == "not":
        _shape(children, depth + 1, counter, f"{path}.not")
        return
    if not isinstance(children, list) or not children:
        label = _("全部满足") if key == "all" else _("满足任一")
        raise SegmentError(
            _("%(path)s：“%(label)s”（%(key)s）必须是至少一个条件的列表") % {"path": path, "label": label, "key": key}
        )
    for i, child in enumerate(children):
        _shape(child, depth + 1, counter, f"{path}.{key}[{i}]")


def _normalize(expression: Any, path: str) -> dict[str, Any]:
    if not _is_node(expression):
        try:
            return validate_leaf(expression)
        except SegmentError as exc:
            if path == "$":
                raise
            raise SegmentError(f"{path}：{exc}") from exc
    ((key, children),) = expression.items()
    if key == "not":
        inner = _normalize(children, f"{path}.not")
        return {"not": inner}
    parts = [_normalize(child, f"{path}.{key}[{i}]") for i, child in enumerate(children)]
    # {} is everyone: it drops out of an AND, and an OR containing it is everyone.
    if key == "any" and {} in parts:
        return {}
    parts = [p for p in parts if p != {}]
    if len(parts) <= 1:
        return parts[0] if parts else {}
    return {key: parts}


def depth(expression: dict[str, Any]) -> int:
    """Levels of a normalized tree (a leaf is 1)."""
    if "not" in expression and len(expression) == 1:
        return 1 + depth(expression["not"])
    for key in ("all", "any"):
        if key in expression and len(expression) == 1:
            return 1 + max(depth(child) for child in expression[key])
    return 1


def validate(expression: Any, *, organization_id: int | None = None) -> dict[str, Any]:
    """Check and normalize a tree (each leaf normalized, one-child groups collapsed).

    With ``organization_id``, also check that every id the tree references exists in that organization.
    ``None`` and ``{}`` are everyone (``{}``).
    """
    if expression is None:
        return {}
    if not isinstance(expression, dict):
        raise SegmentError(_('分群条件必须是一个 JSON 对象，例如 {"tags": {"all": [1]}}'))
    _shape(expression, 1, [0], "$")
    normalized = _normalize(expression, "$")
    if organization_id is not None:
        _check_references(normalized, organization_id)
    return normalized


def leaves(expression: dict[str, Any]) -> list[dict[str, Any]]:
    """Every leaf of a normalized tree, left to right."""
    if _is_node(expression):
        ((key, children),) = expression.items()
        return leaves(children) if key == "not" else [leaf for child in children for leaf in leaves(child)]
    return [expression]


def _check_references(expression: dict[str, Any], organization_id: int) -> None:
    """Every referenced id of every leaf exists in the organization (a 400 naming the first missing)."""
    for leaf in leaves(expression):
        check_leaf_references(leaf, organization_id)


# --- compilation ---------------------------------------------------------------------------------


def _tag_term(node: dict[str, Any]) -> str | None:
    """The ``query_int`` text of a sub-tree made only of tag conditions, else None."""
    if _is_node(node):
        ((key, children),) = node.items()
        if key == "not":
            inner = _tag_term(children)
            return None if inner is None else f"!({inner})"
        terms = [_tag_term(child) for child in children]
        if any(t is None for t in terms):
            return None
        return "(" + ("&" if key == "all" else "|").join(f"({t})" for t in terms if t) + ")"
    if set(node) == {"tags"}:
        return tag_query(node["tags"])
    return None


def _compile(node: dict[str, Any], alias: str, facts: bool, now: dt.datetime) -> tuple[str, list[Any]]:
    """One SQL predicate (with params) for a normalized node."""
    tag_term = _tag_term(node)
    if tag_term is not None:
        return f"{alias}.tag_ids @@ %s::query_int", [tag_term]
    if not _is_node(node):
        leaf_conds, leaf_params = leaf_where(alias, node, facts=facts, now=now)
        return (" AND ".join(f"({c})" for c in leaf_conds) if leaf_conds else "TRUE"), leaf_params
    ((key, children),) = node.items()
    if key == "not":
        sql, params = _compile(children, alias, facts, now)
        return f"NOT COALESCE(({sql}), FALSE)", params
    conds: list[str] = []
    params = []
    tag_terms: list[str] = []
    for child in children:
        term = _tag_term(child)
        if term is not None:
            tag_terms.append(term)
        elif key == "all" and not _is_node(child):
            # AND is associative: the leaf's tag part joins the shared query_int, the rest stays apart.
            if child.get("tags"):
                tag_terms.append(tag_query(child["tags"]))
            child_conds, child_params = leaf_where(alias, child, facts=facts, now=now, tags=False)
            conds += [f"({c})" for c in child_conds]
            params += child_params
        else:
            sql, child_params = _compile(child, alias, facts, now)
            conds.append(f"({sql})")
            params += child_params
    joiner = " AND " if key == "all" else " OR "
    if tag_terms:
        conds.insert(0, f"{alias}.tag_ids @@ %s::query_int")
        params.insert(0, ("&" if key == "all" else "|").join(f"({t})" for t in tag_terms))
    return joiner.join(conds) if conds else "TRUE", params


def _tree_where(
    alias: str, normalized: dict[str, Any], *, facts: bool, now: dt.datetime | None = None
) -> tuple[str | None, list[Any]]:
    if not normalized:
        return None, []
    return _compile(normalized, alias, facts, now or timezone.now())


def compile_where(
    *,
    organization_id: int,
    expression: dict[str, Any] | None,
    store_ids: frozenset[int] | None = None,
    alias: str = "c",
    now: dt.datetime | None = None,
) -> tuple[str, list[Any]]:
    """The WHERE condition (with params) on ``contacts_segmentfact {alias}`` for a tree."""
    normalized = validate(expression)
    conds: list[str] = [f"{alias}.organization_id = %s"]
    params: list[Any] = [organization_id]
    if store_ids is not None:
        conds.append(f"{alias}.home_store_id = ANY(%s)")
        params.append(sorted(store_ids))
    sql, tree_params = _tree_where(alias, normalized, facts=True, now=now)
    if sql is not None:
        conds.append(f"({sql})" if " OR " in sql else sql)
        params += tree_params
    return " AND ".join(conds), params


def compile_sql(
    *,
    organization_id: int,
    expression: dict[str, Any] | None,
    store_ids: frozenset[int] | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, list[Any]]:
    """SQL selecting ``id`` of the matching customers (for ``INSERT … SELECT`` and counts)."""
    where, params = compile_where(organization_id=organization_id, expression=expression, store_ids=store_ids, now=now)
    return f"SELECT c.id FROM contacts_segmentfact c WHERE {where}", params


def count_sql(
    *,
    organization_id: int,
    expression: dict[str, Any] | None,
    store_ids: frozenset[int] | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, list[Any]]:
    where, params = compile_where(organization_id=organization_id, expression=expression, store_ids=store_ids, now=now)
    return f"SELECT count(*) FROM contacts_segmentfact c WHERE {where}", params


def segment_queryset(
    *, actor: Any, expression: dict[str, Any] | None, now: dt.datetime | None = None
) -> QuerySet[Customer]:
    """The actor's customers matching the tree, as a queryset (filters stay on the base table)."""
    normalized = validate(expression)
    qs: QuerySet[Customer] = actor.scope(Customer.objects.all())
    sql, params = _tree_where(Customer._meta.db_table, normalized, facts=False, now=now)
    if sql is not None:
        # Vetted fragments from the compiler with bound parameters only; no user text reaches the SQL.
        qs = qs.filter(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611
    return qs


def segment_count(*, actor: Any, expression: dict[str, Any] | None, now: dt.datetime | None = None) -> int:
    """How many of the actor's customers match (one ``count(*)`` statement)."""
    sql, params = count_sql(
        organization_id=actor.organization_id, expression=expression, store_ids=actor.store_ids, now=now
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def segment_sample(*, actor: Any, expression: dict[str, Any] | None, limit: int = 20) -> list[Customer]:
    """Up to ``limit`` matching customers, newest first (with their home store)."""
    qs = segment_queryset(actor=actor, expression=expression)
    return list(qs.select_related("home_store").order_by("-created_at", "-id")[: max(0, min(limit, 200))])
