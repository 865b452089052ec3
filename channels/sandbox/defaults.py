"""The sandbox WeCom corp the demo connects to (well-known test credentials, never real ones)."""

from __future__ import annotations

import os

from channels.sandbox.wecom import WeComFake

# The contacts demo gives its customers WeCom identities of the corp "demo_corp".
CORP_ID = os.environ.get("SANDBOX_WECOM_CORP_ID", "demo_corp")
SECRET = os.environ.get("SANDBOX_WECOM_SECRET", "sandbox-secret-not-real")
TOKEN = os.environ.get("SANDBOX_WECOM_TOKEN", "sandboxToken")
# 43 characters of Base64 (the EncodingAESKey format).
AES_KEY = os.environ.get("SANDBOX_WECOM_AES_KEY", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
CALLBACK_URL = os.environ.get("SANDBOX_WECOM_CALLBACK_URL", "")


def seed_demo_corp(fake: WeComFake) -> None:
    """An empty demo corp; ``manage.py channels_sandbox_seed`` mirrors the demo database into it."""
    fake.add_corp(CORP_ID, SECRET, token=TOKEN, aes_key=AES_KEY, callback_url=CALLBACK_URL)
