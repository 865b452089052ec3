"""数据概览's daily table is paginated (issue 13): 31 days a page, filters kept, exports whole."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.analytics.factories import at, record
from tests.conftest import World
from tests.factories import CustomerFactory


@pytest.mark.django_db
def test_the_daily_table_is_paginated_and_keeps_the_filters(world: World) -> None:
    customer = CustomerFactory(organization=world.org, home_store=world.store_a)
    first = dt.date(2026, 3, 1)
    for i in range(40):  # 40 days with an order each
        day = first + dt.timedelta(days=i)
        record(customer, 100 + i, at(day.year, day.month, day.day), f"P{i}")
    client = world.client_for(world.operator)
    base = "/reports/?start=2026-03-01&end=2026-04-30"

    def days(html: str) -> list[str]:
        table = re.search(r'data-table="daily">(.*?)</table>', html, re.S)
        assert table is not None
        return re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>", table.group(1))

    page1 = client.get(base).content.decode()
    assert len(days(page1)) == 31
    assert days(page1)[0] == "2026-04-09"  # newest first
    assert "第 1 / 2 页" in page1
    assert 'href="?start=2026-03-01&amp;end=2026-04-30&daily_page=2"' in page1
    page2 = client.get(base + "&daily_page=2").content.decode()
    assert len(days(page2)) == 9 and days(page2)[-1] == "2026-03-01"
    # A page number out of range or not a number shows a page, never an error.
    assert client.get(base + "&daily_page=99").status_code == 200
    assert client.get(base + "&daily_page=x").status_code == 200
    # The export still holds every day.
    csv = client.get("/reports/overview/export.csv?start=2026-03-01&end=2026-04-30")
    assert csv.status_code == 200
    lines = b"".join(csv.streaming_content if csv.streaming else [csv.content]).decode("utf-8-sig").splitlines()
    assert sum(1 for line in lines if line.startswith("2026-")) == 40
