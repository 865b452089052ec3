"""The pre-summed report cells (analytics.rollups "report cells"): what the order, refund and merge
paths keep incrementally equals what ``organization_rebuild`` computes from scratch, and the reports
read from the cells equal the same reports read straight from the customers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from analytics import reports, rollups, services
from analytics.models import Order
from analytics.reports import ltv, sql
from contacts.models import Customer
from contacts.services import customer_merge
from tests.analytics.factories import at, generate, record
from tests.analytics.test_reports import END, START, TODAY, data, f_for  # noqa: F401  (fixture)
from tests.factories import CustomerFactory

CELL_TABLES = {
    # The day is part of the key: the month grain (day NULL) and the day grain are different cells
    # (without it the snapshot kept whichever row of the two came last, in heap order).
    "analytics_acquisitionmonth": ["month", "day", "store_id", "channel", "bucket"],
    "analytics_acquisitionstaffmonth": ["month", "day", "staff_id", "store_id", "channel"],
    "analytics_repurchaseday": ["first_day", "cohort_month", "store_id", "channel"],
    "analytics_cohortmonth": ["cohort_month", "month", "store_id", "channel"],
    "analytics_rfmcell": ["segment", "store_id", "channel"],
}
BUYER_TABLES = {
    "analytics_buyerfact": ["customer_id"],
    "analytics_customermonth": ["customer_id", "month"],
}


def snapshot(org_id: int, tables: dict[str, list[str]]) -> dict[str, dict[tuple, tuple]]:
    """Every row of the tables keyed by their key columns; all-zero cells are left out (a customer
    taken out of a cell leaves it at zero, a rebuild does not write it)."""
    out: dict[str, dict[tuple, tuple]] = {}
    with connection.cursor() as cursor:
        for table, keys in tables.items():
            cursor.execute(f"SELECT * FROM {table} WHERE organization_id = %s", [org_id])
            names = [c.name for c in cursor.description]
            rows = {}
            for row in cursor.fetchall():
                d = dict(zip(names, row, strict=True))
                key = tuple(d[k] for k in keys)
                value = tuple((k, d[k]) for k in sorted(d) if k not in keys and k not in ("id", "organization_id"))
                if (
                    all(not v for k, v in value if not isinstance(v, dt.date | dt.datetime | str))
                    and table in CELL_TABLES
                ):
                    continue
                rows[key] = value
            out[table] = rows
    return out


def churn(world, django_capture_on_commit_callbacks):
    """More history after the fixture's refresh: new and late orders, refunds, a merge."""
    customers = list(Customer.objects.filter(organization=world.org).order_by("pk"))
    record(customers[5], 1999, at(2026, 2, 3), "C-1")
    record(customers[6], 88, at(2026, 10, 30, 23), "C-2")  # late, near a month end
    record(customers[6], 120, at(2026, 11, 2), "C-3")
    record(customers[7], 3500, at(2026, 3, 9), "C-4", store=world.store_b)
    first = Order.objects.filter(organization=world.org, status="paid").order_by("pk").first()
    services.order_refund(order=first, amount=first.amount, at=at(2026, 11, 1))
    partial = Order.objects.filter(organization=world.org, status="paid").order_by("-pk").first()
    services.order_refund(order=partial, amount=Decimal("10.00"), at=at(2026, 11, 1))
    with django_capture_on_commit_callbacks(execute=True):
        customer_merge(survivor=customers[8], absorbed=customers[9], reason="test")
    # A lead of today (read live by LTV and the funnel), who already bought.
    lead = CustomerFactory(organization=world.org, home_store=world.store_a, source_channel="douyin")
    record(lead, 299, timezone.now(), "C-5")
    return customers


def test_incremental_cells_equal_a_rebuild(data, django_capture_on_commit_callbacks):  # noqa: F811
    world = data
    churn(world, django_capture_on_commit_callbacks)
    # Today's lead is counted in the acquisition cells by the next recompute of this month (the
    # 10-minute beat); until then orders leave those cells alone for them.
    before = snapshot(world.org.pk, CELL_TABLES)["analytics_acquisitionmonth"]
    assert not any(dict(v)["customers"] < 0 for v in before.values())
    rollups.acquisition_months_refresh(organization_id=world.org.pk, start=TODAY, end=TODAY)
    incremental = snapshot(world.org.pk, {**CELL_TABLES, **BUYER_TABLES})
    assert incremental["analytics_rfmcell"] and incremental["analytics_cohortmonth"]
    rollups.organization_rebuild(organization_id=world.org.pk)
    rebuilt = snapshot(world.org.pk, {**CELL_TABLES, **BUYER_TABLES})
    for table in incremental:
        assert incremental[table] == rebuilt[table], table
    # The other organization's cells are its own, and were not touched by this one's rebuild.
    assert snapshot(world.other_org.pk, CELL_TABLES)["analytics_rfmcell"]


def test_a_store_move_is_refiled_by_the_nightly_reconcile(data):  # noqa: F811
    world = data
    buyer = Customer.objects.filter(organization=world.org, order_count__gte=1, home_store=world.store_a).first()
    Customer.objects.filter(pk=buyer.pk).update(home_store=world.store_b)  # a contacts edit, no order
    rollups.report_cells_nightly(organization_id=world.org.pk)
    nightly = snapshot(world.org.pk, CELL_TABLES)
    rollups.organization_rebuild(organization_id=world.org.pk)
    assert nightly == snapshot(world.org.pk, CELL_TABLES)


def _norm(rows):
    return sorted(tuple(str(v) for v in r) for r in rows)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (START, END),  # complete months from cells, November live
        (dt.date(2026, 2, 14), dt.date(2026, 6, 30)),  # partial start month, complete end month
        (dt.date(2026, 3, 1), dt.date(2026, 3, 31)),  # exactly one complete month
        (dt.date(2026, 4, 2), dt.date(2026, 4, 29)),  # inside one month: all live
        (dt.date(2025, 6, 1), TODAY),
    ],
)
@pytest.mark.parametrize("store", ["all", "a"])
def test_cell_reports_equal_the_live_reports(
    data,  # noqa: F811
    start,
    end,
    store,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    world = data
    churn(world, django_capture_on_commit_callbacks)
    stores = None if store == "all" else frozenset({world.store_a.pk})
    f = f_for(world, start=start, end=end, store_ids=stores)
    p = sql._params(f)
    live, cells = ltv._ltv_rows_live(f, dict(p)), ltv._ltv_rows_cells(f, dict(p))
    assert _norm(live[0]) == _norm(cells[0])
    assert _norm(live[1]) == _norm(cells[1])
    # Every report: from the cells, then from the customers (the path a staff filter takes).
    via_cells = {name: fn(f) for name, fn in reports.REPORTS.items()}
    monkeypatch.setattr(reports.ReportFilter, "use_cells", lambda f: False)
    for name, fn in reports.REPORTS.items():
        via_live = fn(f)
        assert [t.rows for t in via_cells[name].tables] == [t.rows for t in via_live.tables], name
        assert [(s.label, s.value) for s in via_cells[name].stats] == [(s.label, s.value) for s in via_live.stats]


def test_other_organization_cells_stay_apart(world):
    generate(org=world.other_org, stores=[world.other_store], staff=[world.outsider], customers=8, seed=5)
    rollups.organization_rebuild(organization_id=world.org.pk)
    assert snapshot(world.org.pk, CELL_TABLES) == {t: {} for t in CELL_TABLES}


def test_a_rebuild_repairs_drifted_rows(data):  # noqa: F811
    """The rebuild writes only differences: every kind of difference must still be repaired."""
    world = data
    org = world.org.pk
    rollups.organization_rebuild(organization_id=org)
    good = snapshot(org, {**CELL_TABLES, **BUYER_TABLES})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id FROM analytics_buyerfact WHERE organization_id = %s ORDER BY customer_id", [org]
        )
        ids = [r[0] for r in cursor.fetchall()]
        cursor.execute("UPDATE analytics_customermonth SET revenue = revenue + 1 WHERE customer_id = %s", [ids[0]])
        cursor.execute("DELETE FROM analytics_customermonth WHERE customer_id = %s", [ids[1]])
        cursor.execute("DELETE FROM analytics_buyerfact WHERE customer_id = %s", [ids[2]])
        cursor.execute(
            "UPDATE analytics_buyerfact SET home_store_id = NULL, channel = 'x' WHERE customer_id = %s", [ids[3]]
        )
        cursor.execute(
            "INSERT INTO analytics_customermonth (organization_id, customer_id, month, cohort_month, orders, revenue)"
            " VALUES (%s, %s, '1999-01-01', '1999-01-01', 1, 5)",
            [org, ids[4]],
        )
        cursor.execute("UPDATE analytics_cohortmonth SET customers = customers + 5 WHERE organization_id = %s", [org])
        cursor.execute("DELETE FROM analytics_rfmcell WHERE organization_id = %s", [org])
        cursor.execute("UPDATE analytics_acquisitionmonth SET ltv = ltv + 1 WHERE organization_id = %s", [org])
    assert snapshot(org, {**CELL_TABLES, **BUYER_TABLES}) != good
    rollups.organization_rebuild(organization_id=org)
    assert snapshot(org, {**CELL_TABLES, **BUYER_TABLES}) == good


SUMS = ["new_customers", "churned", "orders", "gmv", "refunds", "private_orders", "private_gmv", "private_refunds"]


def store_cells(org_id: int) -> dict[tuple, tuple]:
    """DailyStoreRollup of an organization, and the same figures summed from DailyRollup over staff;
    all-zero cells left out."""
    cols = ", ".join(f"SUM({c})" for c in SUMS)
    out = {}
    with connection.cursor() as cursor:
        for table in ("analytics_dailystorerollup", "analytics_dailyrollup"):
            cursor.execute(
                f"SELECT day, store_id, channel, {cols} FROM {table} WHERE organization_id = %s GROUP BY 1, 2, 3",
                [org_id],
            )
            out[table] = {tuple(r[:3]): tuple(r[3:]) for r in cursor.fetchall() if any(r[3:])}
    return out


def test_the_store_cells_equal_the_staff_cells_summed_incrementally_and_after_a_rebuild(
    data,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    """Orders, refunds, merges and the customer-metrics refresh keep DailyStoreRollup equal to
    DailyRollup summed over staff; a rebuild writes the same cells."""
    world = data
    churn(world, django_capture_on_commit_callbacks)
    rollups.daily_customer_metrics_refresh(organization_id=world.org.pk, start=dt.date(2026, 1, 1), end=TODAY)
    incremental = store_cells(world.org.pk)
    assert incremental["analytics_dailystorerollup"] == incremental["analytics_dailyrollup"]
    stored = incremental["analytics_dailystorerollup"]
    assert any(v[0] for v in stored.values()) and any(v[1] for v in stored.values())  # new, churned
    assert any(v[4] for v in stored.values())  # refunds
    rollups.organization_rebuild(organization_id=world.org.pk)
    assert store_cells(world.org.pk)["analytics_dailystorerollup"] == stored
    # The other organization's cells are its own.
    assert store_cells(world.other_org.pk)["analytics_dailystorerollup"]
    assert not set(store_cells(world.other_org.pk)["analytics_dailystorerollup"]) & set(stored)


def test_a_customer_metrics_refresh_repairs_the_store_cells_of_its_days(data):  # noqa: F811
    world = data
    org = world.org.pk
    good = store_cells(org)["analytics_dailystorerollup"]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE analytics_dailystorerollup SET new_customers = new_customers + 3, churned = churned + 1"
            " WHERE organization_id = %s",
            [org],
        )
    assert store_cells(org)["analytics_dailystorerollup"] != good
    rollups.daily_customer_metrics_refresh(organization_id=org, start=dt.date(2025, 12, 1), end=TODAY)
    assert store_cells(org)["analytics_dailystorerollup"] == good
