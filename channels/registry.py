"""How a platform plugs into the shared webhook endpoint and the inbox.

Each platform folder has a ``plugin.py`` whose ``ready()`` (called from ``ChannelsConfig.ready()``)
registers one :class:`Plugin` per platform it serves. A plugin may carry:

* ``receive(request, account) -> Received``: verify the request (signature, decryption) and split it
  into events, WITHOUT touching the database. Raise :class:`WebhookRejected` to refuse it (403 bad
  signature, 400 malformed, 413 too large). ``Received.response`` is what the platform expects back.
* ``process(event: InboxEvent) -> str``: apply one stored event through the domain services. Runs in
  a Celery task inside a transaction (unless ``atomic=False``); raising marks the event failed (kept
  with its error, replayable).
  Return a short note ("", or e.g. "ignored: …" to mark it ignored).
* ``connection_test(account) -> (ok, message)``: call the platform with the stored credentials
  (the console's "测试连接" and the save of an account form).
* ``account``: an :class:`AccountSpec`, what the console's account form asks for (WeCom has a form
  of its own in ``channels/wecom/forms.py``).

    def ready() -> None:
        register(Plugin(platform="douyin", receive=receive, process=process, connection_test=connection_test))

Higher layers that choose what a welcome message (欢迎语) says register a provider instead of being
imported here (docs/architecture.md#layers: channels never imports campaigns); see :func:`register_welcome_provider`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django import forms
from django.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from channels.models import ChannelAccount, ContactWay, InboxEvent
    from contacts.models import Customer

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class AccountSpec:
    """The fields of a platform's account in the console form (``channels.console_forms.AccountForm``).

    * ``secrets``: (credential key, label) pairs; required when connecting, blank keeps the stored value.
    * ``extra_fields``: platform fields beyond name / external id / API base / store / tags.
    * ``clean``: validates and normalizes the cleaned data in place; raise ``forms.ValidationError``
      with a dict of field → message to refuse it.
    * ``to_account``: (external_id, settings or ``None`` to keep them) from the cleaned data.
    * ``initial``: the form's initial values for an existing account, beyond the common ones.
    """

    external_id_label: str | _StrPromise
    secrets: tuple[tuple[str, str | _StrPromise], ...]
    has_webhook: bool = False
    store_help: str | _StrPromise = ""  # non-empty: a default store is required, with this help text
    extra_fields: Callable[[], dict[str, forms.Field]] | None = None
    clean: Callable[[dict[str, Any]], None] | None = None
    to_account: Callable[[dict[str, Any], ChannelAccount | None], tuple[str, dict[str, Any] | None]] | None = None
    initial: Callable[[ChannelAccount], dict[str, Any]] | None = None


@dataclass
class Plugin:
    platform: str
    receive: Callable[[HttpRequest, ChannelAccount], Received] | None = None
    process: Callable[[InboxEvent], str] | None = None
    connection_test: Callable[[ChannelAccount], tuple[bool, str]] | None = None
    account: AccountSpec | None = None
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


def connection_test(account: ChannelAccount) -> tuple[bool, str] | None:
    """Call the account's platform with its stored credentials: (ok, message), or ``None`` when the
    platform has no test API (its plugin declares no ``connection_test``)."""
    plugin = _PLUGINS.get(account.platform)
    if plugin is None or plugin.connection_test is None:
        return None
    return plugin.connection_test(account)


# -- welcome messages -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WelcomeContent:
    """What to send with a WelcomeCode: text and WeCom attachments (validated by whoever built them)."""

    text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    # Who chose it (e.g. "welcome template 12"), for logs.
    source: str = ""
    # Called with the new customer once WeCom accepted the welcome and the customer is stored (inside
    # the event's transaction): e.g. offers issues the new-friend coupon whose link the text carries.
    after_send: Callable[[Customer], None] | None = None

    def __bool__(self) -> bool:
        return bool(self.text.strip() or self.attachments)


class WelcomeProvider(Protocol):
    """``contact_way`` given: the content meant for that 渠道活码 only; ``None``: the default content.

    Return ``None`` when there is nothing for that case; the next source then applies.
    """

    def __call__(self, *, account: ChannelAccount, contact_way: ContactWay | None) -> WelcomeContent | None: ...


_WELCOME_PROVIDERS: list[WelcomeProvider] = []


def register_welcome_provider(provider: WelcomeProvider) -> None:
    """Called from a higher layer's ``AppConfig.ready()``; registering the same function twice is a no-op."""
    if provider not in _WELCOME_PROVIDERS:
        _WELCOME_PROVIDERS.append(provider)


def unregister_welcome_provider(provider: WelcomeProvider) -> None:
    if provider in _WELCOME_PROVIDERS:
        _WELCOME_PROVIDERS.remove(provider)


def welcome_from_providers(*, account: ChannelAccount, contact_way: ContactWay | None) -> WelcomeContent | None:
    """The first non-empty content a registered provider offers, in registration order.

    A provider that fails is logged and skipped: the WelcomeCode lives 20 s and works once, so a
    broken template lookup must not cost the new customer their welcome (the next source applies).
    """
    for provider in _WELCOME_PROVIDERS:
        try:
            content = provider(account=account, contact_way=contact_way)
        except Exception:
            log.exception("welcome provider %r failed for account %s", provider, account.pk)
            continue
        if content:
            return content
    return None


# -- contact added ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContactAdded:
    """A customer became the friend of a member (a new or revived follow), with the 渠道参数 it came by."""

    organization_id: int
    account_id: int
    customer_id: int
    staff_id: int | None
    state: str


ContactAddedListener = Callable[[ContactAdded], None]
_CONTACT_ADDED_LISTENERS: list[ContactAddedListener] = []


def register_contact_added_listener(fn: ContactAddedListener) -> None:
    """``fn(event)`` runs after commit of every new WeCom follow (higher layers: journeys)."""
    if fn not in _CONTACT_ADDED_LISTENERS:
        _CONTACT_ADDED_LISTENERS.append(fn)


def contact_added_notify(events: list[ContactAdded]) -> None:
    """Call the listeners after commit; one listener's failure is logged and does not stop the others."""
    if not events or not _CONTACT_ADDED_LISTENERS:
        return
    from django.db import transaction

    def run() -> None:
        for fn in _CONTACT_ADDED_LISTENERS:
            for event in events:
                try:
                    fn(event)
                except Exception:
                    log.exception("contact-added listener %r failed for customer %s", fn, event.customer_id)

    transaction.on_commit(run)


# -- contact removed --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContactRemoved:
    """A WeCom follow ended (the customer deleted the member, or the member deleted the customer)."""

    organization_id: int
    account_id: int
    customer_id: int
    staff_id: int
    by: str  # contacts.models.ChurnedBy
    at: datetime


ContactRemovedListener = Callable[[ContactRemoved], None]
_CONTACT_REMOVED_LISTENERS: list[ContactRemovedListener] = []


def register_contact_removed_listener(fn: ContactRemovedListener) -> None:
    """``fn(event)`` runs after commit of every ended WeCom follow (higher layers: referrals)."""
    if fn not in _CONTACT_REMOVED_LISTENERS:
        _CONTACT_REMOVED_LISTENERS.append(fn)


def contact_removed_notify(events: list[ContactRemoved]) -> None:
    """Call the listeners after commit; one listener's failure is logged and does not stop the others."""
    if not events or not _CONTACT_REMOVED_LISTENERS:
        return
    from django.db import transaction

    def run() -> None:
        for fn in _CONTACT_REMOVED_LISTENERS:
            for event in events:
                try:
                    fn(event)
                except Exception:
                    log.exception("contact-removed listener %r failed for customer %s", fn, event.customer_id)

    transaction.on_commit(run)
