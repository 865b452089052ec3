"""Tagging rules (自动打标签): a saved segment's customers get a tag, kept in step set-based.

:func:`tag_rule_apply` is two statements per rule: ``customers_tag_bulk`` over the segment's SQL
(``INSERT … SELECT``) and ``customers_untag_by_rule`` for the rule's own assignments outside it.
Rules run for every customer nightly and every 15 minutes (beat), and for the customers whose orders
just changed (``contacts.services.rollups``), so an order-based rule tags the buyer within seconds.
Each change is on the customer's timeline with the rule's name.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts import segments
from contacts.models import Customer, Organization, Segment, Tag, TagRule, TagSource
from contacts.services.registry import ContactsError
from contacts.services.tags import customers_tag_bulk, customers_untag_by_rule
from scrm.celery import enqueue_on_commit


def tag_rule_save(
    *,
    actor: Any,
    name: str,
    segment_id: int,
    tag_id: int,
    remove_unmatched: bool = True,
    is_active: bool = True,
    rule: TagRule | None = None,
) -> TagRule:
    """Create or change a rule (operators and managers); it runs for everyone right after commit."""
    name = name.strip()
    if not name:
        raise ContactsError(_("请填写规则名称"))
    segment = actor.scope(Segment.objects.all()).filter(pk=segment_id).first()
    if segment is None:
        raise ContactsError(_("所选分群不存在，请重新选择"))
    tag = actor.scope(Tag.objects.all()).filter(pk=tag_id).first()
    if tag is None:
        raise ContactsError(_("所选标签不存在，请重新选择"))
    if rule is not None and rule.organization_id != actor.organization_id:
        raise ContactsError(_("规则不存在"))
    if rule is None:
        rule = TagRule(organization_id=actor.organization_id, created_by=actor.staff)
    rule.name, rule.segment, rule.tag = name, segment, tag
    rule.remove_unmatched, rule.is_active = remove_unmatched, is_active
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError as exc:
        raise ContactsError(_("规则名称“%(name)s”已存在，请换一个名称") % {"name": name}) from exc
    if rule.is_active:
        enqueue_on_commit("contacts.tag_rules.apply", rule.pk)
    return rule


def tag_rule_delete(*, rule: TagRule) -> None:
    """Delete a rule; the tags it gave stay (as if given by hand), its timeline entries too."""
    rule.delete()


@transaction.atomic
def tag_rule_apply(*, rule: TagRule, customer_ids: list[int] | None = None) -> tuple[int, int]:
    """Bring the rule's tag in step with its segment — for everyone, or only ``customer_ids``.

    Returns (added, removed). A run over everyone records its figures on the rule.
    """
    rule = TagRule.objects.select_related("segment", "tag", "organization").get(pk=rule.pk)
    if not rule.is_active:
        return 0, 0
    sql, params = segments.compile_sql(organization_id=rule.organization_id, expression=rule.segment.expression)
    if customer_ids is not None:
        sql, params = f"SELECT m.id FROM ({sql}) m WHERE m.id = ANY(%s)", [*params, list(customer_ids)]
    # Vetted SQL from the segment compiler, bound parameters only.
    matching = Customer.objects.filter(id__in=RawSQL(sql, params)).values("pk")  # noqa: S611
    added = customers_tag_bulk(
        organization=rule.organization, tag=rule.tag, customer_ids=matching, source=TagSource.RULE, rule=rule
    )
    removed = 0
    if rule.remove_unmatched:
        removed = customers_untag_by_rule(rule=rule, keep_sql=sql, keep_params=params, customer_ids=customer_ids)
    if customer_ids is None:
        TagRule.objects.filter(pk=rule.pk).update(last_run_at=timezone.now(), last_added=added, last_removed=removed)
    return added, removed


def tag_rules_apply(*, organization_id: int, customer_ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
    """Every active rule of the organization, each in its own transaction; figures by rule id."""
    rules = TagRule.objects.filter(organization_id=organization_id, is_active=True).order_by("pk")
    return {rule.pk: tag_rule_apply(rule=rule, customer_ids=customer_ids) for rule in rules}


def organizations_with_rules() -> list[int]:
    return list(
        Organization.objects.filter(tag_rules__is_active=True).distinct().order_by("pk").values_list("pk", flat=True)
    )
