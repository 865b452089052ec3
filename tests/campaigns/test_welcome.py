"""Welcome-message templates (欢迎语模板): per 渠道活码 or default, sent by channels through a registered provider."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from campaigns.welcome import welcome_provider
from channels import registry
from channels.materials import material_create
from channels.models import ChannelAccount, ContactWay, InboxEvent, InboxStatus
from channels.wecom import services as wecom
from channels.wecom.adapter import ContactEvent
from channels.wecom.client import WeComClient
from channels.wecom.contact_ways import contact_way_save
from contacts.models import Customer, TimelineEvent
from tests.factories import CustomerFactory, StaffFactory

LINK = {"msgtype": "link", "link": {"title": "新人礼领取", "url": "https://shop.example.com/gift"}}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def image_att(org: Any) -> dict[str, Any]:
    """An image attachment from the material library (WeCom takes media ids, not URLs)."""
    material = material_create(organization=org, kind="image", name="新人礼.png", data=PNG).material
    return {"msgtype": "image", "image": {"material_id": material.pk}}


def mini_att(org: Any) -> dict[str, Any]:
    cover = material_create(organization=org, kind="image", name="会员中心封面.png", data=PNG + b"cover").material
    return {
        "msgtype": "miniprogram",
        "miniprogram": {
            "title": "会员中心",
            "appid": "wx1234",
            "page": "pages/member/index",
            "pic_material_id": cover.pk,
        },
    }


def assert_uploaded(sandbox: Any, media_id: str) -> None:
    """``media_id`` is one the sandbox issued through media/upload for an image."""
    entry = sandbox.snapshot()["media"][media_id]
    assert entry["purpose"] == "message" and entry["type"] == "image"


def welcome_template(org: Any, *, text: str, way: ContactWay | None = None, attachments: Any = None) -> Campaign:
    """Created and submitted through the services, as the wizard does."""
    template = services.campaign_create(
        organization=org,
        name=f"欢迎语·{way.name if way else '默认'}",
        kind=CampaignKind.WELCOME_TEMPLATE,
        text=text,
        attachments=attachments or [],
        contact_way=way,
    )
    return services.campaign_submit(campaign=template)


# -- end to end: scan → sandbox callback → webhook → Celery worker → send_welcome_msg on the sandbox ---------
@pytest.mark.slow
def test_a_scan_of_a_channel_code_ends_with_the_templates_text_and_attachments_on_the_sandbox(
    transactional_db: Any, live_server: Any, wecom_sandbox: Any, world: Any, celery_worker: Any
) -> None:
    wecom_sandbox.add_member("guide_a", "导购A")
    account = wecom_sandbox.connect(world.org, callback_base=live_server.url)
    account.settings = {"welcome_text": "账号默认欢迎语"}
    account.save(update_fields=["settings"])
    guide = StaffFactory(organization=world.org, store=world.store_a, wecom_userid="guide_a", name="导购A")
    way = contact_way_save(
        account=account, name="A店收银台", state="store_a_desk", channel="wecom", store=world.store_a,
        staff=[guide], tags=[], welcome_text="活码自带欢迎语",
    )  # fmt: skip
    template = welcome_template(
        world.org,
        text="欢迎来到A店！点击领取新人礼",
        way=way,
        attachments=[LINK, image_att(world.org), mini_att(world.org)],
    )
    welcome_template(world.org, text="默认模板欢迎语")
    assert template.status == CampaignStatus.SCHEDULED and template.channel_account_id == account.pk

    scanned = wecom_sandbox.scan(state="store_a_desk", name="扫码新客")

    celery_worker.wait_for(lambda: InboxEvent.objects.filter(status=InboxStatus.DONE).exists(), timeout=30)
    event = InboxEvent.objects.get()
    assert event.error == "welcome sent"
    welcomes = wecom_sandbox.welcomes()
    assert len(welcomes) == 1
    assert welcomes[0]["external_userid"] == scanned["external_userid"]
    assert welcomes[0]["text"] == "欢迎来到A店！点击领取新人礼"
    link, image, mini = welcomes[0]["attachments"]
    assert link == LINK
    assert_uploaded(wecom_sandbox, image["image"]["media_id"])
    assert mini["miniprogram"]["title"] == "会员中心" and mini["miniprogram"]["appid"] == "wx1234"
    assert_uploaded(wecom_sandbox, mini["miniprogram"]["pic_media_id"])
    customer = Customer.objects.get(name="扫码新客")
    assert TimelineEvent.objects.filter(customer=customer, kind="welcomed").exists()


# -- precedence, against the sandbox without a worker -----------------------------------------------
@pytest.fixture
def brand(db: Any, wecom_sandbox: Any, world: Any) -> Any:
    wecom_sandbox.add_member("guide_a", "导购A")
    account = wecom_sandbox.connect(world.org)
    account.settings = {"welcome_text": "账号默认欢迎语"}
    account.save(update_fields=["settings"])
    return account


def way_for(account: Any, state: str, welcome_text: str = "") -> ContactWay:
    return ContactWay.objects.create(
        organization=account.organization, account=account, name=f"活码{state}", state=state, welcome_text=welcome_text
    )


def scan_and_welcome(sandbox: Any, account: Any, state: str) -> dict[str, Any] | None:
    """A customer adds guide_a through ``state``; the handler sends the welcome. Returns what WeCom got."""
    scanned = sandbox.scan(state=state, userid="guide_a")
    before = len(sandbox.welcomes())
    event = ContactEvent(
        change_type="add_external_contact",
        userid="guide_a",
        external_userid=scanned["external_userid"],
        occurred_at=timezone.now(),
        state=state,
        welcome_code=scanned["welcome_code"],
    )
    note = wecom.send_welcome(account, WeComClient.for_account(account), event, event.occurred_at)
    welcomes = sandbox.welcomes()
    if len(welcomes) == before:
        assert note != "welcome sent"
        return None
    assert note == "welcome sent"
    return welcomes[-1]


def test_the_template_for_the_code_beats_the_codes_own_text_and_the_defaults(brand, wecom_sandbox, world):
    way = way_for(brand, "desk", welcome_text="活码自带欢迎语")
    welcome_template(world.org, text="默认模板")
    welcome_template(world.org, text="活码模板", way=way, attachments=[LINK])
    sent = scan_and_welcome(wecom_sandbox, brand, "desk")
    assert sent is not None and sent["text"] == "活码模板" and sent["attachments"] == [LINK]


def test_the_codes_own_text_beats_the_default_template(brand, wecom_sandbox, world):
    way_for(brand, "desk", welcome_text="活码自带欢迎语")
    welcome_template(world.org, text="默认模板", attachments=[image_att(world.org)])
    sent = scan_and_welcome(wecom_sandbox, brand, "desk")
    assert sent is not None and sent["text"] == "活码自带欢迎语" and sent["attachments"] == []


def test_the_default_template_beats_the_account_text_for_a_code_without_its_own(brand, wecom_sandbox, world):
    way_for(brand, "desk")
    welcome_template(world.org, text="默认模板", attachments=[image_att(world.org)])
    sent = scan_and_welcome(wecom_sandbox, brand, "desk")
    assert sent is not None and sent["text"] == "默认模板"
    [image] = sent["attachments"]
    assert_uploaded(wecom_sandbox, image["image"]["media_id"])
    # A scan without any 活码 (no state) gets the default template too.
    scanned = wecom_sandbox.scan(userid="guide_a")
    event = ContactEvent(
        "add_external_contact", "guide_a", scanned["external_userid"], timezone.now(), "", scanned["welcome_code"]
    )
    assert wecom.send_welcome(brand, WeComClient.for_account(brand), event, event.occurred_at) == "welcome sent"
    assert wecom_sandbox.welcomes()[-1]["text"] == "默认模板"


def test_without_templates_the_account_text_is_sent(brand, wecom_sandbox, world):
    way_for(brand, "desk")
    sent = scan_and_welcome(wecom_sandbox, brand, "desk")
    assert sent is not None and sent["text"] == "账号默认欢迎语"


def test_a_paused_template_is_not_used(brand, wecom_sandbox, world):
    way = way_for(brand, "desk", welcome_text="活码自带欢迎语")
    template = welcome_template(world.org, text="活码模板", way=way)
    services.campaign_pause(campaign=template)
    assert scan_and_welcome(wecom_sandbox, brand, "desk")["text"] == "活码自带欢迎语"  # type: ignore[index]
    services.campaign_resume(campaign=template)
    assert Campaign.objects.get(pk=template.pk).status == CampaignStatus.SCHEDULED
    assert scan_and_welcome(wecom_sandbox, brand, "desk")["text"] == "活码模板"  # type: ignore[index]


def test_draft_and_cancelled_templates_are_not_used(brand, wecom_sandbox, world):
    way = way_for(brand, "desk")
    services.campaign_create(
        organization=world.org, name="草稿", kind=CampaignKind.WELCOME_TEMPLATE, text="草稿模板", contact_way=way
    )
    cancelled = welcome_template(world.org, text="已取消模板", way=way)
    services.campaign_cancel(campaign=cancelled)
    default_paused = welcome_template(world.org, text="暂停的默认模板")
    services.campaign_pause(campaign=default_paused)
    assert scan_and_welcome(wecom_sandbox, brand, "desk")["text"] == "账号默认欢迎语"  # type: ignore[index]


def test_the_newest_live_template_wins(brand, wecom_sandbox, world):
    way = way_for(brand, "desk")
    welcome_template(world.org, text="旧模板", way=way)
    welcome_template(world.org, text="新模板", way=way)
    assert scan_and_welcome(wecom_sandbox, brand, "desk")["text"] == "新模板"  # type: ignore[index]


def test_templates_of_other_codes_accounts_and_brands_are_not_used(brand, wecom_sandbox, world):
    way_for(brand, "desk")
    other_way = way_for(brand, "window")
    welcome_template(world.org, text="另一个活码的模板", way=other_way)
    welcome_template(world.other_org, text="对手品牌默认模板")
    # A default template bound to another WeCom account of the same brand.
    other_account = ChannelAccount.objects.create(
        organization=world.org, platform="wecom", name="另一企业", external_id="wwother"
    )
    elsewhere = services.campaign_create(
        organization=world.org,
        name="另一账号默认",
        kind=CampaignKind.WELCOME_TEMPLATE,
        text="另一账号的默认模板",
        channel_account_id=other_account.pk,
    )
    services.campaign_submit(campaign=elsewhere)
    assert scan_and_welcome(wecom_sandbox, brand, "desk")["text"] == "账号默认欢迎语"  # type: ignore[index]


def test_an_opted_out_customer_who_adds_again_is_still_welcomed(brand, wecom_sandbox, world):
    """A welcome is a service reply to someone who just added us, not marketing: consent is not checked."""
    way = way_for(brand, "desk")
    welcome_template(world.org, text="活码模板", way=way)
    CustomerFactory(organization=world.org, name="退订老客", marketing_consent=False, opted_out_at=timezone.now())
    assert scan_and_welcome(wecom_sandbox, brand, "desk")["text"] == "活码模板"  # type: ignore[index]


def test_nothing_to_say_sends_nothing(brand, wecom_sandbox, world):
    brand.settings = {}
    brand.save(update_fields=["settings"])
    way_for(brand, "desk")
    assert scan_and_welcome(wecom_sandbox, brand, "desk") is None


def test_a_failing_provider_falls_back_to_the_next_source(brand, wecom_sandbox, world):
    way_for(brand, "desk", welcome_text="活码自带欢迎语")

    def broken(*, account: Any, contact_way: Any) -> None:
        raise RuntimeError("template store unavailable")

    registry.unregister_welcome_provider(welcome_provider)
    registry.register_welcome_provider(broken)
    try:
        assert scan_and_welcome(wecom_sandbox, brand, "desk")["text"] == "活码自带欢迎语"  # type: ignore[index]
    finally:
        registry.unregister_welcome_provider(broken)
        registry.register_welcome_provider(welcome_provider)


def test_campaigns_registers_its_provider_at_startup() -> None:
    assert welcome_provider in registry._WELCOME_PROVIDERS


# -- creation rules --------------------------------------------------------------------------------
def test_only_a_welcome_template_may_name_a_contact_way(brand, world):
    from django.core.exceptions import ValidationError

    way = way_for(brand, "desk")
    with pytest.raises(ValidationError, match="只有欢迎语模板可以指定渠道活码"):
        services.campaign_create(organization=world.org, name="群发", text="hi", contact_way=way)


def test_a_welcome_template_keeps_no_audience_or_schedule(brand, world):
    way = way_for(brand, "desk")
    template = services.campaign_create(
        organization=world.org, name="欢迎", kind=CampaignKind.WELCOME_TEMPLATE, text="你好", contact_way=way,
        holdout_percent=10, due_at=timezone.now(), recurrence="daily",
    )  # fmt: skip
    template.refresh_from_db()
    assert (template.holdout_percent, template.due_at, template.recurrence) == (0, None, "")
    assert template.contact_way_id == way.pk and template.channel_account_id == brand.pk
    # Beat never starts a welcome template.
    services.campaign_submit(campaign=template)
    assert services.campaigns_due_tick() == []
    assert Campaign.objects.get(pk=template.pk).status == CampaignStatus.SCHEDULED


def test_deleting_the_code_deletes_its_template_instead_of_making_it_the_default(brand, wecom_sandbox, world):
    way = way_for(brand, "desk")
    template = welcome_template(world.org, text="活码模板", way=way)
    way.delete()
    assert not Campaign.objects.filter(pk=template.pk).exists()
