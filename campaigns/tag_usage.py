"""Campaigns' part of a tag deletion (registered with ``contacts.services.register_tag_usage``).

Only campaigns that have not been planned yet can change: a campaign that is sending, sent, or was
cancelled keeps the audience frozen in its deliveries, so it is not listed and never rewritten. The
others (draft, pending approval, scheduled, paused before planning, and recurring parents, whose
next run copies them) use a tag through their own rule (``expression``), their moment visibility
tags, their segment or an exclusion segment; the first two are rewritten here, the segments by
contacts.

A scheduled, pending or paused campaign whose audience would become the whole brand (a rule that
loses its only condition, a moment whose visibility loses its last tag) would send without anyone
looking at it again: a staff deletion is refused until it is cancelled or changed. When the
platform deleted the tag itself (``source=sync``) nothing can refuse; such a campaign goes back to
draft, so it sends only once someone submits it again.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignStatus
from contacts.models import TagSource
from contacts.segment_refs import referenced_ids, removal_effects, without_ids
from contacts.services import TagUsage, TagUsageQuery

UNPLANNED = (CampaignStatus.DRAFT, CampaignStatus.PENDING_APPROVAL, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED)
# Statuses that go out without another submit.
SENDS_UNREVIEWED = (CampaignStatus.PENDING_APPROVAL, CampaignStatus.SCHEDULED, CampaignStatus.PAUSED)


def _effects(campaign: Campaign, exclusion_ids: list[int], query: TagUsageQuery) -> tuple[list[str], bool]:
    """What the deletion does to the campaign's audience, and whether it would become the whole brand."""
    effects: list[str] = []
    everyone = False
    if referenced_ids(campaign.expression)["tags"] & query.tag_ids:
        own = removal_effects(campaign.expression, "tags", query.tag_ids)
        effects += own
        everyone |= "everyone" in own and not campaign.segment_id and not campaign.group_ids
    if campaign.segment_id is not None and campaign.segment_id in query.segment_effects:
        via = query.segment_effects[campaign.segment_id]
        effects += via
        everyone |= "everyone" in via and not campaign.group_ids
    for segment_id in exclusion_ids:
        if segment_id in query.segment_effects:
            # A widened exclusion narrows the campaign, and the other way round.
            effects += [*query.segment_effects[segment_id], "inverted"]
    if set(campaign.moment_tag_ids) & query.tag_ids:
        left = set(campaign.moment_tag_ids) - query.tag_ids
        effects.append("moment_visibility" if left else "moment_everyone")
        everyone |= not left
    return sorted(set(effects)), everyone


def tag_usage(query: TagUsageQuery) -> list[TagUsage]:
    candidates = (
        Campaign.objects.filter(organization_id=query.organization_id, status__in=UNPLANNED, planned_at__isnull=True)
        .prefetch_related("exclusion_segments")
        .order_by("-created_at", "-id")
    )
    usages: list[TagUsage] = []
    for campaign in candidates:
        exclusion_ids = [s.pk for s in campaign.exclusion_segments.all()]
        effects, everyone = _effects(campaign, exclusion_ids, query)
        if not effects:
            continue
        unreviewed = campaign.status in SENDS_UNREVIEWED
        blocked = _("的受众将变为全部客户：请先取消该活动或改用其他受众条件") if everyone and unreviewed else ""
        after: Any = without_ids(campaign.expression, "tags", query.tag_ids)
        usages.append(
            TagUsage(
                kind="campaign",
                kind_label=str(_("营销活动")),
                object_id=campaign.pk,
                name=campaign.name,
                url=reverse("campaigns:campaign_detail", args=[campaign.pk]),
                status=str(campaign.get_status_display()),
                effects=tuple(effects),
                expression_before=campaign.expression if not campaign.segment_id else None,
                expression_after=after if not campaign.segment_id else None,
                blocked=blocked,
            )
        )
        if query.apply:
            fields = {
                "expression": after,
                "moment_tag_ids": [t for t in campaign.moment_tag_ids if t not in query.tag_ids],
            }
            if blocked and query.source == TagSource.SYNC:
                fields["status"] = CampaignStatus.DRAFT
            Campaign.objects.filter(pk=campaign.pk).update(**fields)
    return usages
