"""H5 form adapter: a submission → the typed lead event every lead source produces (no database writes)."""

from __future__ import annotations

from channels.forms.adapter import consent_source, submission_to_event
from channels.models import LeadForm, LeadSource
from contacts import crypto


def form(pk: int = 7, slug: str = "autumn", version: str = "v3") -> LeadForm:
    return LeadForm(pk=pk, slug=slug, title="秋季到店礼", consent_version=version)


def test_submission_with_consent_records_version_and_source() -> None:
    event = submission_to_event(
        form=form(), name="  陈女士 ", digits="13800138000", consent=True, answers={"意向门店": "静安店"}
    )
    assert event.source == LeadSource.FORM
    assert event.external_id == f"7:{crypto.phone_hash('13800138000')[:32]}"
    assert (event.name, event.phone) == ("陈女士", "13800138000")
    assert event.fields == {"answers": {"意向门店": "静安店"}, "consent_version": "v3", "consent_source": "form:autumn"}
    assert event.occurred_at is not None


def test_submission_without_consent_records_none() -> None:
    event = submission_to_event(form=form(), name="陈女士", digits="13800138000", consent=False)
    assert event.fields == {"answers": {}, "consent_version": "", "consent_source": ""}


def test_one_lead_per_person_per_form() -> None:
    same = submission_to_event(form=form(), name="甲", digits="13800138000", consent=True)
    again = submission_to_event(form=form(), name="乙", digits="13800138000", consent=False)
    other_form = submission_to_event(form=form(pk=8), name="甲", digits="13800138000", consent=True)
    other_phone = submission_to_event(form=form(), name="甲", digits="13900139000", consent=True)
    assert same.external_id == again.external_id
    assert len({same.external_id, other_form.external_id, other_phone.external_id}) == 3


def test_long_names_and_slugs_are_cut_to_the_columns() -> None:
    event = submission_to_event(form=form(), name="名" * 150, digits="13800138000", consent=True)
    assert len(event.name) == 100
    assert consent_source(form(slug="s" * 50)) == "form:" + "s" * 45
