"""Factories for contacts tests beyond tests/factories.py (tags in a single-choice group, members…)."""

from __future__ import annotations

import factory

from contacts.models import CustomerGroupMember, CustomerTag, Note, TagChoice
from tests.factories import CustomerFactory, CustomerGroupFactory, TagFactory, TagGroupFactory


class SingleTagGroupFactory(TagGroupFactory):
    choice = TagChoice.SINGLE


class CustomerTagFactory(factory.django.DjangoModelFactory):
    """An assignment row only; use ``contacts.services`` when ``tag_ids`` must follow."""

    class Meta:
        model = CustomerTag

    organization = factory.SelfAttribute("customer.organization")
    customer = factory.SubFactory(CustomerFactory)
    tag = factory.SubFactory(TagFactory)


class GroupMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerGroupMember

    organization = factory.SelfAttribute("group.organization")
    group = factory.SubFactory(CustomerGroupFactory)
    customer = None
    member_id = factory.Sequence(lambda n: f"wm{n}")


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    organization = factory.SelfAttribute("customer.organization")
    customer = factory.SubFactory(CustomerFactory)
    body = "到店试用"
