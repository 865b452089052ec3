"""Rebuild every analytics rollup from the facts: ``python manage.py analytics_rebuild [--org slug]``."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from analytics.services import analytics_rebuild
from contacts.models import Organization


class Command(BaseCommand):
    help = "Rebuild the daily, per-customer and cohort rollups of one organization (or all) from orders."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--org", help="organization slug (default: every organization)")

    def handle(self, *args: Any, org: str | None = None, **options: Any) -> None:
        orgs = Organization.objects.order_by("pk")
        if org:
            orgs = orgs.filter(slug=org)
            if not orgs.exists():
                raise CommandError(f"no organization with slug {org!r}")
        for organization in orgs:
            started = time.monotonic()
            result = analytics_rebuild(organization_id=organization.pk)
            self.stdout.write(
                f"{organization.slug}: {result['daily_cells']} daily cells, "
                f"{result['customers_changed']} customers updated in {time.monotonic() - started:.2f}s"
            )
