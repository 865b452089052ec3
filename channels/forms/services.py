"""H5 lead forms: create/update (operators), submit (public), per-IP rate limit in Redis.

Forms are our own pages, so this folder has no HTTP client and no webhook plugin: the public view
(``channels/forms/views.py``) is the receiver and ``adapter.py`` turns a submission into a lead event.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from channels.forms.adapter import consent_source, submission_to_event
from channels.leads.services import lead_ingest
from channels.models import ContactWay, ContactWayKind, Lead, LeadForm
from contacts import crypto
from contacts.models import Staff

# Submissions per IP per form per window (PIPL-friendly: no IP is stored, only a hashed Redis key).
# 10 per 10 minutes: generous for people sharing a carrier NAT or store Wi-Fi, tight for scripts.
RATE_LIMIT = int(getattr(settings, "LEAD_FORM_RATE_LIMIT", 10))
RATE_WINDOW = int(getattr(settings, "LEAD_FORM_RATE_WINDOW", 600))


class FormRefused(ValueError):
    """A submission we refuse; the message says what to do."""


@dataclass
class RateDecision:
    allowed: bool
    retry_after: int


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_CLIENT_URL)


def form_rate_check(*, form: LeadForm, ip: str, now: float | None = None) -> RateDecision:
    """Fixed-window counter per (form, IP): INCR + EXPIRE in one pipeline, shared by every web process."""
    now = now or time.time()
    window = int(now // RATE_WINDOW)
    ip_key = hashlib.sha256(f"{settings.SECRET_KEY}:{ip}".encode()).hexdigest()[:24]
    key = f"scrm:leadform:{form.pk}:{ip_key}:{window}"
    pipe = _redis().pipeline()
    pipe.incr(key)
    pipe.expire(key, RATE_WINDOW + 5)
    count = int(pipe.execute()[0])
    retry_after = int(RATE_WINDOW - (now % RATE_WINDOW)) + 1
    return RateDecision(allowed=count <= RATE_LIMIT, retry_after=retry_after)


def form_contact_way(form: LeadForm) -> ContactWay | None:
    """The 渠道活码 the thank-you page shows: the form's own, else a form-channel code of its store."""
    if form.contact_way_id and form.contact_way and form.contact_way.is_active:
        return form.contact_way
    ways = ContactWay.objects.filter(organization_id=form.organization_id, kind=ContactWayKind.CONTACT, is_active=True)
    if form.store_id:
        ways = ways.filter(store_id=form.store_id)
    return ways.exclude(qr_code="").order_by("-channel").first()


def form_submit(*, form: LeadForm, name: str, phone: str, consent: bool, answers: dict[str, Any] | None = None) -> Lead:
    """A visitor's submission → a lead and (by phone) one customer, with the consent recorded.

    Marketing consent is explicit (PIPL Art. 14: informed, voluntary, explicit): without the ticked
    box a form with ``consent_required`` is refused; any other form stores the lead with no consent.
    The consent's time, source (``form:<slug>``) and text version are recorded on the lead and the
    customer.
    """
    if not form.is_active:
        raise FormRefused("该表单已停用：请联系商家获取新的链接")
    if not consent and form.consent_required:
        raise FormRefused("请先勾选同意接收活动与优惠信息，我们才能联系您；如不同意，可直接关闭页面")
    try:
        digits = crypto.normalize_phone(phone)
    except crypto.InvalidPhone as exc:
        raise FormRefused(f"{exc}，请检查后重新提交") from exc
    source = consent_source(form)
    event = submission_to_event(form=form, name=name, digits=digits, consent=consent, answers=answers)
    lead, _created = lead_ingest(
        organization=form.organization,
        event=event,
        form=form,
        marketing_consent=consent,
        consent_source=source,
        tags=list(form.tags.all()),
    )
    return lead


@transaction.atomic
def lead_form_save(*, form: LeadForm, by: Staff | None, tags: list[Any] | None = None) -> LeadForm:
    """Create or update a lead form (from the operators' form page)."""
    if form.pk is None:
        form.created_by = by
        form.organization_id = by.organization_id if by else form.organization_id
    form.save()
    if tags is not None:
        form.tags.set(tags)
    return form
