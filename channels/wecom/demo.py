"""The demo brand's WeCom: an account on the local sandbox, 渠道活码 per source and store (the
flagship's with a weekend schedule), a 获客链接 for Douyin and 小红书 (called from ``channels/demo.py``).

The sandbox (``python -m channels.sandbox --port 8001``, URL in ``SCRM_SANDBOX_URL``) keeps its state
in memory; if it is running now it is seeded right away, otherwise ``manage.py channels_sandbox_seed``
does it after it starts.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from typing import Any

from django.db import transaction

from channels.models import AcquisitionLink, ChannelPlatform, ContactWay, ContactWayKind, ContactWayWindow
from channels.sandbox import defaults
from channels.services import channel_account_connect
from channels.wecom.sandbox_seed import SandboxUnavailable, seed_sandbox
from contacts.models import SourceChannel, Tag

SANDBOX_URL = os.environ.get("SCRM_SANDBOX_URL", "http://127.0.0.1:8001").rstrip("/")
# The states the contacts demo gave its customers' first touch ("<channel>_demo"), plus store codes.
CHANNEL_CODES = [
    (
        "门店收银台 · 通用码",
        "wecom_demo",
        SourceChannel.WECOM,
        ["门店开业"],
        "欢迎加入悦享生活！回复「1」领取新人礼券🎁",
    ),
    (
        "抖音团购 · 核销后加微",
        "douyin_demo",
        SourceChannel.DOUYIN,
        ["抖音团购"],
        "感谢购买抖音团购套餐，到店出示券码即可使用",
    ),
    (
        "美团团购 · 核销后加微",
        "meituan_demo",
        SourceChannel.MEITUAN,
        ["美团团购"],
        "感谢在美团选择我们，下次到店享会员价",
    ),
    ("视频号直播间 · 福利码", "video_demo", SourceChannel.VIDEO, ["直播间"], "直播间专属福利已送达，点击领取"),
    ("H5 表单 · 留资加微", "form_demo", SourceChannel.FORM, [], "您好，我是您的专属顾问，有问题随时找我"),
]


def load(*, context: dict[str, Any], rng: random.Random) -> None:
    org = context["organization"]
    stores = list(context["stores"])
    staff = [s for s in context["staff"] if s.wecom_userid]
    account = channel_account_connect(
        organization=org,
        platform=ChannelPlatform.WECOM,
        name="企业微信（沙箱）",
        external_id=defaults.CORP_ID,
        credentials={"secret": defaults.SECRET, "token": defaults.TOKEN, "aes_key": defaults.AES_KEY},
        agent_id="1000002",
        api_base=SANDBOX_URL,
        default_store=stores[0] if stores else None,
        settings={"welcome_text": "您好，我是悦享生活的专属顾问～"},
    )
    tags = {t.name: t for t in Tag.objects.filter(organization=org)}
    flagship = stores[0] if stores else None
    for name, state, channel, tag_names, welcome in CHANNEL_CODES:
        store_staff = [s for s in staff if flagship and s.store_id == flagship.pk][:2] or staff[:1]
        way = ContactWay.objects.create(
            organization=org, account=account, kind=ContactWayKind.CONTACT, name=name, state=state, channel=channel,
            store=flagship, welcome_text=welcome,
        )  # fmt: skip
        way.staff.set(store_staff)
        way.tags.set([tags[n] for n in tag_names if n in tags])
    for store in stores:
        way = ContactWay.objects.create(
            organization=org, account=account, name=f"{store.name} · 店内海报", state=f"store_{store.code}",
            channel=SourceChannel.WECOM, store=store, welcome_text=f"欢迎光临{store.name}，到店报手机号享会员价",
        )  # fmt: skip
        way.staff.set([s for s in staff if s.store_id == store.pk][:3])
        if store == flagship and way.staff.count() > 1:
            # Weekends: only the last of them receives (the others are off).
            window = ContactWayWindow.objects.create(
                organization=org, way=way, weekdays=[6, 7], start=dt.time(0), end=dt.time(23, 59, 59, 999999)
            )
            window.staff.set(list(way.staff.order_by("-id"))[:1])
    _acquisition_link(org, account, flagship, staff, tags)
    _seed_if_running(account)


def _acquisition_link(org: Any, account: Any, store: Any, staff: list[Any], tags: dict[str, Tag]) -> None:
    """A 获客链接 handed out in the Douyin bio and a 小红书 note (rows only; the sandbox seed pushes it)."""
    link = AcquisitionLink.objects.create(
        organization=org, account=account, name="抖音 / 小红书主页咨询", store=store,
        welcome_text="你好，我是悦享生活的顾问，想了解哪款套餐？",
    )  # fmt: skip
    receivers = [s for s in staff if store and s.store_id == store.pk][:2] or staff[:1]
    link.staff.set(receivers)
    link_tags = [tags[n] for n in ("抖音团购",) if n in tags]
    link.tags.set(link_tags)
    for label, state, channel in (("抖音主页", "ca_douyin_bio", SourceChannel.DOUYIN),
                                  ("小红书笔记", "ca_xhs_note", SourceChannel.OTHER)):  # fmt: skip
        way = ContactWay.objects.create(
            organization=org, account=account, kind=ContactWayKind.LINK, acquisition_link=link, name=label,
            state=state, channel=channel, store=store, welcome_text=link.welcome_text,
        )  # fmt: skip
        way.staff.set(receivers)
        way.tags.set(link_tags)


def _seed_if_running(account: Any) -> None:
    def seed() -> None:
        try:
            seed_sandbox(account=account, timeout=30.0)
        except SandboxUnavailable:
            print("WeCom sandbox not running: start it, then run `manage.py channels_sandbox_seed`")

    transaction.on_commit(seed)
