"""``python manage.py channel_connect wecom --org <slug> --corp-id … --secret … --token … --aes-key …``

Connects (or updates) a platform account for scripted setups and prints its callback URL.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from channels.models import ChannelPlatform
from channels.selectors import callback_url, sidebar_login_url
from channels.services import channel_account_connect, channel_account_test
from contacts.models import Organization, Store


class Command(BaseCommand):
    help = "Connect a platform account (WeCom) to an organization and print its callback URL."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("platform", choices=[ChannelPlatform.WECOM.value])
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--corp-id", required=True)
        parser.add_argument("--secret", required=True, help="secret of the self-built app under 客户联系")
        parser.add_argument("--token", required=True, help="callback Token")
        parser.add_argument("--aes-key", required=True, help="callback EncodingAESKey (43 characters)")
        parser.add_argument("--agent-id", default="")
        parser.add_argument("--api-base", default="", help="e.g. http://127.0.0.1:8001 for the sandbox")
        parser.add_argument("--name", default="企业微信")
        parser.add_argument("--store", default="", help="code of the default store")
        parser.add_argument("--test", action="store_true", help="call WeCom with the credentials after saving")

    def handle(self, *args: Any, **opts: Any) -> None:
        organization = Organization.objects.filter(slug=opts["org"]).first()
        if organization is None:
            raise CommandError(f"no organization with slug {opts['org']!r}")
        if len(opts["aes_key"]) != 43:
            raise CommandError("--aes-key must be the 43-character EncodingAESKey")
        store = None
        if opts["store"]:
            store = Store.objects.filter(organization=organization, code=opts["store"]).first()
            if store is None:
                raise CommandError(f"no store with code {opts['store']!r} in {organization.slug}")
        account = channel_account_connect(
            organization=organization,
            platform=opts["platform"],
            name=opts["name"],
            external_id=opts["corp_id"],
            credentials={"secret": opts["secret"], "token": opts["token"], "aes_key": opts["aes_key"]},
            agent_id=opts["agent_id"],
            api_base=opts["api_base"],
            default_store=store,
        )
        if opts["test"]:
            ok, message = channel_account_test(account=account)
            self.stderr.write(message)
            if not ok:
                raise CommandError("connection test failed")
        # stdout stays the callback URL alone (scripts read it); the sidebar page goes to stderr.
        self.stderr.write(f"聊天工具栏页面 / chat toolbar page: {sidebar_login_url(account)}")
        self.stdout.write(callback_url(account))
