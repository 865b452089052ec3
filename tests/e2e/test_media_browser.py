"""Browser: an operator uploads an image to the 素材库, posts it to Moments, and sees likes and comments."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from campaigns import dispatcher, services
from campaigns.models import Campaign, CampaignKind
from channels.models import Material
from tests.campaigns.conftest import sandbox_brand
from tests.campaigns.factories import policy
from tests.e2e.conftest import screenshot
from tests.sandbox_fixtures import wecom_sandbox  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.e2e


def _png(width: int = 48, height: int = 32) -> bytes:
    """A real (decodable) PNG, so the previews show an image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes((7, 193, 96)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = _png()


def test_upload_an_image_post_it_to_moments_and_see_likes_and_comments(
    world: Any,
    login_page: Any,
    wecom_sandbox: Any,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    brand = sandbox_brand(wecom_sandbox, world.org, n_customers=3, n_staff=1)
    policy(world.org, quiet_start=time(0), quiet_end=time(0), approval_threshold=1000)
    poster = tmp_path / "新品海报.png"
    poster.write_bytes(PNG)
    page = login_page(world.operator)

    # 1. The material library: upload, then the card with its preview.
    page.goto("/channels/materials/")
    page.locator("#material-upload [name=kind]").select_option("image")
    page.locator("#material-upload [name=name]").fill("新品海报")
    page.locator("#material-upload [name=file]").set_input_files(str(poster))
    page.get_by_role("button", name="上传", exact=True).click()
    page.wait_for_url(re.compile(r".*/channels/materials/\?kind=image$"))
    material = Material.objects.get(organization=world.org)
    card = page.locator(f'[data-material="{material.pk}"]')
    assert "新品海报" in card.inner_text()
    card.locator("img").evaluate("img => img.decode()")
    assert card.locator("img").evaluate("img => img.naturalWidth") == 48
    screenshot(page, "material-library")
    # A bad file is refused with the reason, nothing stored.
    bad = tmp_path / "海报.gif"
    bad.write_bytes(b"GIF89a" + b"\x00" * 64)
    page.locator("#material-upload [name=kind]").select_option("image")
    page.locator("#material-upload [name=file]").set_input_files(str(bad))
    page.get_by_role("button", name="上传", exact=True).click()
    assert "图片只支持 JPG 或 PNG 格式" in page.locator("#material-upload").inner_text()
    assert Material.objects.count() == 1

    # 2. The Moments wizard: the image is picked from the library, not typed as a URL.
    page.goto("/campaigns/new/?kind=moment")
    page.locator("[name=name]").fill("新品朋友圈")
    page.get_by_role("button", name="下一步：内容").click()
    page.locator("[name=text]").fill("新品上市，欢迎到店试用")
    page.locator('[data-add="image"]').click()
    page.locator('#atts select[data-k="material_id"]').select_option(str(material.pk))
    assert page.locator("#phone img").count() == 1
    page.get_by_role("button", name="下一步：排期").click()
    page.get_by_role("button", name="下一步：确认").click()
    page.locator("#review-count").wait_for()
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+/$"))
    campaign = Campaign.objects.get(name="新品朋友圈")
    assert campaign.kind == CampaignKind.MOMENT
    assert campaign.attachments == [{"msgtype": "image", "image": {"material_id": material.pk}}]

    # 3. Beat starts it, the dispatcher posts it (the image uploaded with upload_attachment), the result
    #    task finds the post; customers like and comment; the next result task collects them.
    services.campaigns_due_tick()
    assert dispatcher.moment_dispatch(campaign_id=campaign.pk) == "created"
    job = next(iter(wecom_sandbox.snapshot()["moments"].values()))
    assert wecom_sandbox.snapshot()["media"][job["attachments"][0]["image"]["media_id"]]["purpose"] == "moment"
    dispatcher.track_tick()
    dispatcher.track_tick()
    userid = brand.staff[0].wecom_userid
    first, second, _third = brand.customers
    wecom_sandbox.moment_interact(userid, brand.ext(first), like=True, comment=True)
    wecom_sandbox.moment_interact(userid, brand.ext(second), like=True)
    dispatcher.track_tick(now=timezone.now() + timedelta(minutes=11))  # interactions are asked every 10 min

    page.goto(f"/campaigns/{campaign.pk}/")
    box = page.locator("#moment-interactions")
    assert box.locator('[data-testid="moment-likes"]').inner_text() == "2"
    assert box.locator('[data-testid="moment-comments"]').inner_text() == "1"
    assert first.name in box.inner_text() and brand.staff[0].name in box.inner_text()
    page.locator(".phone img").evaluate("img => img.decode()")
    assert page.locator(".phone img").evaluate("img => img.naturalWidth") == 48  # the post's image, from the library
    screenshot(page, "moment-interactions")
