"""``python manage.py channels_sandbox_seed``: mirror the demo database into the running WeCom sandbox.

Run it after ``python -m channels.sandbox`` starts (the fake forgets everything when it stops).
Only accounts whose API base is a loopback sandbox are touched.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from channels.models import ChannelAccount, ChannelPlatform
from channels.wecom.sandbox_seed import SandboxUnavailable, seed_sandbox

LOOPBACK = ("http://127.0.0.1", "http://localhost", "http://[::1]")


class Command(BaseCommand):
    help = "Load members, customers, groups and 活码 of sandbox WeCom accounts into the running sandbox."

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = ChannelAccount.objects.filter(platform=ChannelPlatform.WECOM, is_active=True)
        for account in accounts:
            if not account.api_base.startswith(LOOPBACK):
                continue
            try:
                result = seed_sandbox(account=account)
            except SandboxUnavailable as exc:
                self.stderr.write(f"{account.name}: {exc}")
                continue
            self.stdout.write(f"{account.name}: {result}")
