"""Shared data for the contacts page tests: customers in two stores, tags (one single-choice group)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from contacts.models import (
    Customer,
    CustomerTag,
    Identity,
    Note,
    Platform,
    Tag,
    TagChoice,
    TagGroup,
    TimelineEvent,
    TimelineKind,
)
from tests.conftest import World
from tests.factories import CustomerFactory, FollowFactory, TagFactory, TagGroupFactory


@dataclass
class People:
    world: World
    alice: Customer  # store A, tagged 金卡, remark "老客户"
    bob: Customer  # store B
    rival: Customer  # the other organization
    level: TagGroup  # single-choice
    silver: Tag
    gold: Tag
    interest: TagGroup  # multi-choice
    skincare: Tag
    rival_tag: Tag


def tag_customer(customer: Customer, *tags: Tag) -> None:
    for tag in tags:
        CustomerTag.objects.create(organization=customer.organization, customer=customer, tag=tag)
    customer.tag_ids = sorted({*customer.tag_ids, *(t.pk for t in tags)})
    customer.save(update_fields=["tag_ids"])


@pytest.fixture
def people(world: World) -> People:
    org = world.org
    level = TagGroupFactory(organization=org, name="客户等级", choice=TagChoice.SINGLE, order=0)
    interest = TagGroupFactory(organization=org, name="兴趣偏好", choice=TagChoice.MULTI, order=1)
    silver = TagFactory(group=level, name="银卡")
    gold = TagFactory(group=level, name="金卡")
    skincare = TagFactory(group=interest, name="护肤")
    alice = CustomerFactory(organization=org, name="王小丽", home_store=world.store_a, phone="13812345678")
    bob = CustomerFactory(organization=org, name="李大明", home_store=world.store_b, phone="13900001111")
    rival = CustomerFactory(organization=world.other_org, name="赵对手", home_store=world.other_store)
    rival_tag = TagFactory(group=TagGroupFactory(organization=world.other_org, name="对手组"), name="对手标签")
    tag_customer(alice, gold)
    Identity.objects.create(organization=org, customer=alice, platform=Platform.WECOM, external_id="wm_alice")
    Identity.objects.create(organization=org, customer=bob, platform=Platform.WECOM, external_id="wm_bob")
    Identity.objects.create(
        organization=world.other_org, customer=rival, platform=Platform.WECOM, external_id="wm_rival"
    )
    FollowFactory(customer=alice, staff=world.store_staff, remark="老客户VIP")
    FollowFactory(customer=bob, staff=world.manager, remark="")
    Note.objects.create(organization=org, customer=alice, author=world.store_staff, body="喜欢新品面霜")
    TimelineEvent.objects.create(organization=org, customer=alice, kind=TimelineKind.ADDED, summary="添加企业微信")
    return People(world, alice, bob, rival, level, silver, gold, interest, skincare, rival_tag)


def html(response: Any) -> str:
    return response.content.decode()
