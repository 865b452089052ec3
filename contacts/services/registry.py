"""Hooks for higher layers (registered in their AppConfig.ready()) and the refusal error."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction

logger = logging.getLogger(__name__)


TagListener = Callable[[int, list[int], list[int], str], None]
TagDeletedListener = Callable[[int, str, str], None]
MergeHandler = Callable[[int, int], None]
UnmergeHandler = Callable[[int, int, str], None]

_tag_listeners: list[TagListener] = []
_tag_deleted_listeners: list[TagDeletedListener] = []
_merge_handlers: dict[type[models.Model], MergeHandler] = {}
_unmerge_handlers: list[UnmergeHandler] = []
_sidebar_extensions: list[str] = []
_profile_extensions: list[str] = []
# A higher layer's part of the customer profile (orders, campaigns received): a template and a
# function (actor, customer, query parameters) → its context, or None to leave the section out.
ProfileSection = Callable[[Any, Any, Any], dict[str, Any] | None]
_profile_sections: list[tuple[str, ProfileSection]] = []
# The same for the staff sidebar's customer view (390 px): a section compact enough for it.
_sidebar_sections: list[tuple[str, ProfileSection]] = []
PersonalDataProvider = Callable[[int], list[dict[str, Any]]]
ErasureHandler = Callable[[int], dict[str, int]]
_personal_data_providers: dict[str, PersonalDataProvider] = {}
_erasure_handlers: list[ErasureHandler] = []


class ContactsError(ValueError):
    """A refused write; the message (Chinese) says what to do."""


class CataloguePending(ContactsError):
    """The platform could not be reached: the change is recorded and retried, and takes effect here
    once the platform accepts it (the message says so)."""


@dataclass(frozen=True)
class CatalogueChange:
    """A tag-catalogue change about to be made (``op``: tag_create, tag_update, tag_delete,
    group_update, group_delete), handed to the registered pusher before anything is written here."""

    op: str
    organization_id: int
    group_id: int
    tag_id: int | None = None
    name: str | None = None
    order: int | None = None
    by_id: int | None = None


# The pusher returns the platform ids to keep ({"tag_id": …, "group_id": …}, empty when the platform
# holds nothing to change), or raises ContactsError (refused) / CataloguePending (queued for retry).
CataloguePusher = Callable[[CatalogueChange], dict[str, str]]
_catalogue_pushers: list[CataloguePusher] = []


def register_tag_catalogue_pusher(fn: CataloguePusher) -> None:
    """``fn(change)`` is called outside any transaction of ours, before a tag or tag group is created,
    renamed, reordered or deleted by anyone but the platform's own sync; a refusal stops the change."""
    if fn not in _catalogue_pushers:
        _catalogue_pushers.append(fn)


TagNotices = Callable[[int], list[str]]
_tag_notice_providers: list[TagNotices] = []


def register_tag_notices(fn: TagNotices) -> None:
    """``fn(organization_id)`` → lines the tag page shows (e.g. changes still waiting for WeCom)."""
    if fn not in _tag_notice_providers:
        _tag_notice_providers.append(fn)


def tag_notices(organization_id: int) -> list[str]:
    return [line for fn in _tag_notice_providers for line in fn(organization_id)]


def catalogue_push(change: CatalogueChange) -> dict[str, str]:
    ids: dict[str, str] = {}
    for fn in _catalogue_pushers:
        ids.update(fn(change))
    return ids


# --- registries (higher layers plug in from AppConfig.ready()) -----------------------------------


def register_tag_listener(fn: TagListener) -> None:
    """``fn(customer_id, added_tag_ids, removed_tag_ids, source)`` runs after commit of every tag change."""
    if fn not in _tag_listeners:
        _tag_listeners.append(fn)


def register_tag_deleted_listener(fn: TagDeletedListener) -> None:
    """``fn(organization_id, wecom_tag_id, source)`` runs after commit of a tag's deletion.

    The per-customer tag listeners are not called for it: the platform removes a deleted tag from
    everyone at once (e.g. WeCom's ``del_corp_tag``), not customer by customer.
    """
    if fn not in _tag_deleted_listeners:
        _tag_deleted_listeners.append(fn)


def _notify_tag_deleted(organization_id: int, wecom_tag_id: str, source: str) -> None:
    if not _tag_deleted_listeners:
        return

    def run() -> None:
        for fn in _tag_deleted_listeners:
            try:
                fn(organization_id, wecom_tag_id, source)
            except Exception:  # a broken listener must not hide the deletion from the others
                logger.exception("tag-deleted listener %r failed for organization %s", fn, organization_id)

    transaction.on_commit(run)


ImportListener = Callable[..., object]
_import_listeners: list[ImportListener] = []


def register_import_listener(fn: ImportListener) -> None:
    """``fn(*, organization_id, customer_ids, to_lead_pool)``: customers an import created or updated
    (a chunk at a time, after the chunk's rows are committed). Higher layers register here (channels puts
    those with a phone who are not WeCom friends into the lead pool); contacts never imports them."""
    if fn not in _import_listeners:
        _import_listeners.append(fn)


def customers_imported(*, organization_id: int, customer_ids: list[int], to_lead_pool: bool) -> None:
    """Tell the listeners about a chunk of imported customers; a broken listener does not fail the import."""
    if not customer_ids:
        return
    for fn in _import_listeners:
        try:
            fn(organization_id=organization_id, customer_ids=customer_ids, to_lead_pool=to_lead_pool)
        except Exception:
            logger.exception("import listener %r failed for organization %s", fn, organization_id)


def register_personal_data_provider(section: str, fn: PersonalDataProvider) -> None:
    """``fn(customer_id)`` → the rows of ``section`` (e.g. ``"orders"``) in a personal-data export."""
    _personal_data_providers[section] = fn


def personal_data_providers() -> list[tuple[str, PersonalDataProvider]]:
    return sorted(_personal_data_providers.items())


def register_erasure_handler(fn: ErasureHandler) -> None:
    """``fn(customer_id)`` anonymises the layer's rows of a customer being erased, inside the erasure's
    transaction, and returns counts by kind; it must leave nothing that identifies the person."""
    if fn not in _erasure_handlers:
        _erasure_handlers.append(fn)


def erasure_handlers() -> list[ErasureHandler]:
    return list(_erasure_handlers)


def register_sidebar_extension(template_name: str) -> None:
    """A template the staff sidebar includes at the end of the page (e.g. the WeCom JS-SDK bridge)."""
    if template_name not in _sidebar_extensions:
        _sidebar_extensions.append(template_name)


def sidebar_extensions() -> list[str]:
    return list(_sidebar_extensions)


def register_profile_extension(template_name: str) -> None:
    """A template the customer profile (console and sidebar) includes (e.g. WeCom remark editing).

    It renders with the profile's context: ``customer``, ``follows``, ``actor``."""
    if template_name not in _profile_extensions:
        _profile_extensions.append(template_name)


def profile_extensions() -> list[str]:
    return list(_profile_extensions)


def register_profile_section(template_name: str, fn: ProfileSection) -> None:
    """A section of the customer profile that a higher layer renders (once per template)."""
    if all(name != template_name for name, _fn in _profile_sections):
        _profile_sections.append((template_name, fn))


def profile_sections() -> list[tuple[str, ProfileSection]]:
    return list(_profile_sections)


def register_sidebar_section(template_name: str, fn: ProfileSection) -> None:
    """A section of the sidebar's customer view that a higher layer renders (once per template).

    The sidebar shows profile extensions but not the profile's sections (too wide, too many queries);
    a layer whose action store staff need in the chat (e.g. 任务宝 enrolment) registers here too."""
    if all(name != template_name for name, _fn in _sidebar_sections):
        _sidebar_sections.append((template_name, fn))


def sidebar_sections() -> list[tuple[str, ProfileSection]]:
    return list(_sidebar_sections)


def register_merge_handler(model: type[models.Model], fn: MergeHandler) -> None:
    """``fn(survivor_id, absorbed_id)`` moves ``model``'s rows during a merge, instead of the generic move.

    For tables whose unique constraints involving the customer need more than "drop the absorbed
    duplicate" (e.g. sum two counters). The handler must leave no row pointing at the absorbed customer.
    """
    _merge_handlers[model] = fn


def register_unmerge_handler(fn: UnmergeHandler) -> None:
    """``fn(survivor_id, restored_id, phase)`` runs inside a merge undo: ``"before"`` while the survivor
    still holds everything (take its share out of derived data), ``"after"`` once both customers and
    their rows are back (recompute both)."""
    if fn not in _unmerge_handlers:
        _unmerge_handlers.append(fn)


def _notify_tags(changes: Iterable[tuple[int, list[int], list[int]]], source: str) -> None:
    changes = [c for c in changes if c[1] or c[2]]
    if not changes or not _tag_listeners:
        return

    def run() -> None:
        for customer_id, added, removed in changes:
            for fn in _tag_listeners:
                try:
                    fn(customer_id, added, removed, source)
                except Exception:  # a broken listener must not hide the change from the others
                    logger.exception("tag listener %r failed for customer %s", fn, customer_id)

    transaction.on_commit(run)
