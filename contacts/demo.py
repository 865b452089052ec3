"""The demo brand's customer base: stores, staff, customers with Chinese names, tags, follows,
groups, notes. Reproducible from a seed; bulk-inserted (a few thousand rows in a second or two)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone

from contacts import crypto
from contacts.models import (
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    CustomerTag,
    Follow,
    Gender,
    Identity,
    Lifecycle,
    MemberType,
    Note,
    Organization,
    Platform,
    Role,
    SourceChannel,
    Staff,
    Store,
    Tag,
    TagChoice,
    TagGroup,
    TagSource,
    TimelineEvent,
    TimelineKind,
)
from contacts.services import customer_tag_ids_rebuild, staff_create

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝丽阳妮宝贝初程梵罡恒鸿桦骅剑娇纪宽苛灵玛媚琪晴容睿烁堂唯威韦雯苇萱阅彦宇雨洋忠宗曼紫逸贤蝶菡绿蓝儿翠烟"
STORES = [
    ("SH001", "上海静安嘉里店", "上海"),
    ("SH002", "上海徐汇日月光店", "上海"),
    ("BJ001", "北京三里屯店", "北京"),
    ("BJ002", "北京国贸店", "北京"),
    ("GZ001", "广州天河城店", "广州"),
    ("SZ001", "深圳万象天地店", "深圳"),
    ("HZ001", "杭州湖滨银泰店", "杭州"),
    ("CD001", "成都太古里店", "成都"),
]
TAG_GROUPS: list[tuple[str, str, list[str]]] = [
    ("客户等级", TagChoice.SINGLE, ["普通会员", "银卡会员", "金卡会员", "黑金会员"]),
    ("兴趣偏好", TagChoice.MULTI, ["护肤", "彩妆", "香氛", "身体护理", "男士", "母婴", "礼盒"]),
    ("消费能力", TagChoice.SINGLE, ["价格敏感", "中等", "高消费"]),
    ("沟通偏好", TagChoice.MULTI, ["喜欢新品", "喜欢优惠", "只看活动", "勿频繁打扰"]),
    ("来源活动", TagChoice.MULTI, ["双11", "618", "门店开业", "直播间", "抖音团购", "美团团购"]),
]
# Weighted so that a few tags are very common and the rest form a long tail (docs/benchmarks.md#data-generators).
TAG_WEIGHTS = {"普通会员": 0.55, "银卡会员": 0.25, "金卡会员": 0.12, "黑金会员": 0.03, "护肤": 0.45, "彩妆": 0.3}
SOURCES = [
    (SourceChannel.WECOM, 0.45),
    (SourceChannel.DOUYIN, 0.15),
    (SourceChannel.MEITUAN, 0.15),
    (SourceChannel.VIDEO, 0.1),
    (SourceChannel.FORM, 0.05),
    (SourceChannel.IMPORT, 0.1),
]
NOTES = [
    "询问了新品精华的价格，下周到店试用",
    "对敏感肌产品感兴趣，已发送试用装信息",
    "生日在下月，记得提前准备礼品",
    "上次购买的面霜反馈很好，准备复购",
    "希望参加会员日活动",
    "不喜欢频繁推送，只发重要活动",
]
DEMO_PASSWORD = "demo1234"
DEMO_LOGINS = [
    ("operator", "运营 · 林悦", Role.OPERATOR, None),
    ("manager", "店长 · 陈静", Role.MANAGER, "SH001"),
    ("staff", "导购 · 王芳", Role.STORE_STAFF, "SH001"),
]


def _store_members(organization: Organization, stores: list[Store], rng: random.Random) -> list[Staff]:
    """3–6 members per store, each with a console login ``<store code>-<nn>`` (``sh001-01``) and the demo
    password: the first of a store is its 店长 (manager), the others 导购 — except in the store of the
    README's ``manager``, who already runs it. Users, roles and staff are bulk-inserted with one
    password hash (hashing 40-odd passwords one by one would take most of the demo's load time)."""
    user_model = get_user_model()
    password = make_password(DEMO_PASSWORD)
    groups = {role: Group.objects.get_or_create(name=role.value)[0] for role in (Role.MANAGER, Role.STORE_STAFF)}
    managed = {code for _u, _n, role, code in DEMO_LOGINS if role == Role.MANAGER}
    planned: list[tuple[Store, str, str, Role]] = []
    for store in stores:
        for i in range(rng.randint(3, 6)):
            role = Role.MANAGER if i == 0 and store.code not in managed else Role.STORE_STAFF
            planned.append((store, _name(rng), f"{store.code.lower()}-{i + 1:02d}", role))
    users = user_model.objects.bulk_create([user_model(username=u, password=password) for _s, _n, u, _r in planned])
    user_model.groups.through.objects.bulk_create(
        [
            user_model.groups.through(user_id=user.pk, group_id=groups[role].pk)
            for user, (_s, _n, _u, role) in zip(users, planned, strict=True)
        ]
    )
    return Staff.objects.bulk_create(
        [
            Staff(organization=organization, name=name, store=store, user=user, wecom_userid=username.replace("-", "_"))
            for user, (store, name, username, _r) in zip(users, planned, strict=True)
        ]
    )


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _phone(rng: random.Random, used: set[str]) -> str:
    while True:
        phone = rng.choice(["13", "15", "17", "18", "19"]) + "".join(rng.choice("0123456789") for _ in range(9))
        if phone not in used:
            used.add(phone)
            return phone


def load(*, organization: Organization, rng: random.Random, customers: int = 3000) -> dict[str, Any]:
    """Create the demo customer base inside ``organization``; returns what later loaders need."""
    now = timezone.now()
    stores = Store.objects.bulk_create(
        [Store(organization=organization, code=c, name=n, city=city) for c, n, city in STORES]
    )
    by_code = {s.code: s for s in stores}
    logins = {}
    for username, name, role, store_code in DEMO_LOGINS:
        store = by_code.get(store_code) if store_code else None
        logins[username] = staff_create(
            organization=organization,
            name=name.split(" · ")[1],
            role=role,
            store=store,
            username=username,
            password=DEMO_PASSWORD,
            wecom_userid=f"demo_{username}" if role != Role.OPERATOR else "",
        )
    staff_rows = [logins["manager"], logins["staff"], *_store_members(organization, stores, rng)]
    staff_by_store: dict[int, list[Staff]] = {}
    for s in staff_rows:
        if s.store_id:
            staff_by_store.setdefault(s.store_id, []).append(s)

    groups = []
    tags_by_group: dict[str, list[Tag]] = {}
    for order, (gname, choice, names) in enumerate(TAG_GROUPS):
        group = TagGroup.objects.create(organization=organization, name=gname, choice=choice, order=order)
        groups.append(group)
        tags_by_group[gname] = Tag.objects.bulk_create(
            [Tag(organization=organization, group=group, name=n, order=i) for i, n in enumerate(names)]
        )

    # Store sizes differ: the flagship has the most customers.
    store_weights = [rng.uniform(0.5, 2.0) for _ in stores]
    store_weights[0] = 3.0
    used_phones: set[str] = set()
    customer_rows = []
    for i in range(customers):
        source = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
        created = now - timedelta(days=rng.expovariate(1 / 200), minutes=rng.randint(0, 1440))
        has_phone = rng.random() < 0.8
        phone = _phone(rng, used_phones) if has_phone else ""
        consent = rng.random() < 0.85
        opted_out = consent and rng.random() < 0.03
        customer_rows.append(
            Customer(
                organization=organization,
                name=_name(rng),
                gender=rng.choices([Gender.FEMALE, Gender.MALE, Gender.UNKNOWN], [0.7, 0.25, 0.05])[0],
                **crypto.phone_columns(phone),
                unionid=f"o6_demo_{i:06d}" if rng.random() < 0.6 else "",
                home_store=rng.choices(stores, store_weights)[0],
                source_channel=source,
                first_touch={"channel": source, "state": f"{source}_demo"},
                first_touch_at=created,
                # Stages are derived from follows and orders once the layers above have loaded theirs
                # (demo_load ends with organization_lifecycle_refresh); a customer with neither stays 线索.
                lifecycle=Lifecycle.LEAD,
                marketing_consent=consent,
                consent_at=created if consent else None,
                consent_source="demo" if consent else "",
                opted_out_at=created + timedelta(days=3) if opted_out else None,
                opt_out_source="customer_request" if opted_out else "",
                created_at=created,
            )
        )
    customer_list = Customer.objects.bulk_create(customer_rows, batch_size=1000)

    identities, follows, links, timeline, notes = [], [], [], [], []
    for c in customer_list:
        identities.append(
            Identity(
                organization=organization,
                customer=c,
                platform=Platform.WECOM,
                account="demo_corp",
                external_id=f"wm_demo_{c.pk}",
            )
        )
        store_staff = staff_by_store.get(c.home_store_id or 0) or staff_rows
        for s in rng.sample(store_staff, k=min(len(store_staff), rng.choices([1, 2, 3], [0.7, 0.22, 0.08])[0])):
            churned = rng.random() < 0.06
            follows.append(
                Follow(
                    organization=organization,
                    customer=c,
                    staff=s,
                    added_at=c.created_at,
                    add_way=1,
                    state=c.first_touch.get("state", ""),
                    last_interaction_at=c.created_at + timedelta(days=rng.randint(0, 60)),
                    deleted_at=c.created_at + timedelta(days=rng.randint(1, 90)) if churned else None,
                    deleted_by="customer" if churned else "",
                )
            )
        for gname, _choice, _names in TAG_GROUPS:
            options = tags_by_group[gname]
            if _choice == TagChoice.SINGLE:
                if rng.random() < 0.8:
                    weights = [TAG_WEIGHTS.get(t.name, 0.2) for t in options]
                    chosen = [rng.choices(options, weights)[0]]
                else:
                    chosen = []
            else:
                chosen = [t for t in options if rng.random() < TAG_WEIGHTS.get(t.name, 0.08)]
            for tag in chosen:
                links.append(
                    CustomerTag(
                        organization=organization, customer=c, tag=tag, source=TagSource.STAFF, assigned_at=c.created_at
                    )
                )
        timeline.append(
            TimelineEvent(
                organization=organization,
                customer=c,
                kind=TimelineKind.ADDED,
                occurred_at=c.created_at,
                summary=f"通过{c.get_source_channel_display()}添加企业微信",
            )
        )
        if rng.random() < 0.15:
            notes.append(
                Note(organization=organization, customer=c, author=rng.choice(store_staff), body=rng.choice(NOTES))
            )
    Identity.objects.bulk_create(identities, batch_size=2000)
    Follow.objects.bulk_create(follows, batch_size=2000)
    CustomerTag.objects.bulk_create(links, batch_size=5000)
    TimelineEvent.objects.bulk_create(timeline, batch_size=2000)
    Note.objects.bulk_create(notes, batch_size=2000)
    customer_tag_ids_rebuild(organization_id=organization.pk)

    # Customer groups: a few per store, members drawn from that store's customers.
    by_store: dict[int, list[Customer]] = {}
    for c in customer_list:
        by_store.setdefault(c.home_store_id or 0, []).append(c)
    members = []
    for store in stores:
        owners = staff_by_store.get(store.pk, [])
        for g in range(rng.randint(1, 3)):
            pool = by_store.get(store.pk, [])
            picked = rng.sample(pool, k=min(len(pool), rng.randint(20, 120)))
            chat = CustomerGroup.objects.create(
                organization=organization,
                wecom_chat_id=f"wr_demo_{store.code}_{g}",
                name=f"{store.name}会员{g + 1}群",
                owner=rng.choice(owners) if owners else None,
                store=store,
                notice="欢迎加入会员群，每周三会员日专享优惠～",
                member_count=len(picked),
            )
            members += [
                CustomerGroupMember(
                    organization=organization,
                    group=chat,
                    customer=c,
                    member_type=MemberType.EXTERNAL,
                    member_id=f"wm_demo_{c.pk}",
                    name=c.name,
                    joined_at=c.created_at + timedelta(days=1),
                )
                for c in picked
            ]
    CustomerGroupMember.objects.bulk_create(members, batch_size=2000)
    return {"stores": stores, "staff": staff_rows, "customers": customer_list, "logins": logins}


def load_rules(*, context: dict[str, Any]) -> None:
    """A demo tagging rule, once orders are in: customers with three or more orders carry 复购达人."""
    from contacts.models import Segment, Tag, TagGroup, TagRule
    from contacts.services import tag_rule_apply

    organization = context["organization"]
    group = TagGroup.objects.create(organization=organization, name="自动标签", choice=TagChoice.MULTI, order=99)
    tag = Tag.objects.create(organization=organization, group=group, name="复购达人")
    segment = Segment.objects.create(
        organization=organization,
        name="复购三次以上",
        description="累计有效订单 ≥ 3 笔（示例：自动打标签规则的条件）",
        expression={"order_count": {"min": 3}},
    )
    rule = TagRule.objects.create(organization=organization, name="复购三次打“复购达人”", segment=segment, tag=tag)
    tag_rule_apply(rule=rule)
