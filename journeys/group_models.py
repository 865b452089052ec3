"""Group SOP (群SOP): scheduled posts to chosen customer groups, each step delivered as an enterprise
group broadcast (campaigns planner, ledger and dispatcher) or as the group owner's to-do.

Invariants held by Postgres:

- a step is delivered to a group once per occurrence (``groupsoprun_once``): the tick claims
  (step, group, Beijing day) by inserting its ``GroupSopRun`` with ``ON CONFLICT DO NOTHING`` in the
  transaction that records the broadcast or the to-do, so a doubled tick or a crash never delivers twice;
- a brand-wide SOP has no store; a store's SOP (``store``) only ever reaches that store's groups.
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import CustomerGroup, Organization, Scoped, Staff, Store


class GroupSopStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("运行中")
    PAUSED = "paused", _("已暂停")
    ARCHIVED = "archived", _("已归档")


class GroupSopTarget(models.TextChoices):
    OWNER = "owner", _("按群主")
    STORE = "store", _("按门店")
    GROUPS = "groups", _("指定客户群")


class GroupSopDelivery(models.TextChoices):
    BROADCAST = "broadcast", _("企业群发（群主确认后发出）")
    TODO = "todo", _("群主待办（复制后手动发送）")


class GroupSopSchedule(models.TextChoices):
    DAILY = "daily", _("每天")
    WEEKLY = "weekly", _("每周")
    AFTER_GROUP_CREATED = "after_group", _("建群后第 N 天")
    AFTER_SOP_STARTED = "after_start", _("启用后第 N 天")


class GroupSop(Scoped):
    SCOPE_STORE: ClassVar[str | None] = "store"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("所属门店")
    )
    name = models.CharField(_("SOP 名称"), max_length=100)
    status = models.CharField(_("状态"), max_length=10, choices=GroupSopStatus.choices, default=GroupSopStatus.DRAFT)
    template = models.CharField(_("模板"), max_length=30, blank=True, default="")
    delivery = models.CharField(
        _("发送方式"), max_length=10, choices=GroupSopDelivery.choices, default=GroupSopDelivery.BROADCAST
    )
    target = models.CharField(
        _("目标客户群"), max_length=10, choices=GroupSopTarget.choices, default=GroupSopTarget.OWNER
    )
    # The staff, store or group ids the target names (one kind, by ``target``).
    target_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # First switched on (``after_start`` steps count from it) and last switched on (nothing due before it is sent).
    activated_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("群SOP")
        verbose_name_plural = _("群SOP")
        indexes = [models.Index(fields=["organization", "status"], name="groupsop_org_status")]

    def __str__(self) -> str:
        return self.name


class GroupSopStep(Scoped):
    SCOPE_ORG: ClassVar[str] = "sop__organization"
    SCOPE_STORE: ClassVar[str | None] = "sop__store"

    sop = models.ForeignKey(GroupSop, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("序号"))
    schedule = models.CharField(_("发送时间"), max_length=12, choices=GroupSopSchedule.choices)
    at_time = models.TimeField(_("时刻（北京时间）"))
    # ISO weekdays (1 = Monday … 7 = Sunday) of a weekly step.
    weekdays = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True, verbose_name=_("星期"))
    days = models.PositiveSmallIntegerField(_("第 N 天"), default=0)
    text = models.TextField(_("内容"), blank=True, default="")
    attachments = models.JSONField(_("附件"), default=list, blank=True)

    class Meta:
        verbose_name = _("群SOP步骤")
        ordering = ["sop", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sop", "position"], name="groupsopstep_position_unique"),
            models.CheckConstraint(
                condition=~Q(schedule="weekly") | ~Q(weekdays=[]), name="groupsopstep_weekly_has_days"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_schedule_display()}"


class GroupSopRun(models.Model):
    """One (step, group, Beijing day) claimed by the tick, written before anything is sent."""

    sop = models.ForeignKey(GroupSop, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(GroupSopStep, on_delete=models.CASCADE, related_name="runs")
    group = models.ForeignKey(CustomerGroup, on_delete=models.CASCADE, related_name="+")
    occurrence = models.DateField()
    owner = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    claimed_at = models.DateTimeField()
    # broadcast | todo | no_owner | failed
    outcome = models.CharField(max_length=20, blank=True, default="")
    campaign_id = models.BigIntegerField(null=True, blank=True)
    todo_key = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["step", "group", "occurrence"], name="groupsoprun_once"),
        ]
        indexes = [models.Index(fields=["step", "occurrence"], name="groupsoprun_step_day")]
