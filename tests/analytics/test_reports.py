"""Every report against an independent computation (plain Python over the raw rows), on generated
data with refunds, customer merges and late (out-of-order) orders. Query counts are pinned."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics import reports
from analytics.models import Order
from analytics.rollups import LTV_BUCKETS, REPURCHASE_WINDOWS
from contacts.models import Customer, Follow
from contacts.selectors import RFM_SEGMENTS
from contacts.services import customer_merge
from tests.analytics.factories import SH, at, generate, record

START, END = dt.date(2026, 1, 1), dt.date(2026, 11, 23)
TODAY = timezone.localdate()


def local(value: dt.datetime) -> dt.date:
    return value.astimezone(SH).date()


@pytest.fixture
def data(world, django_capture_on_commit_callbacks):
    stores = [world.store_a, world.store_b]
    staff = [world.manager, world.store_staff, world.operator]
    customers = generate(org=world.org, stores=stores, staff=staff, customers=60, seed=11)
    # A late order: paid long ago, recorded last.
    record(customers[0], 450, at(2026, 1, 2), "LATE-1")
    # Merges: the absorbed customers' orders and facts move to the survivors.
    with django_capture_on_commit_callbacks(execute=True):
        customer_merge(survivor=customers[1], absorbed=customers[2], reason="test")
        customer_merge(survivor=customers[3], absorbed=customers[4], reason="test")
    from analytics.rollups import daily_customer_metrics_refresh

    daily_customer_metrics_refresh(organization_id=world.org.pk, start=dt.date(2025, 12, 1), end=END)
    # Noise in the other organization must never show up.
    generate(org=world.other_org, stores=[world.other_store], staff=[world.outsider], customers=10, seed=3)
    return world


def f_for(world, **kw):
    base = {"organization_id": world.org.pk, "start": START, "end": END, "today": TODAY}
    base.update(kw)
    return reports.ReportFilter(**base)


def truth(world):
    """Independent per-customer facts from raw orders (no rollup table read)."""
    orders = list(Order.objects.filter(organization=world.org))
    by_cust = defaultdict(list)
    for o in orders:
        if o.status != "refunded":
            by_cust[o.customer_id].append(o)
    for lst in by_cust.values():
        lst.sort(key=lambda o: (o.paid_at, o.id))
    customers = {c.pk: c for c in Customer.objects.filter(organization=world.org)}
    ltv = {cid: sum((o.amount - o.refunded_amount for o in by_cust.get(cid, [])), Decimal(0)) for cid in customers}
    return orders, by_cust, customers, ltv


def test_overview_matches_raw_orders(data, django_assert_num_queries):
    world = data
    orders, by_cust, customers, ltv = truth(world)
    f = f_for(world)
    with django_assert_num_queries(2):
        rep = reports.overview.overview(f)
    in_range = [o for o in orders if START <= local(o.paid_at) <= END]
    gmv = sum((o.amount - o.refunded_amount for o in in_range), Decimal(0))
    private = sum((o.amount - o.refunded_amount for o in in_range if o.is_private), Decimal(0))
    assert rep.extra["gmv"] == gmv
    assert rep.extra["private"] == private
    assert any(o.status == "refunded" for o in orders) and any(o.status == "partially_refunded" for o in orders)
    assert sum(rep.charts[0].series[0]["data"]) == sum(
        1 for c in customers.values() if START <= local(c.created_at) <= END
    )
    churned = sum(
        1
        for fw in Follow.objects.filter(organization=world.org, deleted_at__isnull=False).exclude(deleted_by="transfer")
        if START <= local(fw.deleted_at) <= END
    )
    assert sum(rep.charts[0].series[1]["data"]) == churned
    buyers = [cid for cid in customers if by_cust.get(cid)]
    assert rep.extra["buyers"] == len(buyers)
    assert rep.extra["repeaters"] == sum(1 for cid in buyers if len(by_cust[cid]) >= 2)
    stats = {str(s.label): s.value for s in rep.stats}
    assert stats["订单数"] == sum(1 for o in in_range if o.status != "refunded")
    expected_avg = (sum(ltv[c] for c in buyers) / len(buyers)).quantize(Decimal("0.01"))
    assert stats["平均 LTV"] == expected_avg

    # Store filter: only orders of store A; customers of store A.
    fa = f_for(world, store_ids=frozenset({world.store_a.pk}))
    rep_a = reports.overview.overview(fa)
    gmv_a = sum((o.amount - o.refunded_amount for o in in_range if o.store_id == world.store_a.pk), Decimal(0))
    assert rep_a.extra["gmv"] == gmv_a
    assert rep_a.extra["customers"] == sum(
        1 for c in customers.values() if c.home_store_id == world.store_a.pk and local(c.created_at) <= END
    )


def test_the_overview_trend_equals_raw_orders_and_customers_per_day(data):
    """The daily trend (read from DailyStoreRollup) against a brute-force count per Beijing day over
    orders, customers and follows, and against the staff cells (DailyRollup) it replaced; a staff
    filter still reads the staff cells and counts only that clerk's orders."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    world = data
    orders, _by_cust, customers, _ltv = truth(world)
    f = f_for(world)
    with CaptureQueriesContext(connection) as ctx:
        rep = reports.overview.overview(f)
    assert any("FROM analytics_dailystorerollup d" in q["sql"] for q in ctx.captured_queries)
    assert not any("analytics_dailyrollup" in q["sql"] for q in ctx.captured_queries)
    days = reports.sql._days(f)
    new, churned = rep.charts[0].series[0]["data"], rep.charts[0].series[1]["data"]
    gmv, private = rep.charts[1].series[0]["data"], rep.charts[1].series[1]["data"]
    ended = Follow.objects.filter(organization=world.org, deleted_at__isnull=False).exclude(deleted_by="transfer")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT day, SUM(new_customers), SUM(churned), SUM(gmv - refunds) FROM analytics_dailyrollup"
            " WHERE organization_id = %s GROUP BY day",
            [world.org.pk],
        )
        staff_cells = {r[0]: r[1:] for r in cursor.fetchall()}
    for i, day in enumerate(days):
        paid = [o for o in orders if local(o.paid_at) == day]
        assert new[i] == sum(1 for c in customers.values() if local(c.created_at) == day), day
        assert churned[i] == sum(1 for fw in ended if local(fw.deleted_at) == day), day
        assert Decimal(str(gmv[i])) == sum((o.amount - o.refunded_amount for o in paid), Decimal(0)), day
        assert Decimal(str(private[i])) == sum(
            (o.amount - o.refunded_amount for o in paid if o.is_private), Decimal(0)
        ), day
        old = staff_cells.get(day, (0, 0, Decimal(0)))
        assert (new[i], churned[i], Decimal(str(gmv[i]))) == (old[0], old[1], old[2]), day
    assert sum(new) and sum(churned) and sum(gmv)

    clerk = world.store_staff
    with CaptureQueriesContext(connection) as ctx:
        mine = reports.overview.overview(f_for(world, staff_id=clerk.pk))
    assert any("FROM analytics_dailyrollup d" in q["sql"] for q in ctx.captured_queries)
    expected = sum(
        (o.amount - o.refunded_amount for o in orders if o.staff_id == clerk.pk and START <= local(o.paid_at) <= END),
        Decimal(0),
    )
    assert mine.extra["gmv"] == expected and 0 < expected < rep.extra["gmv"]


def test_ltv_matches_raw_orders(data, django_assert_num_queries):
    world = data
    _orders, by_cust, customers, ltv = truth(world)
    with django_assert_num_queries(4):  # one grouping-sets query, staff, names of stores and staff
        rep = reports.ltv.ltv(f_for(world))
    acquired = [c for c in customers.values() if START <= local(c.created_at) <= END]
    tables = {t.key: t for t in rep.tables}
    # By channel
    expected = defaultdict(lambda: [0, 0, Decimal(0)])
    for c in acquired:
        e = expected[reports.channel_label(c.source_channel)]
        e[0] += 1
        e[1] += 1 if by_cust.get(c.pk) else 0
        e[2] += ltv[c.pk]
    got = {r[0]: [r[1], r[2], r[3]] for r in tables["channel"].rows}
    assert got == dict(expected)
    # Distribution of buyers' LTV
    bounds = LTV_BUCKETS
    counts = [0] * len(bounds)
    for c in acquired:
        if by_cust.get(c.pk):
            i = max(j for j, lo in enumerate(bounds) if ltv[c.pk] >= lo)
            counts[i] += 1
    assert [r[1] for r in tables["distribution"].rows] == counts
    # By staff (active followers)
    staff_exp = defaultdict(lambda: [0, Decimal(0)])
    ids = {c.pk for c in acquired}
    for fw in Follow.objects.filter(organization=world.org, deleted_at__isnull=True, customer_id__in=ids):
        staff_exp[fw.staff.name][0] += 1
        staff_exp[fw.staff.name][1] += ltv[fw.customer_id]
    assert {r[0]: [r[1], r[3]] for r in tables["staff"].rows} == dict(staff_exp)


def test_repurchase_matches_raw_orders(data, django_assert_num_queries):
    world = data
    _orders, by_cust, _customers, _ltv = truth(world)
    with django_assert_num_queries(1):
        rep = reports.repurchase.repurchase(f_for(world))
    cutoff = dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time.min, tzinfo=SH)
    per = defaultdict(lambda: {"buyers": 0, "again": 0, **{n: [0, 0] for n in REPURCHASE_WINDOWS}})
    for lst in by_cust.values():
        first = lst[0].paid_at
        cohort = local(first).replace(day=1)
        if not (START.replace(day=1) <= cohort <= END):
            continue
        p = per[cohort.strftime("%Y-%m")]
        p["buyers"] += 1
        second = lst[1].paid_at if len(lst) > 1 else None
        p["again"] += 1 if second else 0
        for n in REPURCHASE_WINDOWS:
            if first < cutoff - dt.timedelta(days=n):
                p[n][0] += 1
                if second and second <= first + dt.timedelta(days=n):
                    p[n][1] += 1
    got = {r[0]: r for r in rep.tables[0].rows if r[0] != "合计"}
    assert set(got) == set(per)
    assert any(p["again"] for p in per.values()), "the generated data must contain repeat buyers"
    for month, p in per.items():
        row = got[month]
        assert row[1:3] == [p["buyers"], p["again"]]
        for i, n in enumerate(REPURCHASE_WINDOWS):
            matured, again = p[n]
            assert row[3 + i] == (round(100.0 * again / matured, 1) if matured else None)


def test_cohort_matrix_matches_raw_orders(data, django_assert_num_queries):
    world = data
    _orders, by_cust, _customers, _ltv = truth(world)
    with django_assert_num_queries(1):
        rep = reports.cohorts.cohorts(f_for(world))
    cells = defaultdict(lambda: defaultdict(lambda: [set(), Decimal(0)]))
    for cid, lst in by_cust.items():
        cohort = local(lst[0].paid_at).replace(day=1)
        for o in lst:
            m = local(o.paid_at)
            k = (m.year - cohort.year) * 12 + m.month - cohort.month
            cells[cohort][k][0].add(cid)
            cells[cohort][k][1] += o.amount - o.refunded_amount
    tables = {t.key: t for t in rep.tables}
    for row_c, row_r in zip(tables["customers"].rows, tables["revenue"].rows, strict=True):
        cohort = dt.date.fromisoformat(row_c[0] + "-01")
        size = len(cells[cohort][0][0])
        assert row_c[1] == size
        for k, (rate, revenue) in enumerate(zip(row_c[2:], row_r[2:], strict=True)):
            if rate is None:
                continue
            n = len(cells[cohort][k][0]) if k in cells[cohort] else 0
            assert rate == round(100.0 * n / size, 1)
            assert revenue == (cells[cohort][k][1] if k in cells[cohort] else Decimal(0))
    assert len(tables["customers"].rows) == len(cells)
    assert any(k > 0 for c in cells.values() for k in c), "the generated data must contain retained customers"


def test_rfm_matches_raw_orders(data, django_assert_num_queries):
    world = data
    _orders, by_cust, _customers, ltv = truth(world)
    with django_assert_num_queries(1):
        rep = reports.rfm.rfm(f_for(world))
    today = timezone.localdate()
    expected = defaultdict(int)
    for cid, lst in by_cust.items():
        if not lst:
            continue
        days = (today - local(lst[-1].paid_at)).days
        r_high, f_high, m_high = days <= 90, len(lst) >= 2, ltv[cid] >= 1000
        seg = next(s for s in RFM_SEGMENTS if (s.r_high, s.f_high, s.m_high) == (r_high, f_high, m_high))
        expected[str(seg.label)] += 1
    got = {r[0]: r[1] for r in rep.tables[0].rows if r[1]}
    assert got == dict(expected)


def test_funnel_matches_raw_rows(data, django_assert_num_queries):
    world = data
    _orders, by_cust, customers, _ltv = truth(world)
    with django_assert_num_queries(1):
        rep = reports.funnel.funnel(f_for(world))
    followed = set(Follow.objects.filter(organization=world.org).values_list("customer_id", flat=True))
    exp = defaultdict(lambda: [0, 0, 0, 0])
    for c in customers.values():
        if not START <= local(c.created_at) <= END:
            continue
        for key in (reports.channel_label(c.source_channel), "合计"):
            e = exp[key]
            e[0] += 1
            e[1] += c.pk in followed
            e[2] += len(by_cust.get(c.pk, [])) >= 1
            e[3] += len(by_cust.get(c.pk, [])) >= 2
    got = {r[0]: r[1:5] for r in rep.tables[0].rows}
    assert got == dict(exp)


def test_staff_report_matches_raw_rows(data, django_assert_num_queries):
    world = data
    from analytics.services import staff_behavior_record

    staff_behavior_record(
        organization=world.org,
        staff=world.store_staff,
        day=dt.date(2026, 3, 1),
        chat_cnt=10,
        message_cnt=50,
        reply_percentage=80.0,
        avg_reply_time=5.0,
        new_contact_cnt=3,
        negative_feedback_cnt=1,
    )
    staff_behavior_record(
        organization=world.org,
        staff=world.store_staff,
        day=dt.date(2026, 3, 2),
        chat_cnt=6,
        message_cnt=20,
        reply_percentage=100.0,
        avg_reply_time=3.0,
        new_contact_cnt=1,
        negative_feedback_cnt=0,
    )
    orders, _by, _c, _l = truth(world)
    with django_assert_num_queries(2):
        rep = reports.staff.staff(f_for(world))
    rows = {r[0]: r for r in rep.tables[0].rows}
    for s in (world.manager, world.store_staff, world.operator):
        gmv = sum(
            (o.amount - o.refunded_amount for o in orders if o.staff_id == s.pk and START <= local(o.paid_at) <= END),
            Decimal(0),
        )
        served = Follow.objects.filter(staff=s, deleted_at__isnull=True).count()
        assert rows[s.name][6] == gmv
        assert rows[s.name][2] == served
    clerk = rows[world.store_staff.name]
    assert (clerk[8], clerk[9], clerk[10], clerk[11]) == (16, 70, 90.0, 4.0)
    assert world.outsider.name not in rows


def test_other_organization_never_leaks(data):
    world = data
    f = reports.ReportFilter(organization_id=world.other_org.pk, start=START, end=END, today=TODAY)
    mine = {o.pk for o in Order.objects.filter(organization=world.other_org)}
    rep = reports.overview.overview(f)
    expected = sum(
        (o.amount - o.refunded_amount for o in Order.objects.filter(pk__in=mine) if START <= local(o.paid_at) <= END),
        Decimal(0),
    )
    assert rep.extra["gmv"] == expected


def test_cohorts_and_repurchase_with_a_store_filter_count_only_that_store(data):
    world = data
    _orders, by_cust, customers, _ltv = truth(world)
    fa = f_for(world, store_ids=frozenset({world.store_a.pk}), channel="wecom")
    expected = sum(
        1
        for cid, lst in by_cust.items()
        if lst and customers[cid].home_store_id == world.store_a.pk and customers[cid].source_channel == "wecom"
    )
    sizes = sum(row[1] for row in reports.cohorts.cohorts(fa).tables[0].rows)
    total = next(r for r in reports.repurchase.repurchase(fa).tables[0].rows if r[0] == "合计")
    assert sizes == expected == total[1]
    assert expected > 0
