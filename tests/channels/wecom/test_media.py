"""Media through the WeCom sandbox: it refuses what WeCom refuses (with WeCom's codes), and the
material library + upload cache give every send a media id WeCom accepts (docs/platforms.md#wecom-media)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from channels import outbound
from channels.errors import PlatformError
from channels.materials import material_create, material_delete
from channels.models import Material, MaterialUpload, MediaPurpose, UploadState
from channels.wecom import media
from channels.wecom.client import WeComClient

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPG = b"\xff\xd8\xff\xe0" + b"\x01" * 200
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x02" * 200
MB = 1024 * 1024


def _uploads(sandbox: Any) -> int:
    return sum(1 for api, _ in list(sandbox.fake.calls) if api in ("media/upload", "media/upload_attachment"))


@pytest.fixture
def setup(wecom_sandbox: Any, world: Any) -> Any:
    account = wecom_sandbox.connect(world.org)
    wecom_sandbox.add_member("zhangsan", "张三")
    ext = wecom_sandbox.seed_customer("zhangsan", name="李四")
    client = WeComClient.for_account(account)
    return account, client, ext


def _code(call: Any) -> int:
    with pytest.raises(PlatformError) as err:
        call()
    return err.value.code


# -- the sandbox refuses like WeCom ------------------------------------------------------------------
def test_upload_refusals_carry_wecom_codes(setup: Any) -> None:
    _account, client, _ext = setup

    def up(kind: str, data: bytes, name: str = "a.bin") -> Any:
        return lambda: client.media_upload(kind=kind, filename=name, content=data, content_type="application/x")

    assert _code(up("picture", PNG)) == 40005  # not a media type
    assert _code(up("image", b"GIF89a" + b"0" * 100, "a.gif")) == 40004  # image must be JPG/PNG
    assert _code(up("video", PNG, "a.mp4")) == 40004  # video must be MP4
    assert _code(up("file", b"12345")) == 40006  # ≤ 5 bytes
    assert _code(up("image", PNG + b"0" * (10 * MB))) == 40009
    assert _code(up("video", MP4 + b"0" * (10 * MB))) == 40011
    assert _code(up("file", b"x" * (20 * MB + 1))) == 40006
    missing = lambda: client.call("POST", "media/upload", params={"type": "image"}, files={"other": ("a", PNG, "x")})  # noqa: E731
    assert _code(missing) == 41005
    bad_use = lambda: client.call(  # noqa: E731
        "POST",
        "media/upload_attachment",
        params={"media_type": "image", "attachment_type": 3},
        files={"media": ("a.png", PNG, "image/png")},
    )
    assert _code(bad_use) == 40058
    ok = client.media_upload(kind="image", filename="a.png", content=PNG, content_type="image/png")
    assert ok["type"] == "image" and ok["media_id"] and int(ok["created_at"]) > 0


def test_urls_unknown_expired_and_wrong_use_media_ids_are_40007(setup: Any, wecom_sandbox: Any) -> None:
    _account, client, ext = setup
    message_id = client.media_upload(kind="image", filename="a.png", content=PNG, content_type="image/png")["media_id"]
    moment_id = client.upload_attachment(kind="image", filename="a.png", content=PNG, content_type="image/png")[
        "media_id"
    ]

    def send(image: dict[str, Any]) -> Any:
        body = {"chat_type": "single", "sender": "zhangsan", "external_userid": [ext]}
        return lambda: client.post(
            "externalcontact/add_msg_template", {**body, "attachments": [{"msgtype": "image", "image": image}]}
        )

    def moment(image: dict[str, Any]) -> Any:
        return lambda: client.post(
            "externalcontact/add_moment_task",
            {
                "attachments": [{"msgtype": "image", "image": image}],
                "visible_range": {"sender_list": {"user_list": ["zhangsan"]}},
            },
        )

    assert _code(send({"media_id": "https://shop.example.com/a.png"})) == 40007  # a URL where a media_id goes
    assert _code(send({"media_id": "no-such-media"})) == 40007
    assert _code(send({"media_id": moment_id})) == 40007  # an upload_attachment id is for Moments only
    assert _code(moment({"media_id": message_id})) == 40007  # Moments need upload_attachment ids
    # The old product path — an arbitrary image URL — is refused; only media/uploadimg links would pass.
    assert _code(send({"pic_url": "https://shop.example.com/a.png"})) == 40058
    assert _code(moment({"pic_url": "https://shop.example.com/a.png"})) == 40007
    wecom_sandbox.expire_media()
    assert _code(send({"media_id": message_id})) == 40007  # older than 3 days
    assert _code(moment({"media_id": moment_id})) == 40007


def test_too_many_attachments_and_recipients(setup: Any) -> None:
    _account, client, ext = setup
    link = {"msgtype": "link", "link": {"title": "t", "url": "https://x.cn"}}
    body = {"chat_type": "single", "sender": "zhangsan", "external_userid": [ext]}
    assert _code(lambda: client.post("externalcontact/add_msg_template", {**body, "attachments": [link] * 10})) == 40058
    many = {"chat_type": "single", "sender": "zhangsan", "external_userid": [f"wm{i}" for i in range(10_001)]}
    assert _code(lambda: client.post("externalcontact/add_msg_template", {**many, "text": {"content": "hi"}})) == 40058
    unknown_msgtype = {"msgtype": "voice", "voice": {"media_id": "x"}}
    assert _code(
        lambda: client.post("externalcontact/add_msg_template", {**body, "attachments": [unknown_msgtype]})
    ) == (40008)
    assert client.post("externalcontact/add_msg_template", {**body, "attachments": [link] * 9})["msgid"]
    # Our own check refuses the 10,001st recipient before WeCom is asked.
    with pytest.raises(ValueError, match="10000"):
        outbound.broadcast_create(
            account_id=setup[0].pk, chat_type="single", sender="zhangsan", external_userids=["x"] * 10_001, text="hi"
        )


# -- the material library -------------------------------------------------------------------------
def test_materials_are_checked_up_front_and_stored_once(world: Any) -> None:
    def refused(kind: str, data: bytes, name: str = "a") -> str:
        with pytest.raises(ValidationError) as err:
            material_create(organization=world.org, kind=kind, name=name, data=data)
        return " ".join(m for ms in err.value.message_dict.values() for m in ms)

    assert "JPG 或 PNG" in refused("image", b"GIF89a" + b"0" * 100)
    assert "MP4" in refused("video", PNG)
    assert "大于 5 字节" in refused("file", b"12345")
    assert "10 MB" in refused("image", PNG + b"0" * (10 * MB))
    assert "20 MB" in refused("file", b"x" * (20 * MB + 1))
    assert "名称" in refused("image", PNG, name=" ")
    assert "类型" in refused("voice", PNG)
    assert not Material.objects.exists()
    first = material_create(organization=world.org, kind="image", name="海报.png", data=PNG)
    again = material_create(organization=world.org, kind="image", name="另一个名字", data=PNG)
    assert first.created and not again.created and again.material.pk == first.material.pk
    assert first.material.content_type == "image/png" and first.material.size == len(PNG)
    other = material_create(organization=world.other_org, kind="image", name="海报.png", data=PNG)
    assert other.created  # stored once per brand, not across brands
    video = material_create(organization=world.org, kind="video", name="店庆.mp4", data=MP4)
    assert video.material.content_type == "video/mp4"
    material_delete(material=video.material)
    assert not Material.objects.filter(pk=video.material.pk).exists()


# -- the upload cache -----------------------------------------------------------------------------
def test_media_ids_are_cached_per_account_and_purpose_and_renewed_after_expiry(setup: Any, wecom_sandbox: Any) -> None:
    account, _client, _ext = setup
    image = material_create(organization=account.organization, kind="image", name="a.png", data=PNG).material
    first = media.media_id_for(account=account, material=image, purpose=MediaPurpose.MESSAGE)
    assert media.media_id_for(account=account, material=image, purpose=MediaPurpose.MESSAGE) == first
    assert _uploads(wecom_sandbox) == 1
    moment = media.media_id_for(account=account, material=image, purpose=MediaPurpose.MOMENT)
    assert moment != first and _uploads(wecom_sandbox) == 2
    assert wecom_sandbox.snapshot()["media"][moment]["purpose"] == "moment"
    row = MaterialUpload.objects.get(material=image, account=account, purpose=MediaPurpose.MESSAGE)
    assert row.state == UploadState.OK and row.uploads == 1
    assert timedelta(days=2, hours=22) < row.expires_at - timezone.now() < timedelta(days=3)
    # Three days on, the cached id has lapsed: the next use uploads again.
    MaterialUpload.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    renewed = media.media_id_for(account=account, material=image, purpose=MediaPurpose.MESSAGE)
    assert renewed != first and _uploads(wecom_sandbox) == 3
    assert MaterialUpload.objects.get(pk=row.pk).uploads == 2


def test_upload_is_recorded_before_the_call(setup: Any, wecom_sandbox: Any) -> None:
    account, _client, _ext = setup
    image = material_create(organization=account.organization, kind="image", name="a.png", data=PNG).material
    wecom_sandbox.inject_error("media/upload", 40009)
    with pytest.raises(PlatformError):
        media.media_id_for(account=account, material=image, purpose=MediaPurpose.MESSAGE)
    row = MaterialUpload.objects.get(material=image, account=account)
    assert row.state == UploadState.FAILED and row.uploads == 1 and row.error.startswith("40009")
    assert media.media_id_for(account=account, material=image, purpose=MediaPurpose.MESSAGE)


def test_broadcast_with_a_material_passes_and_reuploads_when_wecom_forgot_it(setup: Any, wecom_sandbox: Any) -> None:
    account, _client, ext = setup
    image = material_create(organization=account.organization, kind="image", name="a.png", data=PNG).material
    attachments = [{"msgtype": "image", "image": {"material_id": image.pk}}]
    created = outbound.broadcast_create(
        account_id=account.pk, chat_type="single", sender="zhangsan", external_userids=[ext], attachments=attachments
    )
    sent = wecom_sandbox.group_sends()[created.msgid].attachments
    assert sent[0]["image"]["media_id"] in wecom_sandbox.snapshot()["media"]
    # WeCom forgets every id (3 days) while our cache still trusts it: 40007, forget, upload, send once more.
    wecom_sandbox.expire_media()
    again = outbound.broadcast_create(
        account_id=account.pk, chat_type="single", sender="zhangsan", external_userids=[ext], attachments=attachments
    )
    assert again.msgid != created.msgid and _uploads(wecom_sandbox) == 2
    assert wecom_sandbox.group_sends()[again.msgid].attachments[0]["image"]["media_id"] != sent[0]["image"]["media_id"]
    assert len(wecom_sandbox.group_sends()) == 2  # the refused call created nothing


def test_a_material_of_another_brand_is_never_sent(setup: Any, world: Any) -> None:
    account, _client, ext = setup
    theirs = material_create(organization=world.other_org, kind="image", name="a.png", data=JPG).material
    with pytest.raises(PlatformError, match="素材已删除"):
        outbound.broadcast_create(
            account_id=account.pk,
            chat_type="single",
            sender="zhangsan",
            external_userids=[ext],
            attachments=[{"msgtype": "image", "image": {"material_id": theirs.pk}}],
        )
