"""Staff to-dos: idempotent creation by source key, scoped completion, closing by producers, erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts import services as contacts
from contacts.access import actor_for_user
from tests.factories import CustomerFactory, StaffFactory
from todos import selectors, services
from todos.models import Todo, TodoKind, TodoStatus


def _spec(assignee, key, **kw):
    return services.TodoSpec(
        assignee_id=assignee.pk,
        kind=kw.pop("kind", TodoKind.FOLLOW_UP),
        title=kw.pop("title", "回访客户"),
        due_at=kw.pop("due_at", timezone.now() + timedelta(hours=1)),
        source_key=key,
        **kw,
    )


def test_creating_twice_by_source_key_makes_one_todo_with_the_assignees_store(world):
    specs = [_spec(world.store_staff, "t:1"), _spec(world.store_staff, "t:2")]
    assert services.todos_create(organization_id=world.org.pk, specs=specs) == 2
    assert services.todos_create(organization_id=world.org.pk, specs=[*specs, _spec(world.manager, "t:3")]) == 1
    todos = Todo.objects.filter(organization=world.org).order_by("source_key")
    assert [(t.source_key, t.store_id) for t in todos] == [
        ("t:1", world.store_a.pk),
        ("t:2", world.store_a.pk),
        ("t:3", world.store_a.pk),
    ]


def test_an_assignee_of_another_brand_is_refused(world):
    with pytest.raises(services.TodoError):
        services.todos_create(organization_id=world.org.pk, specs=[_spec(world.outsider, "x")])
    assert not Todo.objects.exists()


def test_store_staff_complete_only_their_own_and_listeners_hear_it(world, django_capture_on_commit_callbacks):
    colleague = StaffFactory(organization=world.org, store=world.store_a)
    mine, _ = services.todo_create(organization_id=world.org.pk, spec=_spec(world.store_staff, "mine"))
    theirs, _ = services.todo_create(organization_id=world.org.pk, spec=_spec(colleague, "theirs"))
    heard: list[int] = []
    services.register_todo_done_listener(TodoKind.FOLLOW_UP, lambda todo: heard.append(todo.pk))
    clerk = actor_for_user(world.store_staff.user)
    with pytest.raises(services.TodoError):
        services.todo_complete(actor=clerk, todo_id=theirs.pk)
    with django_capture_on_commit_callbacks(execute=True):
        done = services.todo_complete(actor=clerk, todo_id=mine.pk)
    assert done.status == TodoStatus.DONE and done.done_by_id == world.store_staff.pk
    assert heard == [mine.pk]
    # The manager of store A may complete the colleague's; an outsider may not even see it.
    services.todo_complete(actor=actor_for_user(world.manager.user), todo_id=theirs.pk)
    with pytest.raises(services.TodoError):
        services.todo_complete(actor=actor_for_user(world.outsider.user), todo_id=mine.pk)
    assert list(selectors.todos_for_actor(clerk, status=TodoStatus.DONE)) == [mine]


def test_closing_by_source_key_and_the_badge_counts(world):
    past = timezone.now() - timedelta(hours=2)
    services.todos_create(
        organization_id=world.org.pk,
        specs=[
            _spec(world.store_staff, "a", due_at=past),
            _spec(world.store_staff, "b"),
            _spec(world.store_staff, "c"),
        ],
    )
    clerk = actor_for_user(world.store_staff.user)
    assert selectors.todo_counts(clerk) == {"open": 3, "overdue": 1}
    assert services.todos_close(organization_id=world.org.pk, source_keys=["a", "b"], status=TodoStatus.DONE) == 2
    assert services.todos_close(organization_id=world.org.pk, source_keys=["a"]) == 0
    assert selectors.todo_counts(clerk) == {"open": 1, "overdue": 0}


def test_the_database_refuses_a_done_todo_without_a_time(world):
    todo, _ = services.todo_create(organization_id=world.org.pk, spec=_spec(world.store_staff, "k"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Todo.objects.filter(pk=todo.pk).update(status=TodoStatus.DONE)


def test_erasure_keeps_the_count_but_not_the_person(world):
    customer = CustomerFactory(organization=world.org, home_store=world.store_a, name="张三")
    services.todo_create(
        organization_id=world.org.pk,
        spec=_spec(world.store_staff, "p", customer_id=customer.pk, title="给张三发券", payload={"phone": "138"}),
    )
    assert contacts.customer_personal_data(customer=customer, by=world.operator)["todos"][0]["title"] == "给张三发券"
    contacts.customer_erase(customer=customer, by=world.operator, reason="本人申请")
    todo = Todo.objects.get(source_key="p")
    assert (todo.customer_id, todo.body, todo.payload, todo.status) == (None, "", {}, TodoStatus.CANCELLED)
    assert "张三" not in todo.title
