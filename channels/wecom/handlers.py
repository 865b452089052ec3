"""Apply stored WeCom events through the contacts services (filled in below)."""

from __future__ import annotations

from channels.models import InboxEvent


def process_event(event: InboxEvent) -> str:
    return "ignored: WeCom event processing not wired yet"


def connect_tag_listener() -> None:
    return None
