"""Journeys' part of a tag deletion (registered with ``contacts.services.register_tag_usage``).

A journey uses a tag through its trigger (标签被添加 / 标签被移除), a 打标签 / 移除标签 step or a
“有某个标签” condition; through a saved segment (its 进入分群 trigger or an “在分群中” condition) it is
listed too, but the segment itself is rewritten by contacts. Archived journeys never run again and are
not listed.

An ACTIVE journey that names the tag itself would run on without it (no one enters, a step fails), so a
staff deletion is refused until the journey is paused or changed. A draft or paused journey has the
reference removed in the deletion's transaction (the trigger's or step's tag becomes empty); activating
it again asks for the missing tag first (``journeys.services.journey_set_status``). When WeCom deleted the
tag itself (``source=sync``) nothing can refuse: such an active journey is paused, so it only runs again
once someone has fixed it.
"""

from __future__ import annotations

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from contacts.services import TagUsage, TagUsageQuery
from journeys.models import ConditionKind, Journey, JourneyStatus, JourneyStep, StepKind, TriggerKind

TAG_TRIGGERS = (TriggerKind.TAG_ADDED, TriggerKind.TAG_REMOVED)
TAG_STEP = Q(kind__in=[StepKind.TAG, StepKind.UNTAG]) | Q(kind=StepKind.CONDITION, condition=ConditionKind.HAS_TAG)
SEGMENT_STEP = Q(kind=StepKind.CONDITION, condition=ConditionKind.IN_SEGMENT)


def tag_usage(query: TagUsageQuery) -> list[TagUsage]:
    tag_ids = list(query.tag_ids)
    segment_ids = list(query.segment_effects)
    live = Journey.objects.filter(organization_id=query.organization_id).exclude(status=JourneyStatus.ARCHIVED)
    own_steps = JourneyStep.objects.filter(TAG_STEP, journey__in=live, tag_id__in=tag_ids)
    segment_steps = JourneyStep.objects.filter(SEGMENT_STEP, journey__in=live, segment_id__in=segment_ids)
    journeys = live.filter(
        Q(trigger__in=TAG_TRIGGERS, trigger_tag_id__in=tag_ids)
        | Q(trigger=TriggerKind.SEGMENT_ENTERED, trigger_segment_id__in=segment_ids)
        | Q(pk__in=own_steps.values("journey_id"))
        | Q(pk__in=segment_steps.values("journey_id"))
    ).order_by("name", "pk")
    steps_by_journey: dict[int, list[int]] = {}
    for journey_id, position in own_steps.values_list("journey_id", "position").order_by("position"):
        steps_by_journey.setdefault(journey_id, []).append(position)
    via_steps: dict[int, set[int]] = {}
    for journey_id, segment_id in segment_steps.values_list("journey_id", "segment_id"):
        via_steps.setdefault(journey_id, set()).add(segment_id)

    usages: list[TagUsage] = []
    for journey in journeys:
        by_trigger = journey.trigger in TAG_TRIGGERS and journey.trigger_tag_id in query.tag_ids
        positions = steps_by_journey.get(journey.pk, [])
        names_tag = by_trigger or bool(positions)
        segments = set(via_steps.get(journey.pk, set()))
        trigger_segment = journey.trigger_segment_id
        if journey.trigger == TriggerKind.SEGMENT_ENTERED and trigger_segment is not None:
            segments.add(trigger_segment)
        effects = sorted({code for s in segments for code in query.segment_effects.get(s, ())})
        blocked = ""
        if names_tag and journey.status == JourneyStatus.ACTIVE:
            where = [str(_("触发条件"))] if by_trigger else []
            where += [_("第 %(n)s 步") % {"n": n} for n in positions]
            blocked = _("正在运行，%(where)s用到这个标签：请先暂停该旅程，或改掉这些触发条件/步骤") % {
                "where": "、".join(where)
            }
        usages.append(
            TagUsage(
                kind="journey",
                kind_label=str(_("客户旅程")),
                object_id=journey.pk,
                name=journey.name,
                url=reverse("journeys:journey_detail", args=[journey.pk]),
                status=str(journey.get_status_display()),
                effects=tuple(effects),
                blocked=blocked,
            )
        )
        if query.apply and names_tag:
            _remove_references(journey, tag_ids, by_trigger=by_trigger, pause=bool(blocked))
    return usages


def _remove_references(journey: Journey, tag_ids: list[int], *, by_trigger: bool, pause: bool) -> None:
    """Inside the deletion's transaction: empty the trigger's and steps' tag (a staff deletion only gets
    here for a draft or paused journey; a platform deletion also pauses an active one)."""
    JourneyStep.objects.filter(TAG_STEP, journey=journey, tag_id__in=tag_ids).update(tag=None)
    fields: dict[str, object] = {}
    if by_trigger:
        fields["trigger_tag"] = None
    if pause and journey.status == JourneyStatus.ACTIVE:
        fields["status"] = JourneyStatus.PAUSED
    if fields:
        Journey.objects.filter(pk=journey.pk).update(**fields)
