"""The sandbox WeCom corp the demo connects to (well-known test credentials, never real ones)."""

from __future__ import annotations

import os

from channels.sandbox.wecom import WeComFake

CORP_ID = os.environ.get("SANDBOX_WECOM_CORP_ID", "wwsandbox00000001")
SECRET = os.environ.get("SANDBOX_WECOM_SECRET", "sandbox-secret-not-real")
TOKEN = os.environ.get("SANDBOX_WECOM_TOKEN", "sandboxToken")
# 43 characters of Base64 (the EncodingAESKey format).
AES_KEY = os.environ.get("SANDBOX_WECOM_AES_KEY", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
CALLBACK_URL = os.environ.get("SANDBOX_WECOM_CALLBACK_URL", "")
DEMO_MEMBERS = [
    ("linyue", "运营 · 林悦"),
    ("chenjing", "店长 · 陈静"),
    ("wangfang", "导购 · 王芳"),
]


def seed_demo_corp(fake: WeComFake) -> None:
    fake.add_corp(CORP_ID, SECRET, token=TOKEN, aes_key=AES_KEY, callback_url=CALLBACK_URL)
    for userid, name in DEMO_MEMBERS:
        fake.add_member(userid, name, corp_id=CORP_ID)
