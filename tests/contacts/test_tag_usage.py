"""Deleting a tag that saved segments (or a registered higher layer) use: listed, confirmed, rewritten
in the deletion's transaction; a blocking use refuses it; the data migration for old dangling ids."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from contacts import services
from contacts.models import Customer, Segment, Tag, TagSource
from contacts.services import tag_usage as usage_module
from tests.conftest import World
from tests.factories import CustomerFactory, TagFactory, TagGroupFactory


@pytest.fixture
def tags(world: World) -> dict[str, Tag]:
    group = TagGroupFactory(organization=world.org, name="兴趣")
    return {name: TagFactory(group=group, name=name) for name in ("护肤", "彩妆", "勿扰")}


def _segment(world: World, name: str, expression: Any) -> Segment:
    return Segment.objects.create(organization=world.org, name=name, expression=expression, created_by=world.operator)


def test_deleting_a_used_tag_asks_then_rewrites_segments_in_the_same_transaction(
    world: World, tags: dict[str, Tag]
) -> None:
    skin, makeup, dnd = tags["护肤"], tags["彩妆"], tags["勿扰"]
    for store, held in ((world.store_a, [skin]), (world.store_a, [dnd]), (world.store_b, [])):
        customer = CustomerFactory(organization=world.org, home_store=store)
        for tag in held:
            services.customer_tag_add(customer=customer, tag=tag)
    quiet = _segment(world, "不打扰", {"tags": {"none": [dnd.pk]}})
    tree = _segment(
        world, "护肤或彩妆且非勿扰", {"all": [{"tags": {"any": [skin.pk, makeup.pk]}}, {"tags": {"none": [dnd.pk]}}]}
    )
    other = _segment(world, "无关", {"tags": {"all": [skin.pk]}})

    with pytest.raises(services.TagInUse) as refused:
        services.tag_delete(tag=dnd, by=world.operator)
    assert {(u.kind, u.name) for u in refused.value.usages} == {
        ("segment", "不打扰"),
        ("segment", "护肤或彩妆且非勿扰"),
    }
    quiet_usage = next(u for u in refused.value.usages if u.name == "不打扰")
    assert quiet_usage.effects == ("everyone", "widens_none")
    assert quiet_usage.url == f"/segments/{quiet.pk}/"
    assert Tag.objects.filter(pk=dnd.pk).exists()  # nothing changed without the confirmation

    services.tag_delete(tag=dnd, by=world.operator, confirmed=True)
    assert not Tag.objects.filter(pk=dnd.pk).exists()
    quiet.refresh_from_db()
    tree.refresh_from_db()
    other.refresh_from_db()
    assert quiet.expression == {}
    assert tree.expression == {"all": [{"tags": {"any": [skin.pk, makeup.pk]}}]}
    assert other.expression == {"tags": {"all": [skin.pk]}}
    # The rewritten segments were recounted (brand-wide) in the same transaction.
    assert quiet.last_count == Customer.objects.filter(organization=world.org).count() == 3
    assert quiet.last_counted_at is not None


def test_a_platform_deletion_is_never_refused_and_still_rewrites(world: World, tags: dict[str, Tag]) -> None:
    segment = _segment(world, "彩妆", {"tags": {"any": [tags["彩妆"].pk, tags["护肤"].pk]}})
    services.tag_delete(tag=tags["彩妆"], source=TagSource.SYNC)
    segment.refresh_from_db()
    assert segment.expression == {"tags": {"any": [tags["护肤"].pk]}}


def test_group_deletion_lists_the_uses_of_all_its_tags(world: World, tags: dict[str, Tag]) -> None:
    segment = _segment(world, "护肤", {"tags": {"all": [tags["护肤"].pk]}, "stores": [world.store_a.pk]})
    group = tags["护肤"].group
    with pytest.raises(services.TagInUse):
        services.tag_group_delete(group=group, by=world.operator)
    services.tag_group_delete(group=group, by=world.operator, confirmed=True)
    segment.refresh_from_db()
    assert segment.expression == {"stores": [world.store_a.pk]}


@pytest.fixture
def fake_dependent() -> Iterator[list[Any]]:
    """A higher layer (journeys do not exist yet) registering its own uses of tags."""
    calls: list[Any] = []
    stored = {"rule": {"tags": {"all": [0]}}}

    def provider(query: services.TagUsageQuery) -> list[services.TagUsage]:
        calls.append(query)
        rule = stored["rule"]
        if not set(rule["tags"]["all"]) & query.tag_ids:
            return []
        if query.apply:
            stored["rule"] = {"tags": {"all": [t for t in rule["tags"]["all"] if t not in query.tag_ids]}}
        blocked = "请先停用旅程" if rule.get("block") else ""
        return [
            services.TagUsage(
                kind="journey", kind_label="旅程", object_id=1, name="新客旅程", url="/j/1/", blocked=blocked
            )
        ]

    services.register_tag_usage(provider)
    calls.append(stored)
    yield calls
    usage_module._providers.remove(provider)


def test_registered_dependents_are_listed_rewritten_and_can_block(
    world: World, tags: dict[str, Tag], fake_dependent: list[Any]
) -> None:
    stored, skin_id = fake_dependent[0], tags["护肤"].pk
    stored["rule"] = {"tags": {"all": [skin_id]}}
    with pytest.raises(services.TagInUse) as refused:
        services.tag_delete(tag=tags["护肤"], by=world.operator)
    assert [u.name for u in refused.value.usages] == ["新客旅程"]
    assert "新客旅程" in str(refused.value)
    stored["rule"]["block"] = True
    with pytest.raises(services.TagInUse, match="请先停用旅程"):
        services.tag_delete(tag=tags["护肤"], by=world.operator, confirmed=True)
    assert Tag.objects.filter(pk=tags["护肤"].pk).exists()
    del stored["rule"]["block"]
    services.tag_delete(tag=tags["护肤"], by=world.operator, confirmed=True)
    assert stored["rule"] == {"tags": {"all": []}}
    applied = [q for q in fake_dependent[1:] if q.apply]
    assert len(applied) == 1 and applied[0].tag_ids == frozenset({skin_id})


def test_console_shows_where_the_tag_is_used_and_deletes_on_confirm(world: World, tags: dict[str, Tag]) -> None:
    segment = _segment(world, "不打扰", {"tags": {"none": [tags["勿扰"].pk]}})
    client = world.client_for(world.operator)
    response = client.post("/tags/", {"action": "tag_delete", "tag": tags["勿扰"].pk})
    assert response.status_code == 409
    page = response.content.decode()
    assert "不打扰" in page and f"/segments/{segment.pk}/" in page and "都不包含" in page and "全部客户" in page
    assert Tag.objects.filter(pk=tags["勿扰"].pk).exists()
    response = client.post("/tags/", {"action": "tag_delete", "tag": tags["勿扰"].pk, "confirmed": "1"})
    assert response.status_code == 302
    assert not Tag.objects.filter(pk=tags["勿扰"].pk).exists()
    segment.refresh_from_db()
    assert segment.expression == {}


def test_api_answers_409_with_the_uses_then_deletes_with_confirm(world: World, tags: dict[str, Tag]) -> None:
    _segment(world, "护肤", {"tags": {"all": [tags["护肤"].pk]}})
    client = world.client_for(world.operator)
    usages = client.get(f"/api/v1/tags/{tags['护肤'].pk}/usages/").json()
    assert [(u["kind"], u["name"], u["effects"]) for u in usages] == [("segment", "护肤", ["everyone", "widens_all"])]
    response = client.delete(f"/api/v1/tags/{tags['护肤'].pk}/")
    assert response.status_code == 409 and response.json()["usages"][0]["name"] == "护肤"
    assert client.delete(f"/api/v1/tags/{tags['护肤'].pk}/?confirm=maybe").status_code == 400
    assert client.delete(f"/api/v1/tags/{tags['护肤'].pk}/?confirm=true").status_code == 204
    assert world.client_for(world.outsider).get(f"/api/v1/tags/{tags['彩妆'].pk}/usages/").status_code == 404


def test_migration_drops_dead_tags_where_that_keeps_the_audience(world: World, tags: dict[str, Tag]) -> None:
    live, dead = tags["护肤"].pk, 987654
    keep = _segment(world, "仍有死标签", {"tags": {"all": [dead]}})
    fixed = _segment(world, "可修复", {"tags": {"any": [live, dead], "none": [dead + 1]}})
    migration = importlib.import_module("contacts.migrations.0018_segment_dangling_tags")
    migration.forwards(django_apps, None)
    keep.refresh_from_db()
    fixed.refresh_from_db()
    assert keep.expression == {"tags": {"all": [dead]}}  # dropping it would widen "nobody" to everyone
    assert fixed.expression == {"tags": {"any": [live]}}
    # The fixed segment can be edited again.
    actor_segment = services.segment_save(
        actor=_actor(world), name="可修复", expression=fixed.expression, description="改了说明", segment=fixed
    )
    assert actor_segment.description == "改了说明" and actor_segment.last_counted_at <= timezone.now()


def _actor(world: World) -> Any:
    from contacts.access import actor_for_user

    return actor_for_user(world.operator.user)
