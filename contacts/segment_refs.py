"""What a segment expression refers to, and the same expression without some of those references.

Both functions walk the rule tree (``{"all": [...]}``, ``{"any": [...]}``, ``{"not": node}``) down to
its leaves, the flat condition objects :func:`contacts.segments.validate` knows (a saved flat
expression is a single leaf). They are pure: no database, no validation beyond what the walk needs,
so a data migration can use them too.

Kinds of reference: ``tags`` (in ``tags.all`` / ``tags.any`` / ``tags.none``), ``stores``,
``groups``, ``follower_staff`` (id lists) and ``custom`` (custom-field keys, as strings).

What removing a reference does to the audience (the dependents page states it for each rule):

- from ``tags.all``: one requirement fewer, the leaf **widens**;
- from ``tags.any`` (or ``stores`` / ``groups`` / ``follower_staff``, which are "any of" lists): one
  alternative fewer, the leaf **narrows** — until the list loses its last id: the condition is then
  dropped and the leaf **widens** to "no condition on this";
- from ``tags.none``: one exclusion fewer, the leaf **widens**: the customers who held the tag are no
  longer kept out. Once the tag is deleted nobody holds it, so the count does not move, but the
  exclusion the operator wrote is gone; a leaf that was only ``none`` of that tag means everyone.
- a leaf left with no condition at all means everyone: ``{}``. Inside an ``all`` it is dropped
  (it no longer restricts anything); inside an ``any`` or at the top it stays ``{}`` — everyone.

Nothing here decides whether such a change is acceptable: :func:`removal_effects` lists them so the
caller (the tag-deletion page, the API) shows them and asks before anything is written.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

ID_KINDS = ("stores", "groups", "follower_staff")
KINDS = ("tags", *ID_KINDS, "custom")
TAG_PARTS = ("all", "any", "none")
NODE_KEYS = frozenset({"all", "any", "not"})


def is_node(expression: Any) -> bool:
    """A boolean node (``all`` / ``any`` / ``not``) rather than a leaf.

    A leaf never has a top-level ``all`` / ``any`` / ``not`` key (its tag parts sit under ``tags``)."""
    return isinstance(expression, dict) and len(expression) == 1 and next(iter(expression)) in NODE_KEYS


def leaves(expression: Any) -> list[dict[str, Any]]:
    """Every leaf of the tree, depth first (``None`` and ``{}`` are one empty leaf)."""
    return [leaf for leaf, _negated in _signed_leaves(expression, negated=False)]


def _signed_leaves(expression: Any, *, negated: bool) -> list[tuple[dict[str, Any], bool]]:
    """Leaves with whether an odd number of ``not`` nodes sits above them."""
    if expression is None:
        return [({}, negated)]
    if not isinstance(expression, dict):
        return []
    if is_node(expression):
        ((op, child),) = expression.items()
        if op == "not":
            return _signed_leaves(child, negated=not negated)
        if not isinstance(child, list):
            return []
        return [pair for node in child for pair in _signed_leaves(node, negated=negated)]
    return [(expression, negated)]


def _ids(value: Any) -> set[int]:
    out: set[int] = set()
    for item in value if isinstance(value, list) else []:
        if isinstance(item, bool):
            continue
        try:
            out.add(int(item))
        except (TypeError, ValueError):
            continue
    return out


def referenced_ids(expression: Any) -> dict[str, set[int]]:
    """``{"tags": {…}, "stores": {…}, "groups": {…}, "follower_staff": {…}, "custom": {…}}`` of the
    whole tree. ``custom`` holds field keys (strings), typed as the other sets for one shape."""
    refs: dict[str, set[Any]] = {kind: set() for kind in KINDS}
    for leaf in leaves(expression):
        tags = leaf.get("tags")
        if isinstance(tags, dict):
            for part in TAG_PARTS:
                refs["tags"] |= _ids(tags.get(part))
        for kind in ID_KINDS:
            refs[kind] |= _ids(leaf.get(kind))
        custom = leaf.get("custom")
        if isinstance(custom, dict):
            refs["custom"] |= {str(key) for key in custom}
    return refs


def _leaf_without(leaf: dict[str, Any], kind: str, ids: set[Any]) -> dict[str, Any]:
    out = copy.deepcopy(leaf)
    if kind == "tags":
        tags = out.get("tags")
        if isinstance(tags, dict):
            for part in TAG_PARTS:
                if part in tags:
                    kept = [i for i in tags[part] if not (_ids([i]) & ids)] if isinstance(tags[part], list) else []
                    if kept:
                        tags[part] = kept
                    else:
                        del tags[part]
            if not tags:
                del out["tags"]
    elif kind in ID_KINDS:
        if isinstance(out.get(kind), list):
            kept = [i for i in out[kind] if not (_ids([i]) & ids)]
            if kept:
                out[kind] = kept
            else:
                del out[kind]
    elif kind == "custom":
        custom = out.get("custom")
        if isinstance(custom, dict):
            for key in [k for k in custom if str(k) in ids]:
                del custom[key]
            if not custom:
                del out["custom"]
    else:
        raise ValueError(f"unknown reference kind {kind!r}; one of {', '.join(KINDS)}")
    return out


def without_ids(expression: Any, kind: str, ids: Collection[Any]) -> Any:
    """The expression with ``ids`` of ``kind`` removed from every leaf (see the module docstring for
    what that does to the audience). An untouched expression comes back equal; the input is not
    modified. ``None`` stays ``None``."""
    wanted: set[Any] = {str(i) for i in ids} if kind == "custom" else _ids(list(ids))
    if kind not in KINDS:
        raise ValueError(f"unknown reference kind {kind!r}; one of {', '.join(KINDS)}")
    if not wanted or expression is None:
        return copy.deepcopy(expression)
    return _walk(expression, kind, wanted)


def _walk(node: Any, kind: str, ids: set[Any]) -> Any:
    if not isinstance(node, dict):
        return copy.deepcopy(node)
    if not is_node(node):
        return _leaf_without(node, kind, ids)
    ((op, child),) = node.items()
    if op == "not":
        return {"not": _walk(child, kind, ids)}
    if not isinstance(child, list):
        return copy.deepcopy(node)
    children = [_walk(c, kind, ids) for c in child]
    if op == "all":
        # An everyone-leaf restricts nothing inside an "all"; keep at least one child.
        restricting = [c for c in children if c != {}]
        children = restricting or [{}]
    if len(children) == 1 and children[0] == {}:
        return {}
    return {op: children}


def removal_effects(expression: Any, kind: str, ids: Collection[Any]) -> list[str]:
    """What removing ``ids`` changes, as codes the caller words: ``"widens_all"`` (an ``all`` tag
    requirement or a custom-field condition goes), ``"narrows_any"`` (an alternative of an "any of"
    list goes), ``"drops_any"`` (an "any of" list loses its last id: that condition goes),
    ``"widens_none"`` (an exclusion goes), ``"everyone"`` (the whole rule comes to mean everyone),
    ``"inverted"`` (the change sits under a ``not``: what widens there narrows the rule, and the
    other way round). Empty when nothing refers to the ids."""
    wanted: set[Any] = {str(i) for i in ids} if kind == "custom" else _ids(list(ids))
    effects: list[str] = []
    for leaf, negated in _signed_leaves(expression, negated=False):
        before = len(effects)
        if kind == "tags":
            tags: dict[str, Any] = leaf["tags"] if isinstance(leaf.get("tags"), dict) else {}
            if _ids(tags.get("all")) & wanted:
                effects.append("widens_all")
            if _ids(tags.get("any")) & wanted:
                effects.append("drops_any" if not _ids(tags.get("any")) - wanted else "narrows_any")
            if _ids(tags.get("none")) & wanted:
                effects.append("widens_none")
        elif kind in ID_KINDS:
            if _ids(leaf.get(kind)) & wanted:
                effects.append("drops_any" if not _ids(leaf.get(kind)) - wanted else "narrows_any")
        elif kind == "custom":
            custom: dict[str, Any] = leaf["custom"] if isinstance(leaf.get("custom"), dict) else {}
            if {str(k) for k in custom} & wanted:
                effects.append("widens_all")
        if negated and len(effects) > before:
            effects.append("inverted")
    if effects and without_ids(expression, kind, wanted) in ({}, None) and expression not in ({}, None):
        effects.append("everyone")
    return sorted(set(effects))
