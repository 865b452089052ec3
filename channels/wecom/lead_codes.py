"""One-person 渠道活码 for a lead or a Meituan redemption, so the later WeCom add joins them.

After a form submission or a redemption we know the person (a customer with a phone) but not their
WeCom friend. A store's shared 活码 cannot tell who scanned it; a code of its own can: its ``state``
(≤ 30 characters, WeCom) is ``ld<lead id>_<random>`` or ``mt<redemption id>_<random>``, saved as a
:class:`~channels.models.LeadCode`. When the add arrives with that state, the friend's customer and the
lead's are one person (merged, audited with the key ``lead_code``), and the code is deleted on WeCom
(it has done its job, and API codes count against WeCom's 500,000 per corp).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from channels.errors import PlatformError, TransientError
from channels.models import ChannelAccount, ContactWay, ContactWayKind, Lead, LeadCode, MeituanRedemption
from channels.wecom.contact_ways import ContactWayError, contact_way_disable, contact_way_save
from contacts import services as contacts
from contacts.models import Customer

log = logging.getLogger(__name__)

LEAD_CODE_DAYS = 7


def lead_code_issue(
    *, base: ContactWay, customer: Customer, lead: Lead | None = None, redemption: MeituanRedemption | None = None
) -> ContactWay | None:
    """A one-person copy of ``base`` (same staff, tags, store, channel, welcome, auto-remark).

    Returns the new code (with its QR) or ``None`` when it cannot be made (the page then shows the
    shared code). An unexpired, unused code already issued for the same lead or redemption is reused.
    """
    if base.kind != ContactWayKind.CONTACT or not base.is_active or not base.config_id or not base.qr_code:
        return None  # the shared code is not on WeCom (yet): the page shows it with its own hint
    if lead is not None or redemption is not None:
        found = (
            LeadCode.objects.filter(
                lead=lead, redemption=redemption, joined_at__isnull=True, expires_at__gt=timezone.now()
            )
            .select_related("contact_way")
            .first()
        )
        if found is not None and found.contact_way.qr_code:
            return found.contact_way
    prefix = f"ld{lead.pk}" if lead is not None else f"mt{redemption.pk if redemption else customer.pk}"
    state = f"{prefix}_{secrets.token_hex(4)}"[:30]
    try:
        way = contact_way_save(
            account=base.account,
            name=f"{base.name[:60]} · {prefix}",
            state=state,
            kind=ContactWayKind.CONTACT,
            channel=base.channel,
            store=base.store,
            staff=list(base.staff.all()),
            tags=list(base.tags.all()),
            welcome_text=base.welcome_text,
            skip_verify=base.skip_verify,
            remark_template=base.remark_template,
        )
    except ContactWayError as exc:  # e.g. its staff left: the shared code still works
        log.info("lead code not issued from contact way %s: %s", base.pk, exc)
        return None
    LeadCode.objects.create(
        organization_id=base.organization_id,
        contact_way=way,
        customer=customer,
        lead=lead,
        redemption=redemption,
        expires_at=timezone.now() + timedelta(days=LEAD_CODE_DAYS),
    )
    if way.sync_error or not way.qr_code:
        log.info("lead code %s not usable: %s", way.pk, way.sync_error)
        return None
    return way


def lead_code_join(*, account: ChannelAccount, customer: Customer, state: str) -> Customer:
    """Inside the add's transaction: the friend who came through a lead code is that lead's customer."""
    if not state:
        return customer
    code = (
        LeadCode.objects.select_for_update()
        .filter(contact_way__account=account, contact_way__state=state)
        .select_related("contact_way")
        .first()
    )
    if code is None:
        return customer
    survivor = customer
    if code.customer_id and code.customer_id != customer.pk:
        lead_customer = Customer.objects.filter(pk=code.customer_id).first()
        if lead_customer is not None:
            older, newer = sorted([lead_customer, customer], key=lambda c: c.pk)
            survivor = contacts.customer_merge(
                survivor=older,
                absorbed=newer,
                reason=f"活码线索 {state}"[:100],
                matched_keys=["lead_code"],
            )
    if code.joined_at is None:
        LeadCode.objects.filter(pk=code.pk).update(joined_at=timezone.now(), customer=survivor)
        way = code.contact_way

        def retire() -> None:
            try:
                contact_way_disable(way=way)
            except (PlatformError, TransientError) as exc:  # the code expires from our pages anyway
                log.warning("lead code %s not deleted on WeCom: %s", way.pk, exc)

        transaction.on_commit(retire)
    return survivor
