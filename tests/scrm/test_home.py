"""The home page per role (issue 13): figures against a brute-force count, the change against the
previous period on Beijing-time boundaries, to-dos for the right role only, query counts."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from analytics.services import order_record
from campaigns.models import Batch, BatchStatus, Campaign, CampaignStatus
from channels.models import ChannelAccount, InboxEvent, InboxStatus, Lead, LeadSource
from contacts.models import Follow, Role, Staff
from tests.conftest import World, _staff
from tests.factories import CustomerFactory, FollowFactory

BEIJING = ZoneInfo("Asia/Shanghai")


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=BEIJING)


def _periods(today: dt.date) -> dict[str, tuple[tuple[dt.date, dt.date], tuple[dt.date, dt.date]]]:
    """Written out independently of contacts.periods: (this period, previous period), inclusive."""
    monday = today - dt.timedelta(days=today.weekday())
    first = today.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    yesterday = today - dt.timedelta(days=1)
    return {
        "day": ((today, today), (yesterday, yesterday)),
        "week": ((monday, today), (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))),
        "month": ((first, today), (last_month_end.replace(day=1), last_month_end)),
    }


@pytest.fixture
def data(world: World) -> dict[str, Any]:
    """Follows and orders spread over the last ~70 days in both stores, for three staff members,
    including rows a minute either side of Beijing midnight (which are other days in UTC)."""
    rng = random.Random(13)
    today = timezone.localdate(timezone=BEIJING)
    other_clerk = _staff(world.org, world.store_b, Role.STORE_STAFF, "clerk-b")
    staff = [world.store_staff, world.manager, other_clerk]
    customers = [
        CustomerFactory(organization=world.org, home_store=rng.choice([world.store_a, world.store_b]))
        for _ in range(40)
    ]
    now = timezone.now()
    for c in customers:
        for s in rng.sample(staff, rng.randint(1, 2)):
            added = _at(today - dt.timedelta(days=rng.randint(0, 70)), rng.randint(0, 23), rng.randint(0, 59))
            added = min(added, now)
            deleted = None
            if rng.random() < 0.4:
                deleted = min(added + dt.timedelta(hours=rng.randint(1, 24 * 30)), now)
            FollowFactory(organization=world.org, customer=c, staff=s, added_at=added, deleted_at=deleted)
    # Either side of midnight: 23:59 yesterday and 00:01 today, Beijing time.
    edge = CustomerFactory(organization=world.org, home_store=world.store_a)
    yesterday = today - dt.timedelta(days=1)
    FollowFactory(organization=world.org, customer=edge, staff=world.store_staff, added_at=_at(yesterday, 23, 59))
    if now >= _at(today, 0, 1):
        FollowFactory(organization=world.org, customer=edge, staff=world.manager, added_at=_at(today, 0, 1))
    for i in range(60):
        c = rng.choice(customers)
        paid = min(_at(today - dt.timedelta(days=rng.randint(0, 70)), rng.randint(0, 23)), now)
        amount = Decimal(rng.randint(50, 2000))
        refunded = Decimal(rng.randint(0, int(amount))) if rng.random() < 0.2 else Decimal(0)
        order_record(
            organization=world.org, customer=c, store=c.home_store, amount=amount, paid_at=paid, source="manual",
            external_ref=f"T{i}", staff=rng.choice(staff), refunded_amount=refunded,
        )  # fmt: skip
    order_record(
        organization=world.org, customer=edge, store=world.store_a, amount=Decimal(100),
        paid_at=_at(yesterday, 23, 59), source="manual", external_ref="EDGE", staff=world.store_staff,
    )  # fmt: skip
    return {"today": today, "other_clerk": other_clerk}


def _expected(world: World, who: Staff, today: dt.date) -> dict[str, dict[str, tuple[Any, Any]]]:
    """Brute force over every row: the actor's scope by hand, days converted one by one."""
    from analytics.models import Order

    if who == world.operator:
        stores = None
        staff_id = None
    elif who == world.manager:
        stores, staff_id = {world.store_a.pk}, None
    else:
        stores, staff_id = {world.store_a.pk}, who.pk

    follows = [
        f
        for f in Follow.objects.filter(organization=world.org).select_related("customer")
        if (stores is None or f.customer.home_store_id in stores) and (staff_id is None or f.staff_id == staff_id)
    ]
    orders = [
        o
        for o in Order.objects.filter(organization=world.org)
        if (stores is None or o.store_id in stores) and (staff_id is None or o.staff_id == staff_id)
    ]

    def within(ts: dt.datetime | None, span: tuple[dt.date, dt.date]) -> bool:
        return ts is not None and span[0] <= ts.astimezone(BEIJING).date() <= span[1]

    out: dict[str, dict[str, tuple[Any, Any]]] = {}
    for key, spans in _periods(today).items():
        pair: dict[str, list[Any]] = {k: [] for k in ("adds", "losses", "net", "orders", "gmv")}
        for span in spans:
            adds = sum(1 for f in follows if within(f.added_at, span))
            losses = sum(1 for f in follows if within(f.deleted_at, span))
            pair["adds"].append(adds)
            pair["losses"].append(losses)
            pair["net"].append(adds - losses)
            pair["orders"].append(sum(1 for o in orders if within(o.paid_at, span)))
            pair["gmv"].append(
                sum((o.amount - o.refunded_amount for o in orders if within(o.paid_at, span)), Decimal(0))
            )
        out[key] = {k: (v[0], v[1]) for k, v in pair.items()}
    return out


def _shown(html: str) -> dict[str, dict[str, tuple[str, str]]]:
    """(value, delta) of every figure of every period block, as the page marks them."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for block in re.findall(r'data-period="(\w+)">(.*?)</section>', html, re.S):
        out[block[0]] = {
            m[0]: (m[1], m[2])
            for m in re.findall(
                r'data-figure="(\w+)">.*?data-value="([-\d.]+)".*?data-delta="([-\d.]+)"', block[1], re.S
            )
        }
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "manager", "store_staff"])
def test_each_roles_figures_match_a_brute_force_count(world: World, data: dict[str, Any], role: str) -> None:
    who = getattr(world, role)
    page = world.client_for(who).get("/")
    assert page.status_code == 200
    shown = _shown(page.content.decode())
    expected = _expected(world, who, data["today"])
    assert set(shown) == {"day", "week", "month"}
    for period, figures in expected.items():
        for key, (value, previous) in figures.items():
            got_value, got_delta = shown[period][key]
            assert Decimal(got_value) == Decimal(value), (role, period, key)
            assert Decimal(got_delta) == Decimal(value) - Decimal(previous), (role, period, key)


@pytest.mark.django_db
def test_the_figures_are_not_trivially_equal_across_roles(world: World, data: dict[str, Any]) -> None:
    """The data set is rich enough that the scopes differ (a test that cannot fail proves nothing)."""
    op = _expected(world, world.operator, data["today"])["month"]
    staff = _expected(world, world.store_staff, data["today"])["month"]
    assert op["adds"][0] + op["adds"][1] > staff["adds"][0] + staff["adds"][1] > 0
    assert op["orders"][0] + op["orders"][1] > 0


@pytest.mark.django_db
def test_midnight_in_beijing_is_the_day_boundary(world: World) -> None:
    today = timezone.localdate(timezone=BEIJING)
    yesterday = today - dt.timedelta(days=1)
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    # 23:59 Beijing yesterday is 15:59 UTC yesterday; 00:01 Beijing today is 16:01 UTC yesterday.
    FollowFactory(organization=world.org, customer=c, staff=world.store_staff, added_at=_at(yesterday, 23, 59))
    FollowFactory(organization=world.org, customer=c, staff=world.manager, added_at=_at(today, 0, 1))
    shown = _shown(world.client_for(world.operator).get("/").content.decode())
    assert shown["day"]["adds"] == ("1", "0")  # today 1, yesterday 1
    assert shown["day"]["net"] == ("1", "0")


@pytest.mark.django_db
def test_the_change_is_against_the_previous_period(world: World) -> None:
    today = timezone.localdate(timezone=BEIJING)
    yesterday = today - dt.timedelta(days=1)
    for i in range(3):
        c = CustomerFactory(organization=world.org, home_store=world.store_a)
        FollowFactory(organization=world.org, customer=c, staff=world.store_staff, added_at=_at(yesterday, 10 + i))
    c = CustomerFactory(organization=world.org, home_store=world.store_a)
    FollowFactory(organization=world.org, customer=c, staff=world.store_staff, added_at=_at(today, 0, 0))
    html = world.client_for(world.operator).get("/").content.decode()
    assert _shown(html)["day"]["adds"] == ("1", "-2")
    # 1 against 3: -66.7 %, and a fall in adds is bad news.
    block = re.search(r'data-period="day">(.*?)</section>', html, re.S)
    assert block is not None
    adds = re.search(r'data-figure="adds">(.*?)</div>', block.group(1), re.S)
    assert adds is not None and "-66.7%" in adds.group(1) and "change bad" in adds.group(1)


def _todo_world(world: World) -> dict[str, Any]:
    manager_b = _staff(world.org, world.store_b, Role.MANAGER, "mgr-b")
    own = Campaign.objects.create(
        organization=world.org, name="店长自建大活动", status=CampaignStatus.PENDING_APPROVAL, created_by=world.manager
    )
    draft = Campaign.objects.create(organization=world.org, name="草稿活动", created_by=world.manager)
    sent = Campaign.objects.create(
        organization=world.org, name="卡住的活动", status=CampaignStatus.SENDING, created_by=world.operator
    )
    Batch.objects.create(organization=world.org, campaign=sent, sender=world.manager, status=BatchStatus.NEEDS_OPERATOR)
    Batch.objects.create(
        organization=world.org, campaign=sent, sender=world.store_staff, seq=1, status=BatchStatus.CREATED,
        task_created_at=timezone.now(),
    )  # fmt: skip
    account = ChannelAccount.objects.create(organization=world.org, platform="wecom", name="企微")
    InboxEvent.objects.create(
        organization=world.org, account=account, platform="wecom", event_key="k1", body="{}", status=InboxStatus.FAILED
    )
    Lead.objects.create(organization=world.org, source=LeadSource.values[0], external_id="L1", store=None)
    Lead.objects.create(organization=world.org, source=LeadSource.values[0], external_id="L2", store=world.store_a)
    # The outsider's brand has the same kinds of to-dos; none of them may show in ours.
    other_account = ChannelAccount.objects.create(organization=world.other_org, platform="wecom", name="对手企微")
    InboxEvent.objects.create(
        organization=world.other_org, account=other_account, platform="wecom", event_key="k1", body="{}",
        status=InboxStatus.FAILED,
    )  # fmt: skip
    Campaign.objects.create(
        organization=world.other_org,
        name="对手的活动",
        status=CampaignStatus.PENDING_APPROVAL,
        created_by=world.outsider,
    )
    return {"manager_b": manager_b, "own": own, "draft": draft, "sent": sent}


def _todos(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-todo="(\w+)">.*?<span class="badge warn">(\d+)</span>', html, re.S))


@pytest.mark.django_db
def test_todos_go_to_the_right_role_only(world: World) -> None:
    t = _todo_world(world)
    op_html = world.client_for(world.operator).get("/").content.decode()
    assert _todos(op_html) == {"approvals": "1", "needs_operator": "1", "failed_inbox": "1", "unassigned_leads": "1"}
    assert "店长自建大活动" in op_html and "对手的活动" not in op_html and "草稿活动" not in op_html
    # Each to-do links to where it is handled.
    assert f'href="/campaigns/{t["own"].pk}/"' in op_html
    assert f'href="/campaigns/{t["sent"].pk}/"' in op_html
    assert 'href="/channels/inbox/?status=failed"' in op_html
    assert 'href="/channels/leads/?assigned=no"' in op_html

    # The manager who created the campaign may not approve it; another manager may.
    assert _todos(world.client_for(world.manager).get("/").content.decode()) == {}
    other_html = world.client_for(t["manager_b"]).get("/").content.decode()
    assert _todos(other_html) == {"approvals": "1"}

    staff_html = world.client_for(world.store_staff).get("/").content.decode()
    assert _todos(staff_html) == {"confirmations": "1"}
    assert 'href="/campaigns/my-pending/"' in staff_html
    assert "店长自建大活动" not in staff_html


@pytest.mark.django_db
def test_the_unassigned_leads_link_lists_exactly_those_leads(world: World) -> None:
    _todo_world(world)
    page = world.client_for(world.operator).get("/channels/leads/?assigned=no")
    assert page.status_code == 200
    assert list(page.context["page"].object_list.values_list("external_id", flat=True)) == ["L1"]


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "limit"), [("operator", 11), ("manager", 11), ("store_staff", 9)])
def test_query_count_is_pinned_per_role(
    world: World, data: dict[str, Any], role: str, limit: int, django_assert_max_num_queries: Any
) -> None:
    _todo_world(world)
    client = world.client_for(getattr(world, role))
    with django_assert_max_num_queries(limit):
        assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_scope_line_names_the_managers_stores_and_shortcuts_differ(world: World) -> None:
    world.manager.managed_stores.set([world.store_b])
    mgr = world.client_for(world.manager).get("/").content.decode()
    assert "A店" in mgr and "B店" in mgr
    assert 'href="/campaigns/new/"' in mgr
    staff = world.client_for(world.store_staff).get("/").content.decode()
    assert 'href="/campaigns/new/"' not in staff and 'href="/sidebar/"' in staff
    assert "门店 1" not in staff and "标签" not in re.sub(r"<nav.*?</nav>", "", staff, flags=re.S)
    op = world.client_for(world.operator).get("/").content.decode()
    assert "全品牌" in op and 'href="/settings/"' in op
