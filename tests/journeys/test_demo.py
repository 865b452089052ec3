"""The demo brand (make run) has journeys from the templates with customers at several steps."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from contacts.models import CustomField, Organization
from journeys.models import Enrollment, Journey, JourneyStatus, StepKind
from offers.models import IssuedCoupon
from todos.models import Todo, TodoStatus

pytestmark = pytest.mark.django_db


def test_demo_brand_has_running_journeys_with_customers_at_several_steps() -> None:
    call_command("demo_load", customers=200, seed=7, verbosity=0)
    org = Organization.objects.get(slug="demo")
    journeys = {j.template: j for j in Journey.objects.filter(organization=org)}
    assert set(journeys) == {"new_friend", "birthday", "win_back"}
    assert all(j.status == JourneyStatus.ACTIVE for j in journeys.values())
    new_friend = journeys["new_friend"]
    assert new_friend.steps.order_by("position").first().kind == StepKind.COUPON
    at = set(Enrollment.objects.filter(journey=new_friend, state="waiting").values_list("step__position", flat=True))
    assert len(at) >= 2
    assert IssuedCoupon.objects.filter(organization=org).exists()
    birthday = journeys["birthday"]
    assert birthday.trigger_field == CustomField.objects.get(organization=org, label="生日")
    assert Enrollment.objects.filter(journey=birthday).exists()
    tasks = Todo.objects.filter(organization=org, payload__journey_id=new_friend.pk)
    assert tasks.filter(status=TodoStatus.DONE).exists() and tasks.filter(status=TodoStatus.OPEN).exists()
