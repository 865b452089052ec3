"""The demo brand's channels (``manage.py demo_load`` calls :func:`load`): WeCom (``channels/wecom/demo.py``),
then the lead sources (:func:`load_lead_sources`).

Then the lead pool (:func:`load_lead_pool`).

The lead sources: connects the demo brand to the sandbox's Ocean Engine, Douyin, 视频号/微信小店 and Meituan fakes
(well-known sandbox credentials from ``channels/sandbox/*``, API base ``SCRM_SANDBOX_URL``), creates
two H5 lead forms, and fills a month of history through the real services: ad leads (most with a
phone → customers with the ad as first touch), form leads with consent, and Meituan redemptions
that became orders. Seeded by ``rng``: the same seed gives the same demo.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.utils import timezone

from channels.forms.services import form_submit
from channels.leads.events import LeadEvent
from channels.leads.pool import (
    BEIJING,
    RuleInput,
    lead_pool_assign_rule,
    lead_pool_convert,
    lead_pool_fill,
    lead_pool_rule_save,
)
from channels.leads.services import lead_ingest
from channels.meituan.adapter import ConsumedVoucher
from channels.meituan.services import redemption_finish
from channels.models import (
    AssignmentStatus,
    ChannelAccount,
    ChannelPlatform,
    LeadAssignment,
    LeadForm,
    LeadSource,
    MeituanRedemption,
    RedemptionOrigin,
)
from channels.sandbox.douyin import (
    DEMO_ACCESS_TOKEN,
    DEMO_ADS,
    DEMO_ADVERTISER_ID,
    DEMO_CLIENT_SECRET,
    DEMO_LOCAL_ACCOUNT_ID,
)
from channels.sandbox.meituan import DEMO_SHOPS, MeituanFake, demo_token
from channels.sandbox.video import DEMO_APPID, DEMO_SECRET
from channels.wecom import demo as wecom_demo
from contacts.access import actor_for_user
from contacts.services import follow_upsert

SANDBOX_URL = os.environ.get("SCRM_SANDBOX_URL", "http://127.0.0.1:8001").rstrip("/")
DEMO_SHOP_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEALS = [("双人下午茶套餐", "88.00"), ("单人精致午餐", "58.00"), ("周末亲子套餐", "168.00")]


def _account(org: Any, platform: str, name: str, external_id: str, credentials: dict[str, Any], **extra: Any) -> Any:
    account = ChannelAccount(
        organization=org, platform=platform, name=name, external_id=external_id, api_base=SANDBOX_URL, **extra
    )
    account.set_credentials(credentials)
    account.save()
    return account


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10**7, 10**8 - 1)}"


def load(*, context: dict[str, Any], rng: random.Random) -> None:
    wecom_demo.load(context=context, rng=rng)
    load_lead_sources(context=context, rng=rng)
    load_lead_pool(context=context, rng=rng)


def _at(moment: dt.datetime) -> dt.datetime:
    return moment


def load_lead_pool(*, context: dict[str, Any], rng: random.Random) -> dict[str, int]:
    """公海: a rule per store (its members in rotation, the last one a backup; the first store also takes
    imported customers), the leads and Meituan buyers above put into the pool, three working days of
    assignments on an injected clock, and about half of them added on WeCom (converted, with their
    time-to-add) — so 渠道 › 线索公海 shows waiting, assigned and converted people and the figures."""
    org = context["organization"]
    operator = (context.get("logins") or {}).get("operator")
    if operator is None or operator.user is None:
        return {"rules": 0, "assigned": 0, "converted": 0}
    actor = actor_for_user(operator.user)
    if actor is None:
        return {"rules": 0, "assigned": 0, "converted": 0}
    staff_by_store: dict[int, list[Any]] = {}
    for member in context.get("staff", []):
        if member.store_id and member.wecom_userid:
            staff_by_store.setdefault(member.store_id, []).append(member)
    rules = []
    for i, store in enumerate(context["stores"]):
        members = staff_by_store.get(store.pk, [])
        if not members:
            continue
        rotation, backups = (members[:-1], members[-1:]) if len(members) > 2 else (members, [])
        data = RuleInput(
            store_id=store.pk,
            is_active=True,
            daily_cap=3,
            work_start=dt.time(9),
            work_end=dt.time(21),
            work_days=[1, 2, 3, 4, 5, 6, 7],
            return_days=3,
            member_ids=[m.pk for m in rotation],
            backup_ids=[m.pk for m in backups],
            import_enters_pool=i == 0,
        )
        rules.append(lead_pool_rule_save(actor=actor, data=data))
    now = timezone.now()
    lead_pool_fill(now=now - timedelta(days=3, hours=2))
    assigned = 0
    for days_ago in (3, 2, 1):
        # 10:00 Beijing time on each of the last three days (inside the rules' hours).
        day = (now - timedelta(days=days_ago)).astimezone(BEIJING)
        moment = day.replace(hour=10, minute=rng.randint(0, 30), second=0, microsecond=0)
        assigned += sum(lead_pool_assign_rule(rule_id=r.pk, now=moment) for r in rules)
    converted = 0
    for assignment in LeadAssignment.objects.filter(organization=org, status=AssignmentStatus.OPEN).select_related(
        "entry__customer", "staff"
    ):
        if rng.random() < 0.5:
            continue
        added_at = assignment.assigned_at + timedelta(minutes=rng.randint(8, 60 * 20))
        follow_upsert(customer=assignment.entry.customer, staff=assignment.staff, added_at=added_at)
        if lead_pool_convert(customer_id=assignment.entry.customer_id, clock=partial(_at, added_at)):
            converted += 1
    return {"rules": len(rules), "assigned": assigned, "converted": converted}


def load_lead_sources(*, context: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    org = context["organization"]
    stores = list(context["stores"])
    by_code = {s.code: s for s in stores}
    now = timezone.now()

    ocean = _account(
        org,
        ChannelPlatform.OCEAN_ENGINE,
        "巨量引擎（沙箱）",
        str(DEMO_ADVERTISER_ID),
        {"access_token": DEMO_ACCESS_TOKEN},
        settings={"advertiser_ids": [DEMO_ADVERTISER_ID], "local_account_ids": [DEMO_LOCAL_ACCOUNT_ID]},
        default_store=stores[0],
    )
    _account(
        org,
        ChannelPlatform.DOUYIN,
        "抖音企业号（沙箱）",
        "awsandboxclientkey",
        {"client_secret": DEMO_CLIENT_SECRET},
        default_store=stores[0],
    )
    _account(org, ChannelPlatform.VIDEO, "视频号（沙箱）", DEMO_APPID, {"secret": DEMO_SECRET}, default_store=stores[0])
    _account(
        org,
        ChannelPlatform.WECHAT_SHOP,
        "微信小店（沙箱）",
        DEMO_APPID,
        {"secret": DEMO_SECRET, "token": "shopDemoToken", "aes_key": DEMO_SHOP_AES_KEY},
    )
    meituan = {
        code: _account(
            org,
            ChannelPlatform.MEITUAN,
            f"美团 · {by_code[code].name}（沙箱）",
            code,
            {
                "developer_id": MeituanFake.developer_id,
                "sign_key": MeituanFake.sign_key,
                "app_auth_token": demo_token(code),
            },
            default_store=by_code[code],
        )
        for code in DEMO_SHOPS
        if code in by_code
    }

    forms = [
        LeadForm.objects.create(
            organization=org,
            slug="demo-try",
            title="到店体验礼 · 免费领取",
            store=stores[0],
            intro="留下手机号，领取门店体验礼一份，顾问将与您预约到店时间。",
            success_text="领取成功！添加顾问企业微信，到店出示即可。",
        ),
        LeadForm.objects.create(
            organization=org,
            slug="demo-vip",
            title="会员日预约",
            store=stores[1],
            intro="会员日专属折扣，预约后到店享受。",
        ),
    ]

    # A month of Ocean Engine ad leads, deduped and attributed exactly as the live pull does it.
    ad_leads = 0
    for i in range(140):
        ad = DEMO_ADS[rng.randrange(len(DEMO_ADS))]
        at = now - timedelta(days=rng.uniform(0.2, 30))
        has_phone = rng.random() < 0.75
        lead_ingest(
            organization=org,
            account=ocean,
            event=LeadEvent(
                source=LeadSource.OCEAN_ENGINE,
                external_id=f"demo-{7_000_000_000_000 + i}",
                occurred_at=at,
                name=rng.choice(["王女士", "李先生", "张女士", "刘先生", "陈小姐", "杨女士"]),
                phone=_phone(rng) if has_phone else "",
                platform_account=str(DEMO_ADVERTISER_ID),
                ad={
                    "advertiser_id": DEMO_ADVERTISER_ID,
                    "ad_id": ad["ad_id"],
                    "ad_name": ad["ad_name"],
                    "promotion_id": ad["promotion_id"],
                    "promotion_name": ad["campaign_name"],
                },
                fields={
                    "intention_estimation": rng.choice(["高意向", "中意向", "低意向"]),
                    "app_name": "抖音",
                    "convert_status": "待跟进",
                    "remark_dict": {"意向门店": rng.choice(stores).name},
                },
            ),
            store=rng.choice(stores[:4]),
        )
        ad_leads += 1

    for i in range(30):
        form = forms[i % len(forms)]
        form_submit(form=form, name=rng.choice(["周女士", "吴先生", "郑小姐"]), phone=_phone(rng), consent=True)

    # Meituan redemptions of the last weeks (their vouchers live only in our history, not in the fake).
    redemptions = 0
    staff_by_store: dict[int, list[Any]] = {}
    for member in context.get("staff", []):
        if member.store_id:
            staff_by_store.setdefault(member.store_id, []).append(member)
    # Most clerks ask for the phone at redemption, which links the voucher to the known customer.
    phones_by_store: dict[int, list[str]] = {}
    for customer in context.get("customers", []):
        if customer.home_store_id and customer.phone_encrypted:
            phones_by_store.setdefault(customer.home_store_id, []).append(customer.phone)
    for code, account in meituan.items():
        store = by_code[code]
        for n in range(rng.randint(12, 20)):
            title, price = DEALS[rng.randrange(len(DEALS))]
            count = 2 if rng.random() < 0.15 else 1
            staff = rng.choice(staff_by_store.get(store.pk) or [None])
            receipt = f"9{rng.randint(10**10, 10**11 - 1)}"
            redemption = MeituanRedemption.objects.create(
                organization=org,
                account=account,
                store=store,
                staff=staff,
                request_id=uuid.uuid4().hex,
                origin=RedemptionOrigin.STAFF_PAGE if staff else RedemptionOrigin.HISTORY,
                receipt_code=receipt,
                count=count,
            )
            redemption_finish(
                redemption_id=redemption.pk,
                consumed=ConsumedVoucher(
                    receipt_code=receipt,
                    order_id=f"demo-{code}-{n}",
                    deal_id=f"60{n:04d}",
                    deal_title=title,
                    amount=Decimal(price) * count,
                    count=count,
                    mobile_masked=f"1{rng.randint(30, 99)}****{rng.randint(1000, 9999)}",
                    consumed_at=now - timedelta(days=rng.uniform(0.5, 28)),
                ),
                phone=rng.choice(phones_by_store[store.pk])
                if phones_by_store.get(store.pk) and rng.random() < 0.7
                else "",
            )
            redemptions += 1
    return {"lead_forms": forms, "ad_leads": ad_leads, "redemptions": redemptions}
