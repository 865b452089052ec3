"""A tag used by campaigns that have not been planned yet: listed, rewritten on confirm, refused when
a scheduled audience would become the whole brand (back to draft when WeCom deleted the tag)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from campaigns.models import Campaign, CampaignKind, CampaignStatus
from contacts import services
from contacts.models import Segment, Tag, TagSource
from tests.conftest import World
from tests.factories import TagFactory, TagGroupFactory


@pytest.fixture
def tags(world: World) -> dict[str, Tag]:
    group = TagGroupFactory(organization=world.org, name="会员")
    return {name: TagFactory(group=group, name=name) for name in ("金卡", "黑金", "勿扰")}


def _campaign(world: World, name: str, status: str, **values: object) -> Campaign:
    return Campaign.objects.create(
        organization=world.org, name=name, status=status, due_at=timezone.now(), created_by=world.operator, **values
    )


def test_scheduled_campaign_rules_are_listed_and_rewritten_sent_ones_keep_theirs(
    world: World, tags: dict[str, Tag]
) -> None:
    gold, black, dnd = tags["金卡"].pk, tags["黑金"].pk, tags["勿扰"].pk
    rule = {"tags": {"any": [gold, black], "none": [dnd]}}
    scheduled = _campaign(world, "双十二", CampaignStatus.SCHEDULED, expression=rule)
    sending = _campaign(world, "已在发", CampaignStatus.SENDING, expression=rule, planned_at=timezone.now())
    done = _campaign(world, "已发完", CampaignStatus.DONE, expression=rule, planned_at=timezone.now())
    moment = _campaign(world, "朋友圈", CampaignStatus.DRAFT, kind=CampaignKind.MOMENT, moment_tag_ids=[dnd, gold])

    usages = services.tag_usages(organization_id=world.org.pk, tag_ids={dnd})
    assert {(u.kind, u.name) for u in usages} == {("campaign", "双十二"), ("campaign", "朋友圈")}
    listed = next(u for u in usages if u.name == "双十二")
    assert listed.status == "已排期" and listed.effects == ("widens_none",) and not listed.blocked
    assert listed.url == f"/campaigns/{scheduled.pk}/"

    with pytest.raises(services.TagInUse):
        services.tag_delete(tag=tags["勿扰"], by=world.operator)
    services.tag_delete(tag=tags["勿扰"], by=world.operator, confirmed=True)
    for campaign in (scheduled, sending, done, moment):
        campaign.refresh_from_db()
    assert scheduled.expression == {"tags": {"any": [gold, black]}}
    assert scheduled.status == CampaignStatus.SCHEDULED
    assert sending.expression == done.expression == rule  # their audience is frozen in the deliveries
    assert moment.moment_tag_ids == [gold]


def test_a_scheduled_audience_that_would_become_everyone_refuses_the_deletion(
    world: World, tags: dict[str, Tag]
) -> None:
    gold = tags["金卡"]
    segment = Segment.objects.create(organization=world.org, name="金卡会员", expression={"tags": {"all": [gold.pk]}})
    scheduled = _campaign(world, "金卡专享", CampaignStatus.SCHEDULED, segment=segment)
    draft = _campaign(world, "草稿", CampaignStatus.DRAFT, expression={"tags": {"all": [gold.pk]}})

    with pytest.raises(services.TagInUse, match=r"金卡专享.*全部客户") as refused:
        services.tag_delete(tag=gold, by=world.operator, confirmed=True)
    assert {u.name: bool(u.blocked) for u in refused.value.usages} == {
        "金卡会员": False,
        "金卡专享": True,
        "草稿": False,
    }
    assert Tag.objects.filter(pk=gold.pk).exists()
    segment.refresh_from_db()
    assert segment.expression == {"tags": {"all": [gold.pk]}}

    # WeCom deleted the tag itself: nothing can refuse, so the campaign goes back to draft.
    services.tag_delete(tag=gold, source=TagSource.SYNC)
    scheduled.refresh_from_db()
    draft.refresh_from_db()
    segment.refresh_from_db()
    assert scheduled.status == CampaignStatus.DRAFT
    assert segment.expression == {} and draft.expression == {}
