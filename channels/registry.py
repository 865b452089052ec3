"""How a platform plugs into the shared webhook endpoint and the inbox.

A platform registers two functions (in its ``AppConfig.ready()`` or on import of its module):

* ``receive(request, account) -> Received``: verify the request (signature, decryption) and split it
  into events, WITHOUT touching the database. Raise :class:`WebhookRejected` to refuse it (403 bad
  signature, 400 malformed, 413 too large). ``Received.response`` is what the platform expects back.
* ``process(event: InboxEvent) -> str``: apply one stored event through the domain services. Runs in
  a Celery task inside a transaction (unless ``atomic=False``); raising marks the event failed (kept
  with its error, replayable).
  Return a short note ("", or e.g. "ignored: …" to mark it ignored).

    from channels.registry import Plugin, register
    register(Plugin(platform="douyin", receive=douyin_receive, process=douyin_process))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from channels.models import ChannelAccount, InboxEvent


class WebhookRejected(Exception):
    """Refuse an inbound request: nothing is stored; ``status`` and ``message`` go back to the caller."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class IncomingEvent:
    event_key: str  # the platform's identity of the event (dedupe key), ≤ 200 characters
    body: str  # the verified (decrypted) payload, as the platform sent it
    event_type: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Received:
    response: HttpResponse
    events: list[IncomingEvent] = field(default_factory=list)


IGNORED_PREFIX = "ignored:"


@dataclass
class Plugin:
    platform: str
    receive: Callable[[HttpRequest, ChannelAccount], Received] | None = None
    process: Callable[[InboxEvent], str] | None = None
    # Largest request body accepted before reading it (413 above).
    max_body_bytes: int = 256 * 1024
    # Run ``process`` inside one transaction (default). False: the processor manages its own
    # transactions, e.g. because it calls the platform between writes; its writes must be idempotent.
    atomic: bool = True


_PLUGINS: dict[str, Plugin] = {}


def register(plugin: Plugin) -> None:
    _PLUGINS[plugin.platform] = plugin


def plugin_for(platform: str) -> Plugin | None:
    return _PLUGINS.get(platform)


def registered() -> dict[str, Plugin]:
    return dict(_PLUGINS)
