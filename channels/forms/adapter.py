"""A submitted H5 form → the typed lead event every lead source produces. No I/O, no database."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from channels.leads.events import LeadEvent
from channels.models import LeadForm, LeadSource
from contacts import crypto


def consent_source(form: LeadForm) -> str:
    """Where a consent given on this form is recorded as coming from (``form:<slug>``)."""
    return f"form:{form.slug}"[:50]


def submission_to_event(
    *, form: LeadForm, name: str, digits: str, consent: bool, answers: dict[str, Any] | None = None
) -> LeadEvent:
    """``digits``: the phone already normalized (``contacts.crypto.normalize_phone``)."""
    source = consent_source(form)
    return LeadEvent(
        source=LeadSource.FORM,
        # One lead per person per form: a repeated phone updates the same lead and customer.
        external_id=f"{form.pk}:{crypto.phone_hash(digits)[:32]}",
        occurred_at=timezone.now(),
        name=name.strip()[:100],
        phone=digits,
        fields={
            "answers": answers or {},
            "consent_version": form.consent_version if consent else "",
            "consent_source": source if consent else "",
        },
    )
