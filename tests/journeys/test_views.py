"""The journey pages and the to-do lists: build from a template, refused input (400, field named,
nothing changes), scope, pagination, overdue marks and the done action."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.access import actor_for_user
from journeys import services
from journeys.models import Journey, JourneyStep
from tests.factories import CustomerFactory
from todos.models import Todo, TodoKind, TodoStatus
from todos.services import TodoSpec, todos_create

pytestmark = pytest.mark.django_db


def test_an_operator_builds_from_a_template_and_a_bad_step_is_refused(world):
    client = world.client_for(world.operator)
    page = client.get("/journeys/")
    assert page.status_code == 200 and "新好友欢迎旅程" in page.content.decode()
    response = client.post("/journeys/new/", {"template": "new_friend", "trigger_state": "spring"})
    journey = Journey.objects.get(organization=world.org)
    assert response.status_code == 302 and journey.trigger_state == "spring"
    detail = client.get(f"/journeys/{journey.pk}/").content.decode()
    assert "1对1任务" in detail and 'data-testid="step-5"' in detail
    before = list(JourneyStep.objects.filter(journey=journey).values_list("kind", "days"))
    bad = client.post(f"/journeys/{journey.pk}/steps/", {"kind": "wait_days", "days": "abc"})
    assert bad.status_code == 400 and 'data-field="days"' in bad.content.decode()
    bad = client.post(f"/journeys/{journey.pk}/steps/", {"kind": "wait_days", "days": "0"})
    assert bad.status_code == 400 and "等待天数须在 1–365 之间" in bad.content.decode()
    assert list(JourneyStep.objects.filter(journey=journey).values_list("kind", "days")) == before
    step = journey.steps.get(position=2)
    assert client.post(f"/journeys/steps/{step.pk}/", {"kind": "wait_days", "days": "2"}).status_code == 302
    assert journey.steps.get(position=2).days == 2
    assert client.post(f"/journeys/steps/{step.pk}/", {"action": "down"}).status_code == 302
    assert journey.steps.get(position=3).pk == step.pk
    assert client.post(f"/journeys/{journey.pk}/status/", {"status": "active"}).status_code == 302
    assert Journey.objects.get(pk=journey.pk).status == "active"
    bad = client.post(f"/journeys/{journey.pk}/enrol/", {"customer_ids": "12x"})
    assert bad.status_code == 400 and 'data-field="customer_ids"' in bad.content.decode()


def test_scope_other_brands_and_store_staff(world):
    outsider_actor = actor_for_user(world.outsider.user)
    theirs = services.journey_create(actor=outsider_actor, name="对手旅程", trigger="manual")
    client = world.client_for(world.operator)
    assert client.get(f"/journeys/{theirs.pk}/").status_code == 404
    assert client.post(f"/journeys/{theirs.pk}/status/", {"status": "active"}).status_code == 404
    clerk = world.client_for(world.store_staff)
    assert clerk.post("/journeys/new/", {"template": "new_friend"}).status_code == 403
    assert not Journey.objects.filter(organization=world.org).exists()
    mine = services.journey_create(actor=actor_for_user(world.operator.user), name="我的", trigger="manual")
    assert world.client_for(world.manager).get(f"/journeys/{mine.pk}/").status_code == 200
    customer = CustomerFactory(organization=world.other_org)
    bad = client.post(f"/journeys/{mine.pk}/enrol/", {"customer_ids": str(customer.pk)})
    assert bad.status_code == 400  # the journey is not active yet


def test_todo_lists_order_by_due_mark_overdue_paginate_and_complete(world):
    now = timezone.now()
    customer = CustomerFactory(organization=world.org, home_store=world.store_a)
    specs = [
        TodoSpec(
            assignee_id=world.store_staff.pk,
            kind=TodoKind.JOURNEY_TASK,
            title=f"任务{i}",
            body="您好",
            due_at=now + dt.timedelta(hours=i - 2, minutes=30),
            source_key=f"k{i}",
            customer_id=customer.pk,
        )
        for i in range(25)
    ]
    todos_create(organization_id=world.org.pk, specs=specs)
    clerk = world.client_for(world.store_staff)
    page = clerk.get("/sidebar/todos/").content.decode()
    assert page.index("任务0<") < page.index("任务1<") < page.index("任务5<")
    assert page.count('data-testid="todo-overdue"') == 2 and "任务24" not in page
    assert "任务24" in clerk.get("/sidebar/todos/?page=2").content.decode()
    assert clerk.get("/todos/?overdue=1").content.decode().count('data-testid="todo-send"') == 2
    first = Todo.objects.get(source_key="k0")
    done = clerk.post(f"/todos/{first.pk}/done/", HTTP_ACCEPT="application/json")
    assert done.json() == {"id": first.pk, "status": "done"}
    # Someone else's to-do is refused to store staff and stays open.
    other = todos_create(
        organization_id=world.org.pk,
        specs=[TodoSpec(assignee_id=world.manager.pk, kind=TodoKind.FOLLOW_UP, title="x", due_at=now, source_key="m")],
    )
    assert other == 1
    theirs = Todo.objects.get(source_key="m")
    refused = clerk.post(f"/todos/{theirs.pk}/done/", HTTP_ACCEPT="application/json")
    assert refused.status_code == 400 and Todo.objects.get(pk=theirs.pk).status == TodoStatus.OPEN
    assert world.client_for(world.manager).get(f"/todos/?assignee={world.store_staff.pk}").status_code == 200


def test_the_builder_sets_the_new_triggers_and_steps_and_the_birthday_template_uses_the_field(world):
    from contacts.models import CustomField, CustomFieldKind
    from tests.offers.helpers import template as coupon_template

    client = world.client_for(world.operator)
    refused = client.post("/journeys/new/", {"template": "birthday"})
    assert refused.status_code == 400 and "生日" in refused.content.decode()
    field = CustomField.objects.create(organization=world.org, key="birthday", label="生日", kind=CustomFieldKind.DATE)
    coupon = coupon_template(world.org)
    assert client.post("/journeys/new/", {"template": "birthday"}).status_code == 302
    birthday = Journey.objects.get(organization=world.org, template="birthday")
    assert birthday.trigger == "date_field" and birthday.trigger_field == field and birthday.entry_days == 300
    assert client.post("/journeys/new/", {"template": "new_friend"}).status_code == 302
    friend = Journey.objects.get(organization=world.org, template="new_friend")
    kinds = list(friend.steps.order_by("position").values_list("kind", flat=True))
    assert kinds == ["coupon", "task", "wait_days", "task", "wait_days", "task"]
    assert friend.steps.get(position=1).coupon_template == coupon
    assert "{coupon_link}" in friend.steps.get(position=2).text

    settings = {"name": "生日前三天", "trigger": "date_field", "trigger_field": field.pk, "trigger_days": "3"}
    assert client.post(f"/journeys/{friend.pk}/", {**settings, "entry_rule": "once"}).status_code == 302
    friend.refresh_from_db()
    assert (friend.trigger, friend.trigger_days, friend.trigger_field_id) == ("date_field", 3, field.pk)
    bad = client.post(f"/journeys/{friend.pk}/", {**settings, "trigger": "lifecycle_entered", "entry_rule": "once"})
    assert bad.status_code == 400 and 'data-field="trigger_lifecycle"' in bad.content.decode()
    steps = f"/journeys/{friend.pk}/steps/"
    assert client.post(steps, {"kind": "wait_weekday", "weekday": "2", "at_time": "09:30"}).status_code == 302
    assert client.post(steps, {"kind": "lifecycle", "lifecycle": "repeat"}).status_code == 302
    assert client.post(steps, {"kind": "moment", "text": "新品上市"}).status_code == 302
    last = list(friend.steps.order_by("-position")[:3])
    assert [s.kind for s in last] == ["moment", "lifecycle", "wait_weekday"]
    assert last[2].weekday == 2 and last[2].at_time.strftime("%H:%M") == "09:30"
    page = client.get(f"/journeys/{friend.pk}/").content.decode()
    assert "北京时间星期三 09:30" in page and "复购客户" in page and coupon.name in page
