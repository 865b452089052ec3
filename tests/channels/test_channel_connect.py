from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from channels.models import ChannelAccount


def test_channel_connect_creates_the_account_and_prints_its_callback_url(world, wecom_sandbox):
    out = io.StringIO()
    args = ["wecom", "--org", "acme", "--corp-id", wecom_sandbox.corp_id, "--secret", wecom_sandbox.secret,
            "--token", wecom_sandbox.token, "--aes-key", wecom_sandbox.aes_key, "--api-base", wecom_sandbox.base_url,
            "--store", "A", "--test"]  # fmt: skip
    call_command("channel_connect", *args, stdout=out, stderr=io.StringIO())
    account = ChannelAccount.objects.get()
    assert out.getvalue().strip().endswith(f"/hooks/wecom/{account.hook_key}/")
    assert account.organization == world.org and account.default_store == world.store_a
    assert account.credentials()["token"] == wecom_sandbox.token and account.last_test_ok
    call_command("channel_connect", *args, stdout=io.StringIO(), stderr=io.StringIO())  # idempotent
    assert ChannelAccount.objects.count() == 1


def test_channel_connect_refuses_bad_input(world):
    with pytest.raises(CommandError, match="slug"):
        call_command(
            "channel_connect",
            "wecom",
            "--org",
            "nope",
            "--corp-id",
            "c",
            "--secret",
            "s",
            "--token",
            "t",
            "--aes-key",
            "a" * 43,
        )
    with pytest.raises(CommandError, match="43"):
        call_command(
            "channel_connect",
            "wecom",
            "--org",
            "acme",
            "--corp-id",
            "c",
            "--secret",
            "s",
            "--token",
            "t",
            "--aes-key",
            "short",
        )
