"""Lifecycle stages follow orders and follows (contacts.services.lifecycle), on every path that moves them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from analytics import services as order_services
from contacts import services
from contacts.models import Customer, Lifecycle, Organization, SegmentFact
from contacts.tasks import lifecycle_refresh_all_task
from tests.analytics.factories import record
from tests.factories import CustomerFactory, OrganizationFactory, StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Organization:
    return OrganizationFactory(slug="life")


def _stage(customer: Customer) -> str:
    customer.refresh_from_db(fields=["lifecycle"])
    return customer.lifecycle


def _followed(org: Organization, **kw: Any) -> tuple[Customer, Any]:
    store = StoreFactory(organization=org)
    customer = CustomerFactory(organization=org, home_store=store, lifecycle=Lifecycle.LEAD, **kw)
    staff = StaffFactory(organization=org, store=store)
    services.follow_upsert(customer=customer, staff=staff)
    return customer, staff


def test_a_new_follow_makes_a_lead_a_prospect(org: Organization) -> None:
    customer, _staff = _followed(org)
    assert _stage(customer) == Lifecycle.PROSPECT
    assert SegmentFact.objects.get(pk=customer.pk).lifecycle == Lifecycle.PROSPECT


def test_first_order_makes_a_customer_and_the_second_a_repeat_buyer(org: Organization) -> None:
    customer, _staff = _followed(org)
    now = timezone.now()
    record(customer, "100", now - dt.timedelta(days=3), "o1")
    assert _stage(customer) == Lifecycle.CUSTOMER
    record(customer, "80", now - dt.timedelta(days=1), "o2")
    assert _stage(customer) == Lifecycle.REPEAT


def test_the_brand_sets_how_many_orders_make_a_repeat_buyer(org: Organization) -> None:
    Organization.objects.filter(pk=org.pk).update(lifecycle_repeat_orders=3)
    customer, _staff = _followed(org)
    now = timezone.now()
    record(customer, "100", now - dt.timedelta(days=3), "o1")
    record(customer, "100", now - dt.timedelta(days=2), "o2")
    assert _stage(customer) == Lifecycle.CUSTOMER
    record(customer, "100", now - dt.timedelta(days=1), "o3")
    assert _stage(customer) == Lifecycle.REPEAT


def test_refunding_the_only_order_makes_a_prospect_again(org: Organization) -> None:
    customer, _staff = _followed(org)
    order = record(customer, "100", timezone.now() - dt.timedelta(days=2), "o1")
    assert _stage(customer) == Lifecycle.CUSTOMER
    order_services.order_refund(order=order, amount=Decimal("100"), at=timezone.now())
    assert _stage(customer) == Lifecycle.PROSPECT


def test_a_buyer_idle_past_the_brands_days_is_dormant_from_the_nightly_task(org: Organization) -> None:
    Organization.objects.filter(pk=org.pk).update(lifecycle_dormant_days=30)
    customer, _staff = _followed(org)
    record(customer, "100", timezone.now() - dt.timedelta(days=20), "o1")
    assert _stage(customer) == Lifecycle.CUSTOMER
    today = timezone.localdate()
    # The injected clock: ten days on, the order is 30 days old (not past), eleven days on it is 31.
    assert services.organization_lifecycle_refresh(organization_id=org.pk, today=today + dt.timedelta(days=10)) == 0
    assert _stage(customer) == Lifecycle.CUSTOMER
    assert services.organization_lifecycle_refresh(organization_id=org.pk, today=today + dt.timedelta(days=11)) == 1
    assert _stage(customer) == Lifecycle.DORMANT
    # A new order wakes them up.
    record(customer, "50", timezone.now(), "o2")
    assert _stage(customer) == Lifecycle.REPEAT


def test_the_beat_task_moves_an_old_buyer_to_dormant(org: Organization) -> None:
    customer, _staff = _followed(org)
    record(customer, "100", timezone.now() - dt.timedelta(days=5), "o1")
    Customer.objects.filter(pk=customer.pk).update(last_order_at=timezone.now() - dt.timedelta(days=400))
    lifecycle_refresh_all_task()
    assert _stage(customer) == Lifecycle.DORMANT


def test_zero_dormant_days_turns_the_idle_rule_off(org: Organization) -> None:
    Organization.objects.filter(pk=org.pk).update(lifecycle_dormant_days=0)
    customer, _staff = _followed(org)
    record(customer, "100", timezone.now() - dt.timedelta(days=900), "o1")
    assert _stage(customer) == Lifecycle.CUSTOMER


def test_deleting_every_follow_churns_even_a_repeat_buyer(org: Organization) -> None:
    customer, staff = _followed(org)
    second = StaffFactory(organization=org, store=customer.home_store)
    services.follow_upsert(customer=customer, staff=second)
    now = timezone.now()
    record(customer, "100", now - dt.timedelta(days=3), "o1")
    record(customer, "100", now - dt.timedelta(days=2), "o2")
    services.follow_end(customer=customer, staff=staff, by="customer")
    assert _stage(customer) == Lifecycle.REPEAT  # one follow is still live
    services.follow_end(customer=customer, staff=second, by="customer")
    assert _stage(customer) == Lifecycle.CHURNED
    # Added again: back to what their orders say.
    services.follow_upsert(customer=customer, staff=second)
    assert _stage(customer) == Lifecycle.REPEAT


def test_churn_on_unfollow_can_be_turned_off(org: Organization) -> None:
    Organization.objects.filter(pk=org.pk).update(lifecycle_churn_on_unfollow=False)
    customer, staff = _followed(org)
    services.follow_end(customer=customer, staff=staff, by="customer")
    assert _stage(customer) == Lifecycle.PROSPECT


def test_an_imported_stage_without_follows_or_orders_is_kept(org: Organization) -> None:
    lead = CustomerFactory(organization=org, lifecycle=Lifecycle.LEAD)
    prospect = CustomerFactory(organization=org, lifecycle=Lifecycle.PROSPECT)
    services.organization_lifecycle_refresh(organization_id=org.pk)
    assert (_stage(lead), _stage(prospect)) == (Lifecycle.LEAD, Lifecycle.PROSPECT)


def test_a_refresh_is_one_statement_however_many_customers(org: Organization, django_assert_num_queries: Any) -> None:
    ids = [CustomerFactory(organization=org).pk for _ in range(30)]
    with django_assert_num_queries(1):
        services.customer_lifecycle_refresh(customer_ids=ids)
