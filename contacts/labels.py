"""Labels for the codes the customer base stores (sources, channels, RFM segments), in the active language.

Higher layers register the codes they write (a lead's source, a welcome's origin) with
:func:`register_source_labels` in their ``AppConfig.ready()``; an unknown code is shown as 其他来源,
never as the raw code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from contacts.models import Platform, SourceChannel, TimelineKind
from contacts.rfm import RFM_BY_CODE

_source_labels: dict[str, str | Promise] = {}


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
