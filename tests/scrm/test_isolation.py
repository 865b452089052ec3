"""A user of one organization can read nothing of another (the central scoping in contacts.access)."""

from __future__ import annotations

import pytest
from django.apps import apps

from contacts.access import actor_for_user
from tests.conftest import World
from tests.factories import CustomerFactory, CustomerGroupFactory, FollowFactory, TagFactory, TagGroupFactory


def scoped_models() -> list[type]:
    return [
        m
        for m in apps.get_models()
        if hasattr(m, "SCOPE_ORG") and m._meta.app_label in {"contacts", "channels", "campaigns", "analytics"}
    ]


@pytest.mark.django_db
def test_every_scoped_model_hides_other_organizations_rows(world: World) -> None:
    rival = world.other_org
    customer = CustomerFactory(organization=rival, home_store=world.other_store)
    FollowFactory(customer=customer, staff=world.outsider)
    TagFactory(group=TagGroupFactory(organization=rival))
    CustomerGroupFactory(organization=rival, store=world.other_store)
    actor = actor_for_user(world.operator.user)
    assert actor is not None
    for model in scoped_models():
        leaked = actor.scope(model.objects.all()).filter(**{model.SCOPE_ORG: rival.pk})
        assert not leaked.exists(), model.__name__
    # Sanity: the rival's own operator sees its rows, so the test above can fail.
    outsider = actor_for_user(world.outsider.user)
    from contacts.models import Customer

    assert outsider is not None and outsider.scope(Customer.objects.all()).count() == 1


@pytest.mark.django_db
def test_every_scoped_model_declares_its_scope() -> None:
    for model in scoped_models():
        org_path = model.SCOPE_ORG
        model.objects.filter(**{org_path: 1}).exists()  # a wrong path raises FieldError
        if model.SCOPE_STORE:
            model.objects.filter(**{f"{model.SCOPE_STORE}__in": [1]}).exists()


@pytest.mark.django_db
def test_the_console_home_counts_only_the_own_organization(world: World) -> None:
    CustomerFactory.create_batch(3, organization=world.other_org, home_store=world.other_store)
    CustomerFactory.create_batch(2, organization=world.org, home_store=world.store_a)
    page = world.client_for(world.operator).get("/")
    assert page.context["totals"]["customers"] == 2
    outsider_page = world.client_for(world.outsider).get("/")
    assert outsider_page.context["totals"]["customers"] == 3


@pytest.mark.django_db
def test_store_staff_scope_is_their_store_only(world: World) -> None:
    CustomerFactory.create_batch(2, organization=world.org, home_store=world.store_a)
    CustomerFactory.create_batch(3, organization=world.org, home_store=world.store_b)
    assert world.client_for(world.store_staff).get("/").context["totals"]["customers"] == 2
    assert world.client_for(world.manager).get("/").context["totals"]["customers"] == 2
    assert world.client_for(world.operator).get("/").context["totals"]["customers"] == 5
