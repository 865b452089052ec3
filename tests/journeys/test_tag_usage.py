"""Journeys as tag dependents (issue 15): a journey whose trigger, condition or tag/untag step names a tag
is listed when the tag is deleted; an active one refuses the deletion (naming the journey); a paused or
draft one loses the reference in the deletion's transaction after confirmation; WeCom's own deletion
pauses an active one. Through the service, the console and the API, as tests/contacts/test_tag_usage.py."""

from __future__ import annotations

import pytest

from contacts import services as contacts
from contacts.access import actor_for_user
from contacts.models import Segment, Tag, TagSource
from journeys import services
from journeys.models import ConditionKind, Journey, JourneyStatus, StepKind, TriggerKind
from journeys.services import JourneyError, StepSpec
from tests.factories import TagFactory, TagGroupFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tags(world) -> dict[str, Tag]:
    group = TagGroupFactory(organization=world.org, name="会员")
    return {name: TagFactory(group=group, name=name) for name in ("新客", "金卡", "无关")}


def _journey(world, name, *, status, trigger=TriggerKind.MANUAL, steps=(), **settings) -> Journey:
    actor = actor_for_user(world.operator.user)
    journey = services.journey_create(actor=actor, name=name, trigger=trigger, **settings)
    for spec in steps or [StepSpec(kind=StepKind.END)]:
        services.step_add(actor=actor, journey=journey, spec=spec)
    if status != JourneyStatus.DRAFT:
        services.journey_set_status(actor=actor, journey=journey, status=JourneyStatus.ACTIVE)
    if status == JourneyStatus.PAUSED:
        services.journey_set_status(actor=actor, journey=journey, status=JourneyStatus.PAUSED)
    return Journey.objects.get(pk=journey.pk)


def test_active_journey_refuses_paused_and_draft_are_rewritten_on_confirm(world, tags):
    new, gold = tags["新客"], tags["金卡"]
    running = _journey(
        world, "新客欢迎", status=JourneyStatus.ACTIVE, trigger=TriggerKind.TAG_ADDED, trigger_tag_id=new.pk
    )
    paused = _journey(
        world,
        "金卡关怀",
        status=JourneyStatus.PAUSED,
        steps=[
            StepSpec(kind=StepKind.CONDITION, condition=ConditionKind.HAS_TAG, tag_id=new.pk),
            StepSpec(kind=StepKind.UNTAG, tag_id=new.pk),
            StepSpec(kind=StepKind.TAG, tag_id=gold.pk),
        ],
    )
    draft = _journey(world, "草稿", status=JourneyStatus.DRAFT, trigger=TriggerKind.TAG_REMOVED, trigger_tag_id=new.pk)
    archived = _journey(
        world, "旧旅程", status=JourneyStatus.PAUSED, steps=[StepSpec(kind=StepKind.TAG, tag_id=new.pk)]
    )
    services.journey_set_status(actor=actor_for_user(world.operator.user), journey=archived, status="archived")
    _journey(world, "不相关", status=JourneyStatus.ACTIVE, steps=[StepSpec(kind=StepKind.TAG, tag_id=gold.pk)])

    usages = contacts.tag_usages(organization_id=world.org.pk, tag_ids={new.pk})
    assert {(u.kind, u.name, bool(u.blocked)) for u in usages} == {
        ("journey", "新客欢迎", True),
        ("journey", "金卡关怀", False),
        ("journey", "草稿", False),
    }
    listed = next(u for u in usages if u.name == "新客欢迎")
    assert listed.url == f"/journeys/{running.pk}/" and listed.status == "运行中" and "触发条件" in listed.blocked

    with pytest.raises(contacts.TagInUse, match=r"新客欢迎.*暂停"):
        contacts.tag_delete(tag=new, by=world.operator, confirmed=True)
    assert Tag.objects.filter(pk=new.pk).exists()
    paused_steps = list(paused.steps.order_by("position").values_list("tag_id", flat=True))
    assert paused_steps == [new.pk, new.pk, gold.pk]  # nothing changed by the refusal

    actor = actor_for_user(world.operator.user)
    services.journey_set_status(actor=actor, journey=running, status=JourneyStatus.PAUSED)
    with pytest.raises(contacts.TagInUse):  # no longer blocked, but staff must still confirm
        contacts.tag_delete(tag=new, by=world.operator)
    contacts.tag_delete(tag=new, by=world.operator, confirmed=True)
    assert not Tag.objects.filter(pk=new.pk).exists()
    assert list(paused.steps.order_by("position").values_list("tag_id", flat=True)) == [None, None, gold.pk]
    for journey in (running, draft):
        journey.refresh_from_db()
        assert journey.trigger_tag_id is None
    # Switching them on again asks for the tag first, naming the field.
    with pytest.raises(JourneyError) as refused:
        services.journey_set_status(actor=actor, journey=running, status=JourneyStatus.ACTIVE)
    assert refused.value.field == "trigger_tag"
    with pytest.raises(JourneyError, match="第 1 步"):
        services.journey_set_status(actor=actor, journey=paused, status=JourneyStatus.ACTIVE)


def test_a_journey_through_a_segment_is_listed_and_a_platform_deletion_pauses_an_active_one(world, tags):
    gold = tags["金卡"]
    segment = Segment.objects.create(organization=world.org, name="金卡会员", expression={"tags": {"all": [gold.pk]}})
    via_segment = _journey(
        world,
        "金卡分群旅程",
        status=JourneyStatus.ACTIVE,
        steps=[StepSpec(kind=StepKind.CONDITION, condition=ConditionKind.IN_SEGMENT, segment_id=segment.pk)],
    )
    by_tag = _journey(world, "打金卡", status=JourneyStatus.ACTIVE, steps=[StepSpec(kind=StepKind.TAG, tag_id=gold.pk)])
    usages = {u.name: u for u in contacts.tag_usages(organization_id=world.org.pk, tag_ids={gold.pk})}
    assert set(usages) == {"金卡会员", "金卡分群旅程", "打金卡"}
    assert not usages["金卡分群旅程"].blocked and "everyone" in usages["金卡分群旅程"].effects
    assert usages["打金卡"].blocked

    contacts.tag_delete(tag=gold, source=TagSource.SYNC)  # WeCom deleted it: cannot be refused
    by_tag.refresh_from_db()
    via_segment.refresh_from_db()
    assert by_tag.status == JourneyStatus.PAUSED and by_tag.steps.get().tag_id is None
    assert via_segment.status == JourneyStatus.ACTIVE  # its segment was rewritten by contacts


def test_console_lists_the_journey_and_refuses_then_deletes_after_pause(world, tags):
    new = tags["新客"]
    journey = _journey(
        world, "新客欢迎", status=JourneyStatus.ACTIVE, trigger=TriggerKind.TAG_ADDED, trigger_tag_id=new.pk
    )
    client = world.client_for(world.operator)
    response = client.post("/tags/", {"action": "tag_delete", "tag": new.pk, "confirmed": "1"})
    assert response.status_code == 409
    page = response.content.decode()
    assert "新客欢迎" in page and f"/journeys/{journey.pk}/" in page and "暂停" in page
    assert Tag.objects.filter(pk=new.pk).exists()
    assert client.post(f"/journeys/{journey.pk}/status/", {"status": "paused"}).status_code == 302
    response = client.post("/tags/", {"action": "tag_delete", "tag": new.pk})
    assert response.status_code == 409 and "新客欢迎" in response.content.decode()
    response = client.post("/tags/", {"action": "tag_delete", "tag": new.pk, "confirmed": "1"})
    assert response.status_code == 302 and not Tag.objects.filter(pk=new.pk).exists()
    journey.refresh_from_db()
    assert journey.trigger_tag_id is None


def test_api_lists_the_journey_refuses_while_active_and_deletes_with_confirm_once_paused(world, tags):
    gold = tags["金卡"]
    journey = _journey(
        world, "打金卡", status=JourneyStatus.ACTIVE, steps=[StepSpec(kind=StepKind.TAG, tag_id=gold.pk)]
    )
    client = world.client_for(world.operator)
    usages = client.get(f"/api/v1/tags/{gold.pk}/usages/").json()
    assert [(u["kind"], u["name"], bool(u["blocked"])) for u in usages] == [("journey", "打金卡", True)]
    response = client.delete(f"/api/v1/tags/{gold.pk}/?confirm=true")
    assert response.status_code == 409 and "打金卡" in str(response.json())
    services.journey_set_status(actor=actor_for_user(world.operator.user), journey=journey, status="paused")
    assert client.delete(f"/api/v1/tags/{gold.pk}/").status_code == 409
    assert client.delete(f"/api/v1/tags/{gold.pk}/?confirm=true").status_code == 204
    assert journey.steps.get().tag_id is None
