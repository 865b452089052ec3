"""Labels for the codes the customer base stores (sources, channels, RFM segments), in the active language.

Higher layers register the codes they write (a lead's source, a welcome's origin) with
:func:`register_source_labels` in their ``AppConfig.ready()``; an unknown code is shown as 其他来源,
never as the raw code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from contacts.models import Platform, SourceChannel, TimelineKind
from contacts.rfm import RFM_BY_CODE

_source_labels: dict[str, str | Promise] = {}
# A follow's ``state`` (the 渠道参数 a 活码 carries) is named by the layer that owns 活码 (channels).
StateLabeler = Callable[[int, set[str]], Mapping[str, str]]
_state_labelers: list[StateLabeler] = []


def register_source_labels(labels: Mapping[str, str | Promise]) -> None:
    _source_labels.update(labels)


def source_label(code: str | None) -> str:
    """A source / channel / platform code → its label (""→ 未知来源, an unregistered code → 其他来源)."""
    if not code:
        return _("未知来源")
    for choices in (SourceChannel, Platform):
        if code in choices.values:
            return str(choices(code).label)
    label = _source_labels.get(code)
    return str(label) if label is not None else _("其他来源")


def rfm_label(code: str | None) -> str:
    segment = RFM_BY_CODE.get(code or "")
    return str(segment.label) if segment else (_("未分层") if not code else _("其他"))


def timeline_text(kind: str, summary: str, data: Mapping[str, Any] | None) -> str:
    """What a timeline entry says; entries whose summary was written with a code are re-worded here."""
    if kind == TimelineKind.CREATED and data and "source" in data:
        return _("建档（%(source)s）") % {"source": source_label(str(data.get("source") or ""))}
    return summary


def register_state_labeler(fn: StateLabeler) -> None:
    """``fn(organization_id, states)`` → ``{state: name}`` for the states it knows (one query)."""
    if fn not in _state_labelers:
        _state_labelers.append(fn)


def state_labels(organization_id: int, states: Iterable[str]) -> dict[str, str]:
    """Each non-empty state → the name of the 活码 that carries it, else 未登记的渠道参数 (a state set
    outside the product, in WeCom's own admin)."""
    wanted = {s for s in states if s}
    found: dict[str, str] = {}
    for labeler in _state_labelers if wanted else []:
        found.update({k: v for k, v in labeler(organization_id, wanted - set(found)).items() if k not in found})
    return {s: found.get(s) or _("未登记的渠道参数") for s in wanted}
