"""Reads of channel data (other apps use these, never the models' managers directly)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from channels.models import ChannelAccount, ChannelPlatform, ContactWay, Material, MaterialKind
from contacts.access import Actor
from contacts.models import Organization


def wecom_account_for(*, organization: Organization) -> ChannelAccount | None:
    """The organization's active WeCom account (the oldest one when several are connected)."""
    return (
        ChannelAccount.objects.filter(organization=organization, platform=ChannelPlatform.WECOM, is_active=True)
        .order_by("id")
        .first()
    )


def callback_url(account: ChannelAccount) -> str:
    """The URL to paste into the platform's console (WeCom 接收事件服务器 URL)."""
    path = reverse("channels:webhook", kwargs={"platform": account.platform, "key": account.hook_key})
    return f"{settings.PUBLIC_BASE_URL}{path}"


def sidebar_login_url(account: ChannelAccount) -> str:
    """The URL to set as WeCom's 聊天工具栏 page: signs the member in, then opens the sidebar."""
    path = reverse("channels:wecom_login", kwargs={"key": account.hook_key})
    return f"{settings.PUBLIC_BASE_URL}{path}?next={reverse('contacts:sidebar')}"


def contact_way_for_state(*, account: ChannelAccount, state: str) -> ContactWay | None:
    if not state:
        return None
    return (
        ContactWay.objects.filter(account=account, state=state)
        .select_related("store")
        .prefetch_related("tags", "staff")
        .first()
    )


# -- the material library (素材库) ---------------------------------------------------------------
def materials_for(actor: Actor, kind: str = "") -> Any:
    """The actor's library (newest first), optionally one kind; the bytes are left out."""
    qs = actor.scope(Material.objects.defer("data"))
    return qs.filter(kind=kind) if kind in MaterialKind.values else qs


def picker_options(actor: Actor, limit: int = 200) -> list[dict[str, Any]]:
    """What the material pickers (wizard, welcome editors) offer: id, name, kind and a preview URL."""
    return [
        {
            "id": m.pk,
            "name": m.name,
            "kind": m.kind,
            "url": reverse("channels:material_file", args=[m.pk]),
        }
        for m in materials_for(actor).only("pk", "name", "kind")[:limit]
    ]
