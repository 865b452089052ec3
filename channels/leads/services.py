"""Writes for the lead sources: a typed lead/order event in → a Lead row, a customer, a timeline entry,
an order. Platform folders (``channels/douyin``, ``video``, ``meituan``, ``forms``) call these; they
never touch contacts or analytics models themselves (docs/architecture.md#layers).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import services as analytics
from channels.leads.events import LeadEvent, OrderEvent
from channels.models import ChannelAccount, Lead, LeadForm, LeadSource
from contacts import crypto
from contacts import services as contacts
from contacts.access import Actor
from contacts.models import Customer, Role, SourceChannel, Store, Tag, TagSource, TimelineKind

logger = logging.getLogger(__name__)

# Lead source → (customer identity platform, customer source channel).
PLATFORM_OF = {
    LeadSource.OCEAN_ENGINE: ("douyin", SourceChannel.DOUYIN),
    LeadSource.OCEAN_ENGINE_LOCAL: ("douyin", SourceChannel.DOUYIN),
    LeadSource.DOUYIN_IM: ("douyin", SourceChannel.DOUYIN),
    LeadSource.VIDEO_LIVE: ("video", SourceChannel.VIDEO),
    LeadSource.FORM: ("form", SourceChannel.FORM),
}
# Ad keys that go into the customer's first touch, whatever the platform calls them.
FIRST_TOUCH_KEYS = {
    "advertiser_id": "advertiser_id",
    "adv_id": "advertiser_id",
    "promotion_id": "campaign_id",
    "campaign_id": "campaign_id",
    "promotion_name": "campaign_name",
    "ad_id": "ad_id",
    "ad_name": "ad_name",
    "creative_id": "creative_id",
    "leads_component_id": "leads_component_id",
    "anchor_nickname": "anchor_nickname",
    "local_account_id": "local_account_id",
    "content_id": "content_id",
}
LATE_KEYS = ("intention_estimation", "app_name", "convert_status")


def _first_touch(lead: Lead) -> dict[str, Any]:
    touch: dict[str, Any] = {"channel": PLATFORM_OF[LeadSource(lead.source)][1], "source": lead.source}
    touch["lead_id"] = lead.pk
    for key, name in FIRST_TOUCH_KEYS.items():
        if lead.ad.get(key) not in (None, ""):
            touch[name] = lead.ad[key]
    if lead.form_id:
        touch["form"] = lead.form.slug if lead.form else lead.form_id
    return touch


def _summary(lead: Lead) -> str:
    where = lead.ad_name or lead.campaign_name or (lead.form.title if lead.form else "")
    label = str(LeadSource(lead.source).label)
    return f"留资：{label}" + (f" · {where}" if where else "")


def _normalized_phone(raw: str) -> str:
    if not raw:
        return ""
    try:
        return crypto.normalize_phone(raw)
    except crypto.InvalidPhone:
        return ""


@transaction.atomic
def lead_ingest(
    *,
    organization: Any,
    event: LeadEvent,
    account: ChannelAccount | None = None,
    form: LeadForm | None = None,
    store: Store | None = None,
    marketing_consent: bool = False,
    consent_source: str = "",
    tags: Iterable[Tag] = (),
) -> tuple[Lead, bool]:
    """Store a lead once per (organization, source, external_id); returns (lead, created).

    1. Upsert the lead: a re-pull fills late fields and a phone that was missing; it never blanks a
       phone (Ocean Engine drops the plaintext phone after a 团购 refund).
    2. A lead with a phone (and no customer yet) becomes a customer through ``customer_resolve``,
       with the ad as first touch, the account's/form's store and tags, and a LEAD timeline entry.
    3. Marketing consent (forms only) is recorded on the customer with its time and source.
    """

    now = timezone.now()
    phone = _normalized_phone(event.phone)
    store = store or (form.store if form else None) or (account.default_store if account else None)
    lead = (
        Lead.objects.select_for_update()
        .filter(organization=organization, source=event.source, external_id=event.external_id)
        .first()
    )
    created = lead is None
    if lead is None:
        lead = Lead(organization=organization, source=event.source, external_id=event.external_id, received_at=now)
        lead.account, lead.form, lead.store, lead.occurred_at = account, form, store, event.occurred_at
    lead.name = event.name or lead.name
    lead.open_id = event.open_id or lead.open_id
    if phone and not lead.phone_hash:
        lead.phone_encrypted, lead.phone_hash = crypto.encrypt_phone(phone), crypto.phone_hash(phone)
    lead.ad = {**lead.ad, **event.ad}
    lead.ad_id = str(lead.ad.get("ad_id") or lead.ad.get("leads_component_id") or "")[:64]
    lead.ad_name = str(lead.ad.get("ad_name") or lead.ad.get("live_description") or "")[:200]
    lead.campaign_name = str(lead.ad.get("promotion_name") or lead.ad.get("anchor_nickname") or "")[:200]
    lead.fields = {**lead.fields, **{k: v for k, v in event.fields.items() if v not in (None, "")}}
    lead.late_fields_filled = event.source != LeadSource.OCEAN_ENGINE or all(
        lead.fields.get(k) not in (None, "") for k in LATE_KEYS
    )
    if marketing_consent and not lead.marketing_consent:
        lead.marketing_consent, lead.consent_at = True, now
    lead.save()

    if lead.customer_id is None and lead.phone_hash:
        platform, channel = PLATFORM_OF[LeadSource(lead.source)]
        defaults: dict[str, Any] = {
            "name": lead.name,
            "gender": event.gender,
            "home_store": store,
            "source_channel": channel,
            "first_touch": _first_touch(lead),
            "first_touch_at": lead.occurred_at,
            "attributes": {"city": event.city} if event.city else {},
        }
        if marketing_consent:
            defaults.update(marketing_consent=True, consent_source=consent_source[:50])
        customer, customer_created = contacts.customer_resolve(
            organization=organization,
            platform=platform if event.open_id else "",
            account=event.platform_account if event.open_id else "",
            external_id=event.open_id,
            phone=crypto.decrypt_phone(lead.phone_encrypted),
            defaults=defaults,
            source=lead.source,
        )
        lead.customer = customer
        lead.save(update_fields=["customer", "updated_at"])
        contacts.timeline_add(
            customer=customer,
            kind=TimelineKind.LEAD,
            summary=_summary(lead),
            data={"lead_id": lead.pk, "source": lead.source, "ad": lead.ad, "form": form.slug if form else ""},
            occurred_at=lead.occurred_at,
        )
        all_tags = [*tags, *(account.default_tags.all() if account else [])]
        for tag in all_tags:
            contacts.customer_tag_add(customer=customer, tag=tag, source=TagSource.CHANNEL)
        if marketing_consent and not customer_created:
            contacts.customer_opt_in(customer=customer, source=consent_source[:50])
    elif lead.customer_id and marketing_consent:
        customer = Customer.objects.get(pk=lead.customer_id)
        contacts.customer_opt_in(customer=customer, source=consent_source[:50])
    return lead, created


@transaction.atomic
def platform_order_ingest(
    *, organization: Any, account: ChannelAccount, event: OrderEvent, platform: str, channel: str
) -> tuple[Any, bool] | None:
    """A platform order (WeChat shop, Douyin 团购) → ``analytics.order_record`` for its buyer.

    The buyer is found by the platform user id (and unionid when the platform gives it, which links
    them to their WeCom self). An order without any buyer id cannot be attributed: returns ``None``.
    """

    unionid = str(event.raw.get("unionid") or "")
    if not event.open_id and not unionid:
        return None
    if event.status == "pending":
        return None
    customer, _created = contacts.customer_resolve(
        organization=organization,
        platform=platform if event.open_id else "",
        account=event.platform_account,
        external_id=event.open_id,
        unionid=unionid,
        phone=_normalized_phone(event.phone),
        defaults={
            "home_store": account.default_store,
            "source_channel": channel,
            "first_touch": {"channel": channel, "source": event.source, "order": event.external_ref},
            "first_touch_at": event.paid_at,
        },
        source=event.source,
    )
    for tag in account.default_tags.all():  # auto-tags of the source
        contacts.customer_tag_add(customer=customer, tag=tag, source=TagSource.CHANNEL)
    return analytics.order_record(
        organization=organization,
        customer=customer,
        store=account.default_store,
        amount=event.amount,
        paid_at=event.paid_at,
        source=event.source,
        external_ref=event.external_ref,
        status="refunded" if event.status == "refunded" else "paid",
        items=event.items,
    )


def leads_retention_purge(*, older_than_days: int = 180) -> int:
    """PIPL minimisation (Art. 6, 19): forget the name and phone of leads that never became customers.

    One set-based UPDATE; the lead row (source, ad, time) stays for attribution reports.
    """
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return (
        Lead.objects.filter(customer__isnull=True, occurred_at__lt=cutoff)
        .exclude(phone_hash="", name="")
        .update(name="", phone_encrypted="", phone_hash="", open_id="", fields={}, updated_at=timezone.now())
    )


def customer_leads_export(customer_id: int) -> list[dict[str, Any]]:
    """A customer's leads for their personal-data export (contacts.services.customer_personal_data)."""
    return [
        {
            "source": lead.get_source_display(),
            "at": lead.occurred_at.isoformat(),
            "name": lead.name,
            "phone": crypto.decrypt_phone(lead.phone_encrypted) if lead.phone_encrypted else "",
            "ad": lead.ad_name,
            "campaign": lead.campaign_name,
            "fields": lead.fields,
            "marketing_consent": lead.marketing_consent,
        }
        for lead in Lead.objects.filter(customer_id=customer_id).order_by("occurred_at", "id")
    ]


def customer_leads_erase(customer_id: int) -> dict[str, int]:
    """Erasure handler: the person's leads lose everything personal (the ad and time stay) — the ones
    linked to the customer and any other lead holding their phone or platform id (a DM entry kept
    before the phone came). A lead key built from their open_id (``im:<open_id>``) becomes the row's
    own id. One UPDATE."""
    identifiers = contacts.customer_identifiers(customer_id)
    match = Q(customer_id=customer_id)
    key_named = Q(pk__in=[])
    if identifiers is not None:
        org = Q(organization_id=identifiers.organization_id)
        if identifiers.phone:
            match |= org & Q(phone_hash=crypto.phone_hash(identifiers.phone))
        for platform_id in identifiers.platform_ids:
            match |= org & (Q(open_id=platform_id) | Q(external_id__contains=platform_id))
            key_named |= Q(external_id__contains=platform_id)
    erased = Lead.objects.filter(match).update(
        name="",
        phone_encrypted="",
        phone_hash="",
        open_id="",
        fields={},
        external_id=Case(
            When(key_named, then=Concat(Value("erased:"), Cast("id", CharField()))), default=F("external_id")
        ),
        updated_at=timezone.now(),
    )
    return {"leads": erased}


class LeadAssignError(ValueError):
    """A refused assignment; the message says which input is wrong and why."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@transaction.atomic
def lead_store_assign(*, actor: Actor, lead_ids: Iterable[int], store_id: int) -> int:
    """Give leads without a store to an open store of the actor's scope (operators: the to-do
    未分配门店的线索), so that store's manager sees them in the leads list. One UPDATE; a lead that has
    a store already, or is outside the actor's scope, is left alone. Returns how many were assigned."""
    actor.require_role({Role.OPERATOR})
    store = actor.scope(Store.objects.filter(pk=store_id, is_active=True)).first()
    if store is None:
        raise LeadAssignError(_("门店不存在或已停用"), field="store")
    ids = sorted({int(i) for i in lead_ids})
    if not ids:
        raise LeadAssignError(_("请至少选择一条线索"), field="lead")
    return actor.scope(Lead.objects.filter(pk__in=ids, store__isnull=True)).update(
        store=store, updated_at=timezone.now()
    )
