"""Load the demo brand once (``make run`` calls this; a second call does nothing)."""

from __future__ import annotations

import random
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from analytics import demo as analytics_demo
from campaigns import demo as campaigns_demo
from channels import demo as channels_demo
from contacts import demo as contacts_demo
from contacts import services as contact_services
from contacts.models import Organization
from journeys import demo as journeys_demo
from journeys import group_demo as group_sop_demo
from referrals import demo as referrals_demo

DEMO_SLUG = "demo"
# Each higher layer adds its part of the demo in ``<app>/demo.py`` with ``load(context=…, rng=…)``,
# in layer order: what a layer loads may use what the layers below it loaded.
LAYERS = [analytics_demo, channels_demo, campaigns_demo, journeys_demo, group_sop_demo, referrals_demo]


class Command(BaseCommand):
    help = "Load the demo brand (stores, staff, customers, tags, groups, orders…) if it is not there."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=20261123)
        parser.add_argument("--customers", type=int, default=3000)

    def handle(self, *args: Any, seed: int, customers: int, **options: Any) -> None:
        if Organization.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write("demo brand already loaded")
            return
        rng = random.Random(seed)
        with transaction.atomic():
            org = Organization.objects.create(name="悦享生活（示例品牌）", slug=DEMO_SLUG)
            context = contacts_demo.load(organization=org, rng=rng, customers=customers)
            context["organization"] = org
            for layer in LAYERS:
                layer.load(context=context, rng=rng)
            # Bulk-loaded follows and orders bypassed the services: derive every stage once, set-based.
            contact_services.organization_lifecycle_refresh(organization_id=org.pk)
            contacts_demo.load_rules(context=context)
        self.stdout.write(self.style.SUCCESS(f"demo brand loaded: {len(context['customers'])} customers"))
