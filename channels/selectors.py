"""Reads of channel data (other apps use these, never the models' managers directly)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count
from django.urls import reverse

from channels.models import ChannelAccount, ChannelPlatform, ContactWay
from contacts.access import Actor
from contacts.models import Follow, Organization


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


def adds_by_state(*, actor: Actor, states: list[str]) -> dict[str, int]:
    """Adds per 活码 / 获客链接 state the actor may see (every follow that came with it), one grouped query."""
    if not states:
        return {}
    rows = (
        actor.scope(Follow.objects.filter(state__in=states))
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return dict(rows)
