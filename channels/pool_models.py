"""The lead pool (公海): people with a phone who are not WeCom friends yet, the rules that hand them to
members, and every assignment with its outcome. Imported by ``channels.models``.

One entry per person (customer), not per lead: a person who left two forms is one job for a member.
The work itself is in ``channels/leads/pool.py``.
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Organization, Scoped, Staff, Store


class PoolSource(models.TextChoices):
    OCEAN_ENGINE = "ocean_engine", _("巨量引擎广告线索")
    OCEAN_ENGINE_LOCAL = "ocean_engine_local", _("本地推线索")
    DOUYIN_IM = "douyin_im", _("抖音私信")
    VIDEO_LIVE = "video_live", _("视频号直播留资")
    FORM = "form", _("H5 表单")
    MEITUAN = "meituan", _("美团核销")
    IMPORT = "import", _("导入")


class PoolStatus(models.TextChoices):
    WAITING = "waiting", _("待分配")
    ASSIGNED = "assigned", _("跟进中")
    CONVERTED = "converted", _("已添加")
    RETURNED = "returned", _("已退回")


OPEN_POOL_STATUSES = (PoolStatus.WAITING, PoolStatus.ASSIGNED, PoolStatus.RETURNED)


class LeadPoolRule(Scoped):
    """How a store's pool is handed out (a rule without a store: the brand's default, for leads without a
    store and stores without a rule of their own). Working hours are Beijing time."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("门店")
    )
    is_active = models.BooleanField(_("启用"), default=True)
    daily_cap = models.PositiveSmallIntegerField(
        _("每人每日上限"), default=20, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    work_start = models.TimeField(_("上班时间"), default="09:00")
    work_end = models.TimeField(_("下班时间"), default="21:00")
    # ISO weekdays (1 = Monday … 7 = Sunday) on which leads are handed out.
    work_days = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True, verbose_name=_("工作日"))
    return_days = models.PositiveSmallIntegerField(
        _("未添加退回天数"), default=3, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    # Customers imported (contacts import) with a phone who are not WeCom friends enter the pool.
    import_enters_pool = models.BooleanField(_("导入的客户进入公海"), default=False)
    # Round-robin position: the member who got the last lead.
    last_staff = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(default=timezone.now)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("公海分配规则")
        verbose_name_plural = _("公海分配规则")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "store"], nulls_distinct=False, name="leadpoolrule_one_per_store"
            ),
            models.CheckConstraint(condition=Q(work_start__lt=models.F("work_end")), name="leadpoolrule_hours_sane"),
        ]

    def __str__(self) -> str:
        return str(self.store) if self.store_id else str(_("品牌默认规则"))


class PoolMemberRole(models.TextChoices):
    MEMBER = "member", _("分配成员")
    BACKUP = "backup", _("备用成员")


class LeadPoolMember(Scoped):
    """A member of a rule's rotation (in ``position`` order) or one of its backups."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(LeadPoolRule, on_delete=models.CASCADE, related_name="members")
    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, choices=PoolMemberRole.choices, default=PoolMemberRole.MEMBER)
    position = models.PositiveSmallIntegerField(default=0)

    SCOPE_STORE: ClassVar[str | None] = "rule__store"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "staff"], name="leadpoolmember_once_per_rule")]
        ordering = ["rule", "role", "position", "id"]


class LeadPoolEntry(Scoped):
    """One person in the pool: where they came from, their store, and where they stand."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("contacts.Customer", on_delete=models.CASCADE, related_name="pool_entries")
    lead = models.ForeignKey("channels.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    redemption = models.ForeignKey(
        "channels.MeituanRedemption", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(_("来源"), max_length=20, choices=PoolSource.choices)
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("门店")
    )
    status = models.CharField(_("状态"), max_length=10, choices=PoolStatus.choices, default=PoolStatus.WAITING)
    # When the person (re)entered the pool: the queue order, and "waiting since".
    entered_at = models.DateTimeField(_("入池时间"), default=timezone.now)
    assignee = models.ForeignKey(
        Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("跟进成员")
    )
    assigned_at = models.DateTimeField(_("分配时间"), null=True, blank=True)
    # Who had them last before a return: the next assignment tries someone else first.
    previous_assignee = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    returns = models.PositiveSmallIntegerField(_("退回次数"), default=0)
    converted_at = models.DateTimeField(_("添加时间"), null=True, blank=True)
    converted_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("公海线索")
        verbose_name_plural = _("公海线索")
        constraints = [
            # A person waits in the pool once (a merge drops the absorbed side's open entry).
            models.UniqueConstraint(
                fields=["organization", "customer"],
                condition=Q(status__in=["waiting", "assigned", "returned"]),
                name="leadpoolentry_open_once_per_customer",
            ),
            models.CheckConstraint(
                condition=Q(status="assigned", assignee__isnull=False, assigned_at__isnull=False)
                | (~Q(status="assigned") & Q(assignee__isnull=True)),
                name="leadpoolentry_assignee_iff_assigned",
            ),
            models.CheckConstraint(
                condition=Q(status="converted", converted_at__isnull=False) | ~Q(status="converted"),
                name="leadpoolentry_converted_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "entered_at"], name="leadpoolentry_queue"),
            models.Index(fields=["assignee", "status"], name="leadpoolentry_assignee"),
        ]


class AssignmentStatus(models.TextChoices):
    OPEN = "open", _("跟进中")
    CONVERTED = "converted", _("已添加")
    RETURNED = "returned", _("已退回")
    REASSIGNED = "reassigned", _("已改派")


class LeadAssignment(Scoped):
    """One hand-out of a pool entry to a member, kept with its outcome (the conversion figures read these)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(LeadPoolEntry, on_delete=models.CASCADE, related_name="assignments")
    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+", verbose_name=_("成员"))
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source = models.CharField(max_length=20, choices=PoolSource.choices)
    status = models.CharField(max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.OPEN)
    # The manager who assigned by hand; empty when a rule did.
    assigned_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    return_due_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    seconds_to_add = models.PositiveIntegerField(null=True, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entry"], condition=Q(status="open"), name="leadassignment_one_open_per_entry"
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True) | (~Q(status="open") & Q(closed_at__isnull=False)),
                name="leadassignment_closed_at_iff_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["staff", "assigned_at"], name="leadassignment_staff_day"),
            models.Index(fields=["status", "return_due_at"], name="leadassignment_due"),
            models.Index(fields=["organization", "assigned_at"], name="leadassignment_org_at"),
        ]

    @property
    def todo_key(self) -> str:
        return f"lead_pool:{self.pk}"
