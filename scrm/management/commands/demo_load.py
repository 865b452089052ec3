"""Load the demo brand once (``make run`` calls this; a second call does nothing)."""

from __future__ import annotations

import importlib
import random
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from contacts import demo as contacts_demo
from contacts.models import Organization

DEMO_SLUG = "demo"
# Each higher layer may add its part of the demo in ``<app>/demo.py`` with ``load(context, rng)``.
LAYERS = ["analytics", "channels", "campaigns"]


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
                try:
                    module = importlib.import_module(f"{layer}.demo")
                except ModuleNotFoundError:
                    continue
                module.load(context=context, rng=rng)
        self.stdout.write(self.style.SUCCESS(f"demo brand loaded: {len(context['customers'])} customers"))
