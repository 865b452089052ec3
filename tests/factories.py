"""factory_boy factories for the core models. Higher layers add theirs in tests/<app>/factories.py."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from contacts import crypto
from contacts.models import Customer, CustomerGroup, Follow, Organization, Role, Staff, Store, Tag, TagGroup


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"品牌{n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"门店{n}")
    code = factory.Sequence(lambda n: f"S{n:03d}")
    city = "上海"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass12345")

    @factory.post_generation
    def role(self, create: bool, extracted: Role | None, **kwargs: object) -> None:
        if extracted:
            group, _ = Group.objects.get_or_create(name=extracted.value)
            self.groups.add(group)
        self.save()


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Staff

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"员工{n}")
    store = None
    wecom_userid = factory.Sequence(lambda n: f"staff{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"顾客{n}")
    marketing_consent = True

    class Params:
        phone = None

    @factory.lazy_attribute
    def phone_encrypted(self) -> str:
        return crypto.encrypt_phone(self.phone) if self.phone else ""

    @factory.lazy_attribute
    def phone_hash(self) -> str:
        return crypto.phone_hash(self.phone) if self.phone else ""

    @factory.lazy_attribute
    def phone_mask(self) -> str:
        return crypto.mask_phone(self.phone) if self.phone else ""

    @factory.lazy_attribute
    def phone_last4(self) -> str:
        return self.phone[-4:] if self.phone else ""


class TagGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TagGroup

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"标签组{n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    organization = factory.SelfAttribute("group.organization")
    group = factory.SubFactory(TagGroupFactory)
    name = factory.Sequence(lambda n: f"标签{n}")


class FollowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Follow

    organization = factory.SelfAttribute("customer.organization")
    customer = factory.SubFactory(CustomerFactory)
    staff = factory.SubFactory(StaffFactory, organization=factory.SelfAttribute("..customer.organization"))


class CustomerGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerGroup

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"客户群{n}")
    wecom_chat_id = factory.Sequence(lambda n: f"wr{n}")
