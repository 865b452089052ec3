"""The group SOP pages (营销 › 群SOP): build from a template, the builder saves targets and steps, refused
input answers 400 naming the field and changes nothing, pause/resume/archive, list filters and
pagination, and scope: a store manager sees and edits only SOPs over their stores' groups."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from contacts.access import actor_for_user
from journeys.group_models import GroupSop, GroupSopStep
from journeys.group_sop import GroupStepSpec, group_sop_create
from tests.factories import CustomerGroupFactory, StaffFactory

pytestmark = pytest.mark.django_db

DETAIL_LINK = re.compile(r'href="/group-sops/\d+/"')


def _builder(sop, **over):
    data = {
        "name": sop.name,
        "store": sop.store_id or "",
        "delivery": sop.delivery,
        "target": sop.target,
        **{f"target_ids_{sop.target}": sop.target_ids},
    }
    data.update(over)
    return data


def test_an_operator_builds_from_a_template_then_edits_targets_and_steps(world):
    owner = StaffFactory(organization=world.org, store=world.store_a)
    group = CustomerGroupFactory(organization=world.org, owner=owner, store=world.store_a)
    client = world.client_for(world.operator)
    page = client.get("/group-sops/").content.decode()
    assert "每日早安群发" in page and "每周新品上新" in page
    assert client.post("/group-sops/new/", {"template": "weekly_new_arrivals"}).status_code == 302
    sop = GroupSop.objects.get(organization=world.org)
    assert list(sop.steps.values_list("schedule", "weekdays")) == [("weekly", [2, 5]), ("weekly", [7])]
    detail = client.get(f"/group-sops/{sop.pk}/").content.decode()
    assert "每周" in detail and 'data-testid="group-step-2"' in detail and "北京时间 19:30" in detail

    saved = client.post(
        f"/group-sops/{sop.pk}/",
        _builder(
            sop,
            target="groups",
            target_ids_groups=[group.pk],
            delivery="todo",
            **{
                "step-1-schedule": "daily",
                "step-1-at_time": "08:30",
                "step-1-text": "早安",
                "step-2-schedule": "weekly",
                "step-2-at_time": "19:30",
                "step-2-weekdays": ["2", "5"],
                "step-2-text": "上新",
                "step-2-link_title": "新品",
                "step-2-link_url": "https://example.com/n",
                "step-3-schedule": "after_group",
                "step-3-at_time": "20:00",
                "step-3-days": "3",
                "step-3-text": "福利",
            },
        ),
    )
    assert saved.status_code == 302
    sop.refresh_from_db()
    assert (sop.target, sop.target_ids, sop.delivery) == ("groups", [group.pk], "todo")
    steps = list(sop.steps.order_by("position"))
    assert [(s.schedule, s.at_time, s.days) for s in steps] == [
        ("daily", dt.time(8, 30), 0),
        ("weekly", dt.time(19, 30), 0),
        ("after_group", dt.time(20), 3),
    ]
    assert steps[1].attachments == [{"msgtype": "link", "link": {"title": "新品", "url": "https://example.com/n"}}]

    # A weekly step without a weekday: 400 naming the field, nothing changed.
    bad = client.post(
        f"/group-sops/{sop.pk}/",
        _builder(sop, **{"step-1-schedule": "weekly", "step-1-at_time": "08:30", "step-1-text": "x"}),
    )
    assert bad.status_code == 400 and 'data-field="weekdays"' in bad.content.decode()
    bad = client.post(
        f"/group-sops/{sop.pk}/",
        _builder(sop, **{"step-1-schedule": "daily", "step-1-at_time": "8点", "step-1-text": "x"}),
    )
    assert bad.status_code == 400 and 'data-field="at_time"' in bad.content.decode()
    assert GroupSopStep.objects.filter(sop=sop).count() == 3

    for status, expected in (
        ("active", "active"),
        ("paused", "paused"),
        ("active", "active"),
        ("archived", "archived"),
    ):
        assert client.post(f"/group-sops/{sop.pk}/status/", {"status": status}).status_code == 302
        sop.refresh_from_db()
        assert sop.status == expected
    assert client.post(f"/group-sops/{sop.pk}/status/", {"status": "active"}).status_code == 400
    assert client.post(f"/group-sops/{sop.pk}/", _builder(sop)).status_code == 400  # archived: read-only


def test_a_store_manager_sees_and_edits_only_sops_over_their_stores_groups(world):
    op = actor_for_user(world.operator.user)
    step = [GroupStepSpec(schedule="daily", at_time=dt.time(9), text="早")]
    brand = group_sop_create(actor=op, name="全品牌", target="store", target_ids=[world.store_a.pk], steps=step)
    store_b = group_sop_create(
        actor=op, name="B店专属", target="store", target_ids=[world.store_b.pk], store_id=world.store_b.pk, steps=step
    )
    manager = world.client_for(world.manager)  # manages store A
    page = manager.get("/group-sops/").content.decode()
    assert "B店专属" not in page and "全品牌" not in page
    assert manager.get(f"/group-sops/{store_b.pk}/").status_code == 404
    assert manager.post(f"/group-sops/{store_b.pk}/status/", {"status": "active"}).status_code == 404
    assert manager.get(f"/group-sops/{brand.pk}/").status_code == 404

    assert manager.post("/group-sops/new/", {"template": "daily_morning"}).status_code == 302
    mine = GroupSop.objects.get(organization=world.org, template="daily_morning")
    assert mine.store_id == world.store_a.pk
    assert manager.get(f"/group-sops/{mine.pk}/").status_code == 200
    # Targeting store B's groups, or a store B group, from store A's SOP is refused.
    b_group = CustomerGroupFactory(organization=world.org, store=world.store_b)
    for target, ids in (("store", [world.store_b.pk]), ("groups", [b_group.pk])):
        bad = manager.post(f"/group-sops/{mine.pk}/", _builder(mine, target=target, **{f"target_ids_{target}": ids}))
        assert bad.status_code == 400 and 'data-field="target_ids"' in bad.content.decode()
    bad = manager.post(f"/group-sops/{mine.pk}/", _builder(mine, store=world.store_b.pk))
    assert bad.status_code == 400 and 'data-field="store"' in bad.content.decode()
    mine.refresh_from_db()
    assert mine.store_id == world.store_a.pk

    clerk = world.client_for(world.store_staff)
    assert clerk.get("/group-sops/").status_code == 403
    outsider = world.client_for(world.outsider)
    assert outsider.get(f"/group-sops/{mine.pk}/").status_code == 404
    assert outsider.post(f"/group-sops/{mine.pk}/status/", {"status": "active"}).status_code == 404


def test_the_list_filters_by_status_owner_and_store_and_pages(world, django_assert_max_num_queries):
    op = actor_for_user(world.operator.user)
    owner = StaffFactory(organization=world.org, store=world.store_a)
    step = [GroupStepSpec(schedule="daily", at_time=dt.time(9), text="早")]
    for i in range(25):
        group_sop_create(actor=op, name=f"店A-{i:02d}", target="store", target_ids=[world.store_a.pk], steps=step)
    by_owner = group_sop_create(actor=op, name="按群主", target="owner", target_ids=[owner.pk], steps=step)
    group_sop_create(actor=op, name="店B", target="store", target_ids=[world.store_b.pk], steps=step)
    client = world.client_for(world.operator)
    with django_assert_max_num_queries(12):
        first = client.get("/group-sops/").content.decode()
    assert len(DETAIL_LINK.findall(first)) == 20
    assert len(DETAIL_LINK.findall(client.get("/group-sops/?page=2").content.decode())) == 7
    owner_page = client.get(f"/group-sops/?owner={owner.pk}").content.decode()
    assert "按群主" in owner_page and "店A-00" not in owner_page
    store_page = client.get(f"/group-sops/?store={world.store_b.pk}").content.decode()
    assert "店B" in store_page and "店A-00" not in store_page
    by_owner.status = "paused"
    by_owner.save()
    paused = client.get("/group-sops/?status=paused").content.decode()
    assert "按群主" in paused and "店B" not in paused
