"""The new-friend coupon (新好友券) rides on the welcome message: WeCom (the sandbox) receives the text
with the coupon's link, and the new customer holds that very coupon once the add is processed."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from campaigns import services as campaign_services
from campaigns.models import CampaignKind
from channels.models import ContactWay, InboxEvent
from channels.wecom import services as wecom
from contacts.models import Customer, TimelineEvent
from offers import services
from offers.models import CouponSource, CouponTemplate, IssuedCoupon
from tests.factories import StaffFactory
from tests.offers.helpers import template

pytestmark = pytest.mark.django_db

ADD_XML = """<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[guide_a]]></UserID>
<ExternalUserID><![CDATA[{ext}]]></ExternalUserID><State><![CDATA[{state}]]></State>
<WelcomeCode><![CDATA[{code}]]></WelcomeCode></xml>"""


@pytest.fixture
def brand(wecom_sandbox: Any, world: Any) -> Any:
    wecom_sandbox.add_member("guide_a", "导购A")
    StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_a", name="导购A")
    return wecom_sandbox.connect(world.org)


def add_through(sandbox: Any, account: Any, state: str) -> str:
    """A WeChat user scans the 活码 and adds guide_a; the event is processed as the inbox worker does."""
    import time

    scanned = sandbox.scan(state=state, userid="guide_a", name="扫码新客")
    xml = ADD_XML.format(
        corp=account.external_id, ts=int(time.time()), ext=scanned["external_userid"], state=state,
        code=scanned["welcome_code"],
    )  # fmt: skip
    return wecom.process_event(InboxEvent(account=account, body=xml))


def welcome_with_coupon(world: Any, coupon: CouponTemplate, way: ContactWay | None = None) -> Any:
    t = campaign_services.campaign_create(
        organization=world.org, name="新人欢迎语", kind=CampaignKind.WELCOME_TEMPLATE, text="欢迎来到A店！",
        contact_way=way, coupon_template=coupon,
    )  # fmt: skip
    return campaign_services.campaign_submit(campaign=t)


def test_the_welcome_carries_the_coupon_link_and_the_new_customer_holds_that_coupon(brand, wecom_sandbox, world):
    coupon_template = template(world.org)
    way = ContactWay.objects.create(organization=world.org, account=brand, name="A店收银台", state="desk_a")
    welcome = welcome_with_coupon(world, coupon_template, way)
    assert add_through(wecom_sandbox, brand, "desk_a") == "welcome sent"
    [sent] = wecom_sandbox.welcomes()
    assert sent["text"].startswith("欢迎来到A店！") and "新人立减5元" in sent["text"]
    customer = Customer.objects.get(name="扫码新客")
    coupon = IssuedCoupon.objects.get(customer=customer)
    assert (coupon.source, coupon.campaign_id) == (CouponSource.WELCOME, welcome.pk)
    link = services.coupon_link(coupon.token)
    assert link in sent["text"]
    page = Client().get("/" + link.split("/", 3)[3])
    assert page.status_code == 200 and coupon.code in page.content.decode()
    assert TimelineEvent.objects.filter(customer=customer, kind="coupon").exists()
    assert CouponTemplate.objects.get(pk=coupon_template.pk).issued == 1


def test_no_coupon_is_promised_when_the_stock_is_gone(brand, wecom_sandbox, world):
    coupon_template = template(world.org, stock=1)
    CouponTemplate.objects.filter(pk=coupon_template.pk).update(issued=1)
    welcome_with_coupon(world, coupon_template)
    assert add_through(wecom_sandbox, brand, "") == "welcome sent"
    [sent] = wecom_sandbox.welcomes()
    assert sent["text"] == "欢迎来到A店！"
    assert not IssuedCoupon.objects.exists()


def test_only_a_welcome_template_may_carry_a_coupon(world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        campaign_services.campaign_create(
            organization=world.org, name="群发", kind=CampaignKind.BROADCAST_SINGLE, text="hi",
            coupon_template=template(world.org),
        )  # fmt: skip


def test_a_welcome_template_names_its_coupon_through_the_campaigns_api(world):
    coupon = template(world.org)
    op = world.client_for(world.operator)
    body = {"name": "默认欢迎语", "kind": "welcome_template", "text": "欢迎！", "coupon_template_id": coupon.pk}
    response = op.post("/api/v1/campaigns/", body, content_type="application/json")
    assert response.status_code in (200, 201), response.content
    from campaigns.models import Campaign

    assert Campaign.objects.get().coupon_template == coupon
    outsider_coupon = template(world.other_org)
    response = op.post(
        "/api/v1/campaigns/", {**body, "name": "另一个", "coupon_template_id": outsider_coupon.pk},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400 and Campaign.objects.count() == 1
    page = op.get(f"/campaigns/{Campaign.objects.get().pk}/").content.decode()
    assert 'id="welcome-coupon"' in page and coupon.name in page
    assert 'name="coupon_template_id"' in op.get("/campaigns/new/?kind=welcome_template").content.decode()
