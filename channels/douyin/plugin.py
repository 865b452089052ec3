"""How Douyin and Ocean Engine plug into the webhook endpoint, the inbox and the account console.

* ``douyin``: Douyin open-platform pushes — ``X-Douyin-Signature = sha1(client_secret + raw body)``
  (403, nothing stored, when wrong), the ``verify_webhook`` challenge answered inline, every other
  event stored under its ``Msg-Id`` (Douyin retries 3 times; a replay is a no-op) and processed later
  (docs/platforms.md#douyin-webhooks). Credentials ``{client_secret}``, ``external_id`` = client_key.
* ``ocean_engine``: no webhook; leads are pulled (``channels.douyin.tasks``). Its connection test
  reads one minute of leads from both the ad and the 本地推 APIs.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django import forms
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels import payload
from channels.douyin import crypto
from channels.douyin.client import OceanEngineError
from channels.douyin.services import (
    advertiser_ids,
    douyin_client_secret,
    douyin_event_process,
    local_account_ids,
    ocean_engine_client,
)
from channels.models import ChannelAccount, ChannelPlatform, InboxEvent
from channels.registry import AccountSpec, IncomingEvent, Plugin, Received, WebhookRejected, register

MAX_BODY = 64 * 1024  # Douyin pushes small JSON documents


def parse_body(raw_body: bytes) -> dict[str, Any]:
    """Decode a signed JSON envelope; raises ``ValueError`` (a ``PayloadError``) saying what is wrong."""
    body = payload.json_loads(raw_body)
    if not isinstance(body, dict) or not body.get("event"):
        raise payload.PayloadError("缺少 event 字段")
    if not isinstance(body["event"], str):
        raise payload.PayloadError("event 字段应为字符串")
    return body


def challenge_response(body: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to ``verify_webhook`` (``{"challenge": n}``), or ``None`` for any other event.

    Raises ``PayloadError`` when ``content`` is neither an object nor a JSON string of one.
    """
    if body.get("event") != "verify_webhook":
        return None
    content = body.get("content") or {}
    if isinstance(content, str):
        content = payload.json_loads(content or "{}", what="content")
    return {"challenge": payload.obj(content, "content").get("challenge")}


def event_identity(*, headers: Any, body: dict[str, Any]) -> str:
    """Dedupe key: the ``Msg-Id`` header, else the body's ``log_id``, else a hash of the event."""
    msg_id = headers.get("Msg-Id") or headers.get("HTTP_MSG_ID") or ""
    if msg_id:
        return str(msg_id)[:128]
    if body.get("log_id"):
        return f"log:{body['log_id']}"[:128]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"sha:{digest}"


def receive(request: HttpRequest, account: ChannelAccount) -> Received:
    if request.method != "POST":
        raise WebhookRejected(405, "只接受 POST")
    raw = request.body
    signature = request.headers.get(crypto.SIGNATURE_HEADER, "")
    if not crypto.signature_valid(client_secret=douyin_client_secret(account), raw_body=raw, signature=signature):
        raise WebhookRejected(403, "签名校验失败：请核对渠道账号的 client_secret")
    # Signed: only now is the body decoded and parsed, inside a guard (any parse error → 400, nothing stored).
    try:
        body = parse_body(raw)
        challenge = challenge_response(body)
    except ValueError as exc:
        raise WebhookRejected(400, str(exc)) from exc
    if challenge is not None:
        return Received(response=JsonResponse(challenge))
    event_key = event_identity(headers=request.headers, body=body)
    return Received(
        response=JsonResponse({"err_no": 0, "err_tips": "success"}),
        events=[IncomingEvent(event_key=event_key, body=raw.decode("utf-8"), event_type=str(body["event"])[:80])],
    )


def process(event: InboxEvent) -> str:
    return douyin_event_process(account=event.account, body=event.body, event_key=event.event_key)


def ocean_engine_test(account: ChannelAccount) -> tuple[bool, str]:
    now = timezone.localtime()
    client = ocean_engine_client(account)
    try:
        client.clue_page(advertiser_ids=advertiser_ids(account), start=now - timedelta(minutes=1), end=now, page_size=1)
        local = local_account_ids(account)[:50]
        if local:
            client.life_clue_page(local_account_ids=local, start=now - timedelta(minutes=1), end=now, page_size=1)
            return True, "连接成功：巨量引擎线索接口和本地推线索接口可用"
    except OceanEngineError as exc:
        return False, f"巨量引擎返回错误 {exc.code}：{exc.message}。请核对 Access-Token、广告主 ID 和本地推账户 ID"
    return True, "连接成功：巨量引擎线索接口可用"


# -- the Ocean Engine account form: several advertiser ids, optional 本地推 accounts -------------------
def _digit_list(value: str) -> list[str]:
    return [part.strip() for part in value.replace("，", ",").split(",") if part.strip()]


def _ocean_engine_fields() -> dict[str, forms.Field]:
    return {
        "local_account_ids": forms.CharField(
            label=_("本地推账户 ID"),
            required=False,
            max_length=2000,
            help_text=_("抖音来客 / 本地推的本地账户 ID，多个用逗号分隔；填写后也拉取本地推线索（团购、到店咨询）"),
        )
    }


def _ocean_engine_clean(data: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    ids = _digit_list(str(data.get("external_id") or ""))
    if not ids or not all(part.isdigit() for part in ids):
        errors["external_id"] = _("广告主 ID 应为数字，多个用逗号分隔")
    local = _digit_list(str(data.get("local_account_ids") or ""))
    if not all(part.isdigit() for part in local):
        errors["local_account_ids"] = _("本地推账户 ID 应为数字，多个用逗号分隔")
    if errors:
        raise forms.ValidationError(errors)
    data["external_id"] = ",".join(ids)
    data["local_account_ids"] = ",".join(local)


def _ocean_engine_account(data: dict[str, Any], account: ChannelAccount | None) -> tuple[str, dict[str, Any] | None]:
    ids = [int(i) for i in data["external_id"].split(",")]
    local_ids = [int(i) for i in data.get("local_account_ids", "").split(",") if i]
    settings = {**(account.settings if account else {}), "advertiser_ids": ids, "local_account_ids": local_ids}
    return str(ids[0]), settings


def _ocean_engine_initial(account: ChannelAccount) -> dict[str, Any]:
    ids = (account.settings or {}).get("advertiser_ids")
    local_ids = (account.settings or {}).get("local_account_ids") or []
    return {
        "external_id": ",".join(str(i) for i in ids) if ids else account.external_id,
        "local_account_ids": ",".join(str(i) for i in local_ids),
    }


def ready() -> None:
    register(
        Plugin(
            platform=ChannelPlatform.DOUYIN,
            receive=receive,
            process=process,
            max_body_bytes=MAX_BODY,
            account=AccountSpec(
                external_id_label=gettext_lazy("Client Key"),
                secrets=(("client_secret", gettext_lazy("Client Secret")),),
                has_webhook=True,
            ),
        )
    )
    register(
        Plugin(
            platform=ChannelPlatform.OCEAN_ENGINE,
            connection_test=ocean_engine_test,
            account=AccountSpec(
                external_id_label=gettext_lazy("广告主 ID（多个用逗号分隔）"),
                secrets=(("access_token", gettext_lazy("Access-Token")),),
                extra_fields=_ocean_engine_fields,
                clean=_ocean_engine_clean,
                to_account=_ocean_engine_account,
                initial=_ocean_engine_initial,
            ),
        )
    )
