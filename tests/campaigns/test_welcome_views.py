"""Console for welcome templates: the wizard API picks a 渠道活码 (or the default), list and detail show it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from campaigns import services
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from channels.models import ChannelAccount, ContactWay, ContactWayKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(world: Any) -> ChannelAccount:
    return ChannelAccount.objects.create(organization=world.org, platform="wecom", name="企业微信", external_id="ww1")


def way(account: ChannelAccount, name: str, store: Any = None, kind: str = ContactWayKind.CONTACT) -> ContactWay:
    return ContactWay.objects.create(
        organization=account.organization, account=account, name=name, state=name, store=store, kind=kind
    )


def create(client: Any, **body: Any) -> Any:
    body = {"name": "欢迎语", "kind": "welcome_template", "text": "欢迎光临", **body}
    return client.post(reverse("campaigns:api_create"), body, content_type="application/json")


def test_an_operator_creates_a_template_for_one_code_and_it_is_live_at_once(world, account):
    desk = way(account, "A店收银台", world.store_a)
    r = create(
        world.client_for(world.operator),
        contact_way_id=desk.pk,
        attachments=[{"msgtype": "link", "link": {"title": "礼", "url": "https://x.cn"}}],
    )
    assert r.status_code == 201, r.content
    template = Campaign.objects.get(pk=r.json()["id"])
    assert template.kind == CampaignKind.WELCOME_TEMPLATE and template.status == CampaignStatus.SCHEDULED
    assert template.contact_way_id == desk.pk and template.channel_account_id == account.pk
    assert template.attachments[0]["link"]["url"] == "https://x.cn"


def test_an_operator_creates_the_default_template(world, account):
    r = create(world.client_for(world.operator))
    assert r.status_code == 201, r.content
    assert Campaign.objects.get(pk=r.json()["id"]).contact_way_id is None


def test_a_manager_may_not_set_the_default_nor_use_another_stores_code(world, account):
    own = way(account, "A店", world.store_a)
    other = way(account, "B店", world.store_b)
    client = world.client_for(world.manager)
    refused = create(client)
    assert refused.status_code == 400 and "只有运营可以设置默认欢迎语模板" in refused.json()["detail"]
    foreign = create(client, contact_way_id=other.pk)
    assert foreign.status_code == 400 and "所选渠道活码不存在或无权使用" in foreign.json()["detail"]
    assert create(client, contact_way_id=own.pk).status_code == 201
    assert Campaign.objects.count() == 1


def test_a_group_qr_code_or_another_brands_code_cannot_be_chosen(world, account):
    join = way(account, "群活码", kind=ContactWayKind.JOIN)
    rival_account = ChannelAccount.objects.create(organization=world.other_org, platform="wecom", name="对手")
    rival = way(rival_account, "对手活码")
    client = world.client_for(world.operator)
    for pk in (join.pk, rival.pk):
        r = create(client, contact_way_id=pk)
        assert r.status_code == 400 and "请重新选择" in r.json()["detail"]
    assert not Campaign.objects.exists()


def test_the_preview_of_a_welcome_template_has_no_audience(world, account):
    r = world.client_for(world.operator).post(
        reverse("campaigns:api_preview"), {"kind": "welcome_template"}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["recipients"] == 0


def test_the_wizard_offers_the_brands_channel_codes_and_the_default_to_operators_only(world, account):
    way(account, "A店收银台", world.store_a)
    way(account, "B店橱窗", world.store_b)
    way(account, "群活码一号", kind=ContactWayKind.JOIN)
    url = reverse("campaigns:campaign_new") + "?kind=welcome_template"
    body = world.client_for(world.operator).get(url).content.decode()
    assert "新建欢迎语模板" in body and "默认（所有活码）" in body
    assert "A店收银台" in body and "B店橱窗" in body and "群活码一号" not in body
    manager_body = world.client_for(world.manager).get(url).content.decode()
    assert "A店收银台" in manager_body and "B店橱窗" not in manager_body
    assert "默认（所有活码）</option>" not in manager_body


def test_list_and_detail_show_the_code_and_whether_the_template_is_in_use(world, account):
    desk = way(account, "A店收银台", world.store_a)
    older = services.campaign_submit(
        campaign=services.campaign_create(
            organization=world.org, name="旧欢迎语", kind=CampaignKind.WELCOME_TEMPLATE, text="旧", contact_way=desk
        )
    )
    newer = services.campaign_submit(
        campaign=services.campaign_create(
            organization=world.org, name="新欢迎语", kind=CampaignKind.WELCOME_TEMPLATE, text="新", contact_way=desk
        )
    )
    client = world.client_for(world.operator)
    listing = client.get(reverse("campaigns:campaign_list"), {"kind": "welcome_template"}).content.decode()
    assert "旧欢迎语" in listing and "A店收银台" in listing
    in_use = client.get(reverse("campaigns:campaign_detail", args=[newer.pk])).content.decode()
    assert "正在使用" in in_use and "A店收银台" in in_use
    shadowed = client.get(reverse("campaigns:campaign_detail", args=[older.pk])).content.decode()
    assert "未在使用" in shadowed and "新欢迎语" in shadowed
    # Pausing the newer one from the detail page hands the code back to the older one.
    r = client.post(reverse("campaigns:campaign_action", args=[newer.pk, "pause"]))
    assert r.status_code == 302
    assert Campaign.objects.get(pk=newer.pk).status == CampaignStatus.PAUSED
    assert "正在使用" in client.get(reverse("campaigns:campaign_detail", args=[older.pk])).content.decode()
    assert (
        world.client_for(world.outsider).get(reverse("campaigns:campaign_detail", args=[older.pk])).status_code == 404
    )


def test_the_wizard_strings_are_translated_with_the_language_cookie(world, account):
    client = world.client_for(world.operator)
    url = reverse("campaigns:campaign_new")

    def strings(body: str) -> dict[str, str]:
        start = body.index('<script id="wizard-strings" type="application/json">') + len(
            '<script id="wizard-strings" type="application/json">'
        )
        return json.loads(body[start : body.index("</script>", start)])

    zh = strings(client.get(url).content.decode())
    assert zh["image"] == "图片" and zh["counting"] == "计算中…"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    en = strings(client.get(url).content.decode())
    # Msgids already in the English catalogue come out in English; the keys are the same.
    assert en["image"] == "Image" and en["counting"] == "Counting…" and en["link"] == "Link"
    assert en.keys() == zh.keys()
