"""Saved segments (the expression language lives in :mod:`contacts.segments`)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import segments
from contacts.models import (
    Segment,
)

# --- segments ------------------------------------------------------------------------------------


@transaction.atomic
def segment_save(
    *, actor: Any, name: str, expression: dict[str, Any], description: str = "", segment: Segment | None = None
) -> Segment:
    """Create or update a saved segment; the expression is validated and stored normalized."""
    name = name.strip()
    if not name:
        raise segments.SegmentError(_("请填写分群名称"))
    normalized = segments.validate(expression, organization_id=actor.organization_id)
    if segment is not None and segment.organization_id != actor.organization_id:
        raise segments.SegmentError(_("分群不存在"))
    clash = Segment.objects.filter(organization_id=actor.organization_id, name=name)
    if segment is not None:
        clash = clash.exclude(pk=segment.pk)
    if clash.exists():
        raise segments.SegmentError(_("分群名称“%(name)s”已存在，请换一个名称") % {"name": name})
    if segment is None:
        segment = Segment(organization_id=actor.organization_id, created_by=actor.staff)
    segment.name, segment.description, segment.expression = name, description, normalized
    segment.last_count = segments.segment_count(actor=actor, expression=normalized)
    segment.last_counted_at = timezone.now()
    segment.save()
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    """Delete a saved segment; refused while a tagging rule uses it (the message names the rules)."""
    rules = list(segment.tag_rules.order_by("name").values_list("name", flat=True))
    if rules:
        raise segments.SegmentError(
            _("自动打标签规则正在使用这个分群：%(rules)s。请先删除或修改这些规则") % {"rules": "、".join(rules)}
        )
    segment.delete()
