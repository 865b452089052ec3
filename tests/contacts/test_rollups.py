"""contacts.services.customer_order_figures_set / customer_rfm_refresh: contacts writes the order
figures it is handed, scores RFM from them, and leaves unchanged rows alone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from contacts import services
from tests.factories import CustomerFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def test_it_writes_the_figures_and_zeroes_customers_without_orders() -> None:
    org = OrganizationFactory()
    buyer, stale = CustomerFactory(organization=org), CustomerFactory(organization=org)
    type(stale).objects.filter(pk=stale.pk).update(ltv=80, order_count=1, rfm_segment="general_develop")
    today = timezone.localdate()
    last = timezone.now() - dt.timedelta(days=10)
    figures = [
        services.OrderFigures(
            customer_id=buyer.pk,
            ltv=Decimal("1200.00"),
            order_count=3,
            first_order_at=last - dt.timedelta(days=50),
            last_order_at=last,
        )
    ]
    changed = services.customer_order_figures_set(customer_ids=[buyer.pk, stale.pk], figures=figures, today=today)
    assert changed == 2
    buyer.refresh_from_db()
    stale.refresh_from_db()
    assert (buyer.ltv, buyer.order_count, buyer.avg_order_value) == (Decimal("1200.00"), 3, Decimal("400.00"))
    assert (buyer.rfm_r, buyer.rfm_f, buyer.rfm_m, buyer.rfm_segment) == (5, 3, 4, "important_value")
    assert (stale.ltv, stale.order_count, stale.last_order_at, stale.rfm_segment) == (0, 0, None, "")
    # The same figures again change nothing.
    assert services.customer_order_figures_set(customer_ids=[buyer.pk, stale.pk], figures=figures, today=today) == 0


def test_the_nightly_rescore_moves_recency_with_the_calendar() -> None:
    org = OrganizationFactory()
    c = CustomerFactory(organization=org)
    last = timezone.now() - dt.timedelta(days=20)
    figures = [
        services.OrderFigures(
            customer_id=c.pk, ltv=Decimal("150.00"), order_count=1, first_order_at=last, last_order_at=last
        )
    ]
    services.customer_order_figures_set(customer_ids=[c.pk], figures=figures)
    c.refresh_from_db()
    assert (c.rfm_r, c.rfm_segment) == (5, "general_develop")
    later = timezone.localdate() + dt.timedelta(days=100)
    assert services.customer_rfm_refresh(organization_id=org.pk, today=later) == 1
    c.refresh_from_db()
    assert (c.rfm_r, c.rfm_segment, c.ltv, c.order_count) == (3, "general_retain", Decimal("150.00"), 1)
