import random

import pytest

from campaigns import demo
from campaigns.models import Campaign, CampaignStatus, DeliveryStatus
from contacts import demo as contacts_demo
from contacts.models import Organization

pytestmark = pytest.mark.django_db


def test_demo_has_finished_and_scheduled_campaigns():
    org = Organization.objects.create(name="示例", slug="demo-test")
    rng = random.Random(1)
    context = contacts_demo.load(organization=org, rng=rng, customers=150)
    context["organization"] = org
    demo.load(context=context, rng=rng)
    done = Campaign.objects.filter(organization=org, status=CampaignStatus.DONE)
    assert done.count() == 2
    for c in done:
        assert c.deliveries.filter(status=DeliveryStatus.DELIVERED).exists(), (c.name, c.stats)
        assert c.stats["delivered"] > 0
    assert Campaign.objects.filter(organization=org, status=CampaignStatus.SCHEDULED, due_at__isnull=False).exists()
    assert Campaign.objects.filter(organization=org, status=CampaignStatus.PENDING_APPROVAL).exists()
