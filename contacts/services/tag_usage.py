"""Where a tag is used (saved segments here; campaigns, journeys … through ``register_tag_usage``) and
the rewrite of those stored rules when the tag is deleted.

A tag deletion by staff first lists every use (:func:`tag_usages`); with uses, it needs the caller's
confirmation, and a use that is ``blocked`` (e.g. a scheduled campaign whose audience would become
the whole brand) refuses it outright, saying what to do first. On deletion, every stored rule is
rewritten with :func:`contacts.segment_refs.without_ids` in the deletion's own transaction
(:func:`tag_references_remove`), so no rule is left naming a tag that no longer exists. What the
rewrite does to each audience is in ``effects`` (codes of :func:`contacts.segment_refs.removal_effects`).
A deletion made on the platform (``source=sync``) cannot be refused: the rules are rewritten the same
way, and the higher layers hold back what must not send unreviewed (campaigns moves such a campaign
back to draft).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from contacts.models import Segment, Tag, TagSource
from contacts.segment_refs import referenced_ids, removal_effects, without_ids
from contacts.services.registry import ContactsError
from contacts.services.segment_counts import segments_recount

EFFECT_LABELS = {
    "widens_all": _l("“全部包含”少了这个标签：条件放宽，人数可能变多"),
    "narrows_any": _l("“包含任一”少了这个标签：人数可能变少"),
    "drops_any": _l("“包含任一”只剩这个标签：该条件被移除，人数可能变多"),
    "widens_none": _l("“都不包含”少了这个标签：原本被排除的客户不再被排除"),
    "everyone": _l("规则将变为“全部客户”"),
    "inverted": _l("变化位于“不满足”条件内：放宽即收窄，收窄即放宽"),
    "moment_visibility": _l("朋友圈可见标签少了这个标签"),
    "moment_everyone": _l("朋友圈可见范围将变为“发送员工的全部客户”"),
}


@dataclass(frozen=True)
class TagUsage:
    """One stored rule that names a tag being deleted."""

    kind: str  # "segment", "campaign", "journey", …
    kind_label: str
    object_id: int
    name: str
    url: str
    status: str = ""
    effects: tuple[str, ...] = ()
    # The stored rule before and after the rewrite, when it is a segment expression (the page counts both).
    expression_before: Any = None
    expression_after: Any = None
    # Non-empty: this use refuses a deletion by staff; the text says what to do first.
    blocked: str = ""

    @property
    def effect_labels(self) -> list[str]:
        return [str(EFFECT_LABELS.get(code, code)) for code in self.effects]


@dataclass(frozen=True)
class TagUsageQuery:
    """What a provider is asked: the tags, the saved segments that use them (with what their rewrite
    does), and whether to rewrite now (``apply``: inside the deletion's transaction) or only list."""

    organization_id: int
    tag_ids: frozenset[int]
    segment_effects: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    apply: bool = False
    source: str = TagSource.STAFF


TagUsageProvider = Callable[[TagUsageQuery], list[TagUsage]]
_providers: list[TagUsageProvider] = []


def register_tag_usage(fn: TagUsageProvider) -> None:
    """``fn(query)`` → the layer's uses of ``query.tag_ids``; with ``query.apply`` it also rewrites
    them (it runs inside the deletion's transaction, so a failure undoes the deletion)."""
    if fn not in _providers:
        _providers.append(fn)


class TagInUse(ContactsError):
    """A staff deletion of a tag that stored rules use: needs confirmation, or is refused (``blocked``)."""

    def __init__(self, message: str, usages: list[TagUsage]) -> None:
        super().__init__(message)
        self.usages = usages


def _segment_uses(organization_id: int, tag_ids: frozenset[int]) -> list[tuple[Segment, tuple[str, ...], Any]]:
    out = []
    for segment in Segment.objects.filter(organization_id=organization_id).order_by("name", "id"):
        if referenced_ids(segment.expression)["tags"] & tag_ids:
            effects = tuple(removal_effects(segment.expression, "tags", tag_ids))
            out.append((segment, effects, without_ids(segment.expression, "tags", tag_ids)))
    return out


def _collect(organization_id: int, tag_ids: frozenset[int], *, apply: bool, source: str) -> list[TagUsage]:
    uses = _segment_uses(organization_id, tag_ids)
    usages = [
        TagUsage(
            kind="segment",
            kind_label=str(_("客户分群")),
            object_id=segment.pk,
            name=segment.name,
            url=reverse("contacts:segment_edit", args=[segment.pk]),
            effects=effects,
            expression_before=segment.expression,
            expression_after=after,
        )
        for segment, effects, after in uses
    ]
    query = TagUsageQuery(
        organization_id=organization_id,
        tag_ids=tag_ids,
        segment_effects={segment.pk: effects for segment, effects, _after in uses},
        apply=apply,
        source=source,
    )
    for fn in _providers:
        usages += fn(query)
    if apply and uses:
        for segment, _effects, after in uses:
            Segment.objects.filter(pk=segment.pk).update(expression=after)
        segments_recount(organization_id=organization_id, segment_ids=[segment.pk for segment, *_rest in uses])
    return usages


def tag_usages(*, organization_id: int, tag_ids: set[int] | frozenset[int]) -> list[TagUsage]:
    """Every stored rule of the organization that names one of ``tag_ids`` (nothing is changed)."""
    return _collect(organization_id, frozenset(tag_ids), apply=False, source=TagSource.STAFF)


def tag_deletion_check(*, organization_id: int, tags: list[Tag], confirmed: bool, source: str) -> list[TagUsage]:
    """Before a deletion reaches the platform: the uses, or :class:`TagInUse` when staff must confirm
    first or cannot delete at all yet. A platform-made deletion (``sync``) is never refused."""
    if source == TagSource.SYNC or not tags:
        return []
    usages = tag_usages(organization_id=organization_id, tag_ids={t.pk for t in tags})
    names = "、".join(t.name for t in tags)
    blocked = [u for u in usages if u.blocked]
    if blocked:
        raise TagInUse(
            _("标签“%(tags)s”暂不能删除：%(reasons)s")
            % {"tags": names, "reasons": "；".join(f"{u.kind_label}“{u.name}”{u.blocked}" for u in blocked)},
            usages,
        )
    if usages and not confirmed:
        raise TagInUse(
            _("标签“%(tags)s”被 %(n)s 处规则使用（%(where)s），确认后这些规则会去掉该标签；请确认后再删除")
            % {"tags": names, "n": len(usages), "where": "、".join(f"{u.kind_label}“{u.name}”" for u in usages)},
            usages,
        )
    return usages


def tag_references_remove(*, organization_id: int, tag_ids: set[int], source: str) -> list[TagUsage]:
    """Rewrite every stored rule naming ``tag_ids`` without them; call inside the deletion's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("tag_references_remove must run inside the tag deletion's transaction")
    return _collect(organization_id, frozenset(tag_ids), apply=True, source=source)
