"""Moments with library images, visibility by customer tags, and likes/comments collected by the result task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from campaigns import dispatcher, services
from campaigns.models import Campaign, Delivery, DeliveryStatus
from channels.materials import material_create
from contacts.models import Tag, TagGroup
from contacts.services.tags import customer_tag_add, tag_create
from tests.campaigns.conftest import sandbox_brand
from tests.campaigns.test_dispatcher import planned_campaign

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _image(org: Any) -> dict[str, Any]:
    material = material_create(organization=org, kind="image", name="新品.png", data=PNG).material
    return {"msgtype": "image", "image": {"material_id": material.pk}}


def test_a_moment_with_a_library_image_goes_out_with_an_upload_attachment_id(world, wecom_sandbox, enqueued):
    sandbox_brand(wecom_sandbox, world.org, n_customers=2, n_staff=1)
    c = planned_campaign(world.org, kind="moment", text="新品上市", attachments=[_image(world.org)])
    assert dispatcher.moment_dispatch(campaign_id=c.pk) == "created"
    job = next(iter(wecom_sandbox.snapshot()["moments"].values()))
    media_id = job["attachments"][0]["image"]["media_id"]
    assert wecom_sandbox.snapshot()["media"][media_id]["purpose"] == "moment"


def test_visibility_by_tags_reaches_wecom_and_limits_the_audience(world, wecom_sandbox, enqueued):
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=4, n_staff=1)
    wecom_group = wecom_sandbox.add_tag_group("会员等级", ["金卡"])["tag_group"]
    gold_id = wecom_group["tag"][0]["id"]
    group = TagGroup.objects.create(organization=world.org, name="会员等级", wecom_group_id=wecom_group["group_id"])
    gold = tag_create(group=group, name="金卡", wecom_tag_id=gold_id)
    # A tag whose push to WeCom has not gone through yet (tag_create would push it at once).
    local = Tag.objects.create(organization=world.org, group=group, name="本地标签")
    userid = brand.staff[0].wecom_userid
    for customer in brand.customers[:2]:
        customer_tag_add(customer=customer, tag=gold)
        wecom_sandbox.fake.corp().customers[brand.ext(customer)].follows[userid].tags.add(gold_id)

    with pytest.raises(ValidationError, match="还没有同步到企业微信"):
        services.campaign_create(organization=world.org, name="x", kind="moment", text="t", moment_tag_ids=[local.pk])
    with pytest.raises(ValidationError, match="只有朋友圈"):
        services.campaign_create(organization=world.org, name="x", text="t", moment_tag_ids=[gold.pk])
    with pytest.raises(ValidationError, match="不存在或无权使用"):
        services.campaign_create(organization=world.org, name="x", kind="moment", text="t", moment_tag_ids=[10**9])

    c = planned_campaign(world.org, kind="moment", text="金卡专享", moment_tag_ids=[gold.pk])
    # Planned only for the tag's holders: the ones WeCom will show the post to.
    assert sorted(
        Delivery.objects.filter(campaign=c).exclude(status="excluded").values_list("customer_id", flat=True)
    ) == sorted(x.pk for x in brand.customers[:2])
    assert dispatcher.moment_dispatch(campaign_id=c.pk) == "created"
    job = next(iter(wecom_sandbox.snapshot()["moments"].values()))
    assert job["tag_list"] == [gold_id]
    dispatcher.moment_track(campaign_id=c.pk)
    dispatcher.moment_track(campaign_id=c.pk)
    assert Delivery.objects.filter(campaign=c, status=DeliveryStatus.DELIVERED).count() == 2


def test_likes_and_comments_are_collected_by_the_result_task_and_shown(world, wecom_sandbox, enqueued):
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=3, n_staff=2)
    c = planned_campaign(world.org, kind="moment", text="冬季护肤小课堂")
    assert dispatcher.moment_dispatch(campaign_id=c.pk) == "created"
    dispatcher.track_tick()  # the job is still running: no moment_id, nothing to collect
    assert not Campaign.objects.get(pk=c.pk).moment_interactions
    dispatcher.track_tick()
    assert Campaign.objects.get(pk=c.pk).moment_id
    first, second, third = brand.customers
    staff_of = {x.pk: brand.staff[i % 2].wecom_userid for i, x in enumerate(brand.customers)}
    wecom_sandbox.moment_interact(staff_of[first.pk], brand.ext(first), like=True, comment=True)
    wecom_sandbox.moment_interact(staff_of[second.pk], brand.ext(second), like=True)
    wecom_sandbox.moment_interact(staff_of[third.pk], brand.ext(third), comment=True)
    asked = sum(1 for api, _ in list(wecom_sandbox.fake.calls) if api == "externalcontact/get_moment_comments")
    assert asked == 2  # once per sender when the post appeared
    dispatcher.track_tick()  # two minutes later: not asked again yet (at most every 10 minutes)
    assert sum(1 for api, _ in list(wecom_sandbox.fake.calls) if api == "externalcontact/get_moment_comments") == 2
    assert Campaign.objects.get(pk=c.pk).moment_interactions["likes"] == 0
    dispatcher.track_tick(now=timezone.now() + timedelta(minutes=11))
    stats = Campaign.objects.get(pk=c.pk).moment_interactions
    assert (stats["likes"], stats["comments"]) == (2, 2)
    assert {r["customer_id"] for r in stats["comment_list"]} == {first.pk, third.pk}
    assert {r["name"] for r in stats["like_list"]} == {first.name, second.name}
    # Another comment later: the next run replaces the figures (they are WeCom's, not added up).
    wecom_sandbox.moment_interact(staff_of[second.pk], brand.ext(second), comment=True)
    dispatcher.track_tick(now=timezone.now() + timedelta(minutes=22))
    assert Campaign.objects.get(pk=c.pk).moment_interactions["comments"] == 3

    client = Client()
    client.force_login(world.operator.user)
    body = client.get(f"/campaigns/{c.pk}/").content.decode()
    assert 'data-testid="moment-likes">2<' in body and 'data-testid="moment-comments">3<' in body
    assert first.name in body and third.name in body
