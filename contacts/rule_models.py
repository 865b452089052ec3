"""Tagging rules (自动打标签); imported at the end of ``contacts.models``.

A :class:`TagRule` keeps a tag on exactly the customers of a saved segment: the segment is the
condition (any rule the segment language can say — orders, behaviour, lifecycle, tags, predicted
scores), the rule adds the tag to customers who match and, when ``remove_unmatched`` is on, removes it
from customers it tagged who no longer match. Tags an operator or another source gave are never removed
by a rule: each assignment remembers the rule that made it (``CustomerTag.rule``).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TagRule(models.Model):
    organization = models.ForeignKey("contacts.Organization", on_delete=models.CASCADE, related_name="tag_rules")
    name = models.CharField(_("规则名称"), max_length=100)
    # PROTECT: a segment in use by a rule cannot be deleted (contacts.services.segment_delete says which).
    segment = models.ForeignKey(
        "contacts.Segment", on_delete=models.PROTECT, related_name="tag_rules", verbose_name=_("满足分群")
    )
    tag = models.ForeignKey("contacts.Tag", on_delete=models.CASCADE, related_name="rules", verbose_name=_("打上标签"))
    remove_unmatched = models.BooleanField(
        _("不再满足时移除标签"),
        default=True,
        db_default=True,
        help_text=_("只移除本规则打上的标签；员工手动打的、导入的或企业微信同步的标签不受影响"),
    )
    is_active = models.BooleanField(_("启用"), default=True, db_default=True)
    created_by = models.ForeignKey("contacts.Staff", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_run_at = models.DateTimeField(_("最近执行"), null=True, blank=True)
    last_added = models.PositiveIntegerField(_("最近新增"), default=0, db_default=0)
    last_removed = models.PositiveIntegerField(_("最近移除"), default=0, db_default=0)

    SCOPE_ORG: ClassVar[str] = "organization"
    SCOPE_STORE: ClassVar[str | None] = None  # a brand's rules apply to every store

    class Meta:
        verbose_name = _("自动打标签规则")
        verbose_name_plural = _("自动打标签规则")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="tagrule_name_unique_per_org"),
        ]

    def __str__(self) -> str:
        return self.name
