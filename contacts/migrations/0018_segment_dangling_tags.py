"""Saved segments that still name deleted tags (deleted before tag deletions rewrote the rules) are
rewritten without them where that keeps who they select, so they can be edited again (saving checks
that every tag exists).

A deleted tag is held by nobody: dropping it from ``none``, or from an ``any`` that keeps a live tag,
changes no count. In an ``all``, or as the only tags of an ``any``, it makes the rule select nobody
today; dropping it there would silently widen the rule (a scheduled campaign using the segment would
reach more people), so those stay, and saving such a segment keeps naming the dead tag to remove.
"""

from typing import Any

from django.db import migrations

from contacts.segment_refs import leaves, referenced_ids, without_ids


def _ids(value: Any) -> set[int]:
    return (
        {int(i) for i in value if isinstance(i, int) and not isinstance(i, bool)} if isinstance(value, list) else set()
    )


def removable(expression: Any, dead: set[int]) -> set[int]:
    """The dead tag ids whose removal leaves every leaf selecting the same customers."""
    unsafe: set[int] = set()
    for leaf in leaves(expression):
        tags = leaf.get("tags") if isinstance(leaf.get("tags"), dict) else {}
        unsafe |= _ids(tags.get("all")) & dead
        any_ids = _ids(tags.get("any"))
        if any_ids and any_ids <= dead:
            unsafe |= any_ids
    return dead - unsafe


def forwards(apps: Any, schema_editor: Any) -> None:
    Segment = apps.get_model("contacts", "Segment")
    Tag = apps.get_model("contacts", "Tag")
    for segment in Segment.objects.all().iterator():
        named = referenced_ids(segment.expression)["tags"]
        if not named:
            continue
        alive = set(
            Tag.objects.filter(organization_id=segment.organization_id, pk__in=named).values_list("pk", flat=True)
        )
        drop = removable(segment.expression, named - alive)
        if drop:
            Segment.objects.filter(pk=segment.pk).update(expression=without_ids(segment.expression, "tags", drop))


class Migration(migrations.Migration):
    dependencies = [("contacts", "0017_tag_rules")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
