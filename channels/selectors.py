"""Reads of channel data (other apps use these, never the models' managers directly)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet, Subquery
from django.urls import reverse

from channels.models import (
    ChannelAccount,
    ChannelPlatform,
    ContactWay,
    InboxEvent,
    InboxStatus,
    Lead,
    Material,
    MaterialKind,
)
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


def operator_todo_counts(*, actor: Actor) -> dict[str, int]:
    """Operators: failed inbox events (replayed from the inbox) and leads with no store (nobody follows
    them up until one is given). Empty for other roles, who cannot open those pages. One query."""
    if not actor.is_operator:
        return {}

    def count(qs: QuerySet[Any]) -> Subquery:
        return Subquery(actor.scope(qs).order_by().values("organization_id").annotate(n=Count("id")).values("n"))

    row = (
        actor.scope(Organization.objects.all())
        .annotate(
            failed_inbox=count(InboxEvent.objects.filter(status=InboxStatus.FAILED)),
            unassigned_leads=count(Lead.objects.filter(store__isnull=True)),
        )
        .values("failed_inbox", "unassigned_leads")
        .first()
    )
    if row is None:
        return {"failed_inbox": 0, "unassigned_leads": 0}
    return {"failed_inbox": int(row["failed_inbox"] or 0), "unassigned_leads": int(row["unassigned_leads"] or 0)}


def contact_way_names_for_states(organization_id: int, states: set[str]) -> dict[str, str]:
    """The 活码 name for each of these states (contacts.labels.state_labels). One query."""
    rows = ContactWay.objects.filter(organization_id=organization_id, state__in=states).order_by("-id")
    return dict(rows.values_list("state", "name"))


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
