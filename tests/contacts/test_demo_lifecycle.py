"""The demo brand shows a real spread of lifecycle stages: every stage has customers."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Count

from contacts.models import Customer, CustomerTag, Lifecycle, Organization


@pytest.mark.django_db
def test_every_lifecycle_stage_has_demo_customers(db: Any) -> None:
    call_command("demo_load", customers=400, seed=20261123, verbosity=0)
    demo = Organization.objects.get(slug="demo")
    counts = dict(
        Customer.objects.filter(organization=demo).values_list("lifecycle").annotate(n=Count("id")).order_by()
    )
    missing = [str(label) for value, label in Lifecycle.choices if not counts.get(value)]
    assert not missing, f"stages without customers: {missing} ({counts})"
    # The stages agree with the rules: every repeat buyer has at least the brand's repeat orders.
    assert not Customer.objects.filter(
        organization=demo, lifecycle=Lifecycle.REPEAT, order_count__lt=demo.lifecycle_repeat_orders
    ).exists()
    # The demo's tagging rule ran: exactly the customers with three or more orders carry 复购达人.
    rule = demo.tag_rules.get()
    tagged = set(CustomerTag.objects.filter(tag=rule.tag).values_list("customer_id", flat=True))
    three = set(Customer.objects.filter(organization=demo, order_count__gte=3).values_list("pk", flat=True))
    assert tagged == three and three
