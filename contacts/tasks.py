"""Celery tasks of the contacts app: thin (ids in, one service call), routed by name prefix."""

from __future__ import annotations

from celery import shared_task

from contacts import imports, services
from contacts.models import Organization, TagRule
from contacts.services import tag_rules


@shared_task(name="contacts.imports.run", ignore_result=True)
def import_run_task(job_id: int) -> None:
    """Import the next chunk of a job, then queue the rest; a duplicate message finds the job claimed."""
    if imports.import_run(job_id=job_id, max_rows=imports.CHUNK_ROWS):
        import_run_task.delay(job_id)


@shared_task(name="contacts.imports.sweep", ignore_result=True)
def import_sweep_task() -> None:
    """Beat: re-enqueue import jobs whose message was lost or whose worker died mid-chunk."""
    for job_id in imports.import_jobs_stalled():
        import_run_task.delay(job_id)


@shared_task(name="contacts.lifecycle.refresh_all", ignore_result=True)
def lifecycle_refresh_all_task() -> None:
    """Beat (daily): lifecycle stages move with the calendar (沉睡 after N idle days)."""
    for organization_id in Organization.objects.values_list("id", flat=True).order_by("id"):
        services.organization_lifecycle_refresh(organization_id=organization_id)


@shared_task(name="contacts.lifecycle.refresh_org", ignore_result=True)
def lifecycle_refresh_org_task(organization_id: int) -> None:
    """The brand changed its lifecycle rules: re-derive every stage."""
    services.organization_lifecycle_refresh(organization_id=organization_id)


@shared_task(name="contacts.predictions.reband_org", ignore_result=True)
def predictions_reband_org_task(organization_id: int) -> None:
    """The brand moved its churn-risk thresholds: re-band every scored customer."""
    services.customer_churn_risk_refresh(organization_id=organization_id)


@shared_task(name="contacts.tag_rules.apply", ignore_result=True)
def tag_rule_apply_task(rule_id: int) -> None:
    """A rule was created or changed: bring its tag in step for everyone."""
    rule = TagRule.objects.filter(pk=rule_id).first()
    if rule is not None:
        services.tag_rule_apply(rule=rule)


@shared_task(name="contacts.tag_rules.apply_customers", ignore_result=True)
def tag_rules_apply_customers_task(organization_id: int, customer_ids: list[int]) -> None:
    """Some customers' orders changed: run the brand's rules for them."""
    services.tag_rules_apply(organization_id=organization_id, customer_ids=customer_ids)


@shared_task(name="contacts.tag_rules.apply_all", ignore_result=True)
def tag_rules_apply_all_task() -> None:
    """Beat: every brand's rules for everyone (time-window conditions move with the clock)."""
    for organization_id in tag_rules.organizations_with_rules():
        services.tag_rules_apply(organization_id=organization_id)
