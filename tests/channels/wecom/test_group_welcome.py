"""入群欢迎语 templates pushed to the WeCom sandbox: add, edit, get, del, refusals, and the console pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from channels.errors import PlatformError
from channels.materials import material_create, material_delete
from channels.models import GroupWelcomeTemplate, PushState
from channels.wecom.client import WeComClient
from channels.wecom.group_welcome import group_welcome_delete, group_welcome_save

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def account(wecom_sandbox: Any, world: Any) -> Any:
    return wecom_sandbox.connect(world.org)


def _templates(sandbox: Any) -> dict[str, Any]:
    return sandbox.snapshot()["group_welcome_templates"]


def test_a_template_with_an_image_is_pushed_edited_and_deleted(world, account, wecom_sandbox):
    poster = material_create(organization=world.org, kind="image", name="入群礼.png", data=PNG).material
    template = group_welcome_save(
        organization=world.org, account=account, name="新群欢迎", text="欢迎 %NICKNAME%", kind="image", material=poster
    )
    assert template.push_state == PushState.OK and template.template_id
    held = _templates(wecom_sandbox)[template.template_id]
    assert held["text"] == {"content": "欢迎 %NICKNAME%"}
    assert wecom_sandbox.snapshot()["media"][held["image"]["media_id"]]["purpose"] == "message"
    # The library refuses to delete what a template uses.
    with pytest.raises(ValidationError, match="入群欢迎语「新群欢迎」"):
        material_delete(material=poster)

    template = group_welcome_save(
        organization=world.org,
        account=account,
        name="新群欢迎",
        text="欢迎入群",
        kind="link",
        attachment={"title": "新人礼", "url": "https://shop.example.com/gift"},
        template=template,
    )
    got = WeComClient.for_account(account).group_welcome_get(template.template_id)
    assert got["text"] == {"content": "欢迎入群"} and got["link"]["title"] == "新人礼" and "image" not in got
    assert template.material_id is None
    material_delete(material=poster)  # no longer used

    group_welcome_delete(template=template)
    assert _templates(wecom_sandbox) == {} and not GroupWelcomeTemplate.objects.exists()


def test_bad_input_is_refused_before_anything_is_written(world, account, wecom_sandbox):
    def refused(**kw: Any) -> dict[str, list[str]]:
        with pytest.raises(ValidationError) as err:
            group_welcome_save(organization=world.org, account=account, **{"name": "x", **kw})
        return err.value.message_dict

    assert "text" in refused(text="")
    assert "text" in refused(text="字" * 1001)
    assert "material" in refused(text="t", kind="image")
    theirs = material_create(organization=world.other_org, kind="image", name="a.png", data=PNG).material
    assert "material" in refused(text="t", kind="image", material=theirs)
    errors = refused(kind="miniprogram", attachment={"title": "长" * 30})
    assert {"material", "mini_title", "mini_appid", "mini_page"} <= set(errors)
    assert {"link_title", "link_url"} <= set(refused(kind="link", attachment={"url": "ftp://x"}))
    assert "kind" in refused(text="t", kind="video")
    assert not GroupWelcomeTemplate.objects.exists() and _templates(wecom_sandbox) == {}


def test_a_refused_push_keeps_the_row_and_says_why(world, account, wecom_sandbox):
    wecom_sandbox.inject_error("externalcontact/group_welcome_template/add", 40058)
    template = group_welcome_save(organization=world.org, account=account, name="新群欢迎", text="欢迎")
    assert template.push_state == PushState.FAILED and template.push_error.startswith("40058")
    assert not template.template_id and _templates(wecom_sandbox) == {}
    # Saved again: pushed now.
    template = group_welcome_save(
        organization=world.org, account=account, name="新群欢迎", text="欢迎", template=template
    )
    assert template.push_state == PushState.OK and template.template_id in _templates(wecom_sandbox)


def test_the_sandbox_refuses_like_wecom(account, wecom_sandbox):
    client = WeComClient.for_account(account)
    with pytest.raises(PlatformError) as err:
        client.group_welcome_add({"image": {"media_id": "https://shop.example.com/a.png"}})
    assert err.value.code == 40007
    with pytest.raises(PlatformError) as err:
        client.group_welcome_add({})
    assert err.value.code == 40058
    with pytest.raises(PlatformError) as err:
        client.group_welcome_del("no-such-template")
    assert err.value.code == 40058
    for i in range(100):
        client.group_welcome_add({"text": {"content": f"欢迎 {i}"}})
    with pytest.raises(PlatformError) as err:
        client.group_welcome_add({"text": {"content": "第 101 条"}})
    assert err.value.code == 40058


def test_console_pages_create_and_list(world, account, wecom_sandbox):
    poster = material_create(organization=world.org, kind="image", name="入群礼.png", data=PNG).material
    client = Client()
    client.force_login(world.operator.user)
    assert client.get("/channels/group-welcome/new/").status_code == 200
    bad = client.post("/channels/group-welcome/new/", {"name": "x", "account": account.pk, "kind": "image"})
    assert bad.status_code == 400 and "请从素材库选择一张图片" in bad.content.decode()
    ok = client.post(
        "/channels/group-welcome/new/",
        {"name": "新群欢迎", "account": account.pk, "text": "欢迎入群", "kind": "image", "material": poster.pk},
    )
    assert ok.status_code == 302
    template = GroupWelcomeTemplate.objects.get()
    assert template.template_id in _templates(wecom_sandbox)
    listing = client.get("/channels/group-welcome/").content.decode()
    assert "新群欢迎" in listing and "已同步" in listing
    # Another brand's operator cannot open it.
    other = Client()
    other.force_login(world.outsider.user)
    assert other.get(f"/channels/group-welcome/{template.pk}/").status_code == 404
    assert other.post(f"/channels/group-welcome/{template.pk}/delete/").status_code == 404
    assert client.post(f"/channels/group-welcome/{template.pk}/delete/").status_code == 302
    assert not GroupWelcomeTemplate.objects.exists() and _templates(wecom_sandbox) == {}
