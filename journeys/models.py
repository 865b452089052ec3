"""Journeys (客户旅程 / SOP): a trigger enrols customers, who then walk an ordered list of steps —
waits, conditions with a yes/no branch and actions — advanced by the beat tick in set-based SQL.

Invariants held by Postgres:

- a customer is in a journey at most once at a time (``enrollment_one_live``);
- a step runs once per visit of an enrollment (``steprun_once_per_visit``): the tick claims a step by
  inserting its ``StepRun`` (``ON CONFLICT DO NOTHING``) in the transaction that records the action,
  so a doubled tick or a crash never runs it twice.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Customer, CustomField, Lifecycle, Organization, Scoped, Segment, Staff, Tag
from offers.models import CouponTemplate


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    ACTIVE = "active", _("运行中")
    PAUSED = "paused", _("已暂停")
    ARCHIVED = "archived", _("已归档")


class TriggerKind(models.TextChoices):
    CONTACT_WAY = "contact_way", _("通过渠道活码添加")
    TAG_ADDED = "tag_added", _("被打上标签")
    TAG_REMOVED = "tag_removed", _("标签被移除")
    GROUP_JOINED = "group_joined", _("加入客户群")
    DAYS_SINCE_ADDED = "days_since_added", _("添加好友满 N 天")
    DATE_FIELD = "date_field", _("生日/自定义日期")
    LIFECYCLE_ENTERED = "lifecycle_entered", _("进入生命周期阶段")
    FIRST_ORDER = "first_order", _("首次下单")
    DAYS_SINCE_ORDER = "days_since_order", _("距最近下单满 N 天")
    SEGMENT_ENTERED = "segment_entered", _("进入分群")
    MANUAL = "manual", _("手动加入")


class EntryRule(models.TextChoices):
    ONCE = "once", _("每位客户仅一次")
    ONCE_PER_DAYS = "once_per_days", _("每 N 天最多一次")
    AFTER_EXIT = "after_exit", _("退出后可再次进入")


class Journey(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("旅程名称"), max_length=100)
    status = models.CharField(_("状态"), max_length=10, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT)
    template = models.CharField(_("模板"), max_length=30, blank=True, default="")
    trigger = models.CharField(_("触发条件"), max_length=20, choices=TriggerKind.choices)
    trigger_state = models.CharField(_("渠道参数"), max_length=64, blank=True, default="")
    trigger_tag = models.ForeignKey(
        Tag, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("触发标签")
    )
    trigger_days = models.PositiveSmallIntegerField(_("天数"), default=0)
    trigger_segment = models.ForeignKey(
        Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("分群")
    )
    # 生日/自定义日期: the brand's DATE custom field whose anniversary (Beijing month-day) enrols,
    # ``trigger_days`` days before it (0: on the day).
    trigger_field = models.ForeignKey(
        CustomField, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("日期字段")
    )
    trigger_lifecycle = models.CharField(
        _("生命周期阶段"), max_length=20, choices=Lifecycle.choices, blank=True, default=""
    )
    entry_rule = models.CharField(_("进入规则"), max_length=15, choices=EntryRule.choices, default=EntryRule.ONCE)
    entry_days = models.PositiveSmallIntegerField(_("再次进入间隔（天）"), default=30)
    exit_on_order = models.BooleanField(_("下单后退出"), default=False)
    exit_on_opt_out = models.BooleanField(_("退订后退出"), default=True)
    goal_days = models.PositiveSmallIntegerField(_("目标：进入后 N 天内下单"), default=14)
    holdout_percent = models.PositiveSmallIntegerField(_("对照组比例 %"), default=0)
    holdout_seed = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("客户旅程")
        verbose_name_plural = _("客户旅程")
        constraints = [
            models.CheckConstraint(condition=Q(holdout_percent__lte=50), name="journey_holdout_range"),
        ]
        indexes = [models.Index(fields=["organization", "status", "trigger"], name="journey_org_status_trigger")]

    def __str__(self) -> str:
        return self.name


class StepKind(models.TextChoices):
    WAIT_DAYS = "wait_days", _("等待 N 天")
    WAIT_HOURS = "wait_hours", _("等待 N 小时")
    WAIT_UNTIL = "wait_until", _("等到某个时刻（北京时间）")
    WAIT_WEEKDAY = "wait_weekday", _("等到星期几（北京时间）")
    CONDITION = "condition", _("条件分支")
    TASK = "task", _("1对1任务（员工发送）")
    BROADCAST = "broadcast", _("企业群发")
    MOMENT = "moment", _("朋友圈")
    COUPON = "coupon", _("发优惠券")
    LIFECYCLE = "lifecycle", _("变更生命周期阶段")
    TAG = "tag", _("打标签")
    UNTAG = "untag", _("移除标签")
    NOTIFY = "notify", _("通知员工")
    END = "end", _("结束")


WAIT_KINDS = {StepKind.WAIT_DAYS, StepKind.WAIT_HOURS, StepKind.WAIT_UNTIL, StepKind.WAIT_WEEKDAY}


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("星期一")
    TUESDAY = 1, _("星期二")
    WEDNESDAY = 2, _("星期三")
    THURSDAY = 3, _("星期四")
    FRIDAY = 4, _("星期五")
    SATURDAY = 5, _("星期六")
    SUNDAY = 6, _("星期日")


class ConditionKind(models.TextChoices):
    HAS_TAG = "has_tag", _("有某个标签")
    ORDERED_SINCE_ENTRY = "ordered", _("进入旅程后下过单")
    IN_SEGMENT = "in_segment", _("在分群中")
    OPTED_OUT = "opted_out", _("已退订")


class JourneyStep(Scoped):
    SCOPE_ORG: ClassVar[str] = "journey__organization"

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("序号"))
    kind = models.CharField(_("步骤类型"), max_length=15, choices=StepKind.choices)
    days = models.PositiveSmallIntegerField(_("天数"), default=0)
    hours = models.PositiveSmallIntegerField(_("小时数"), default=0)
    at_time = models.TimeField(_("时刻（北京时间）"), null=True, blank=True)
    weekday = models.PositiveSmallIntegerField(_("星期几"), choices=Weekday.choices, null=True, blank=True)
    condition = models.CharField(_("条件"), max_length=15, choices=ConditionKind.choices, blank=True, default="")
    # A condition's "no" branch: the position to jump to (None: leave the journey). "Yes" goes on.
    no_goto = models.PositiveSmallIntegerField(_("否则跳到第几步"), null=True, blank=True)
    tag = models.ForeignKey(Tag, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    text = models.TextField(_("内容"), blank=True, default="")
    notify_staff = models.ForeignKey(
        Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("通知员工")
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("分群")
    )
    coupon_template = models.ForeignKey(
        CouponTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("优惠券")
    )
    lifecycle = models.CharField(_("生命周期阶段"), max_length=20, choices=Lifecycle.choices, blank=True, default="")

    class Meta:
        verbose_name = _("旅程步骤")
        ordering = ["journey", "position"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "position"], name="journeystep_position_unique"),
            models.CheckConstraint(condition=Q(position__gte=1), name="journeystep_position_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"


class EnrollmentState(models.TextChoices):
    WAITING = "waiting", _("进行中")
    HOLDOUT = "holdout", _("对照组")
    DONE = "done", _("已走完")
    EXITED = "exited", _("已退出")


LIVE_STATES = (EnrollmentState.WAITING, EnrollmentState.HOLDOUT)


class Enrollment(Scoped):
    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    step = models.ForeignKey(JourneyStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # How many steps this enrollment has arrived at: a step run is unique per (enrollment, step, visit).
    visit = models.PositiveIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=EnrollmentState.choices, default=EnrollmentState.WAITING)
    in_holdout = models.BooleanField(default=False)
    entered_at = models.DateTimeField(default=timezone.now)
    exited_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=20, blank=True, default="")
    converted_at = models.DateTimeField(null=True, blank=True)
    # The step the customer had reached when the goal was met (per-step conversion).
    converted_position = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("旅程客户")
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "customer"],
                condition=Q(state__in=["waiting", "holdout"]),
                name="enrollment_one_live",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["waiting", "holdout"], exited_at__isnull=True)
                | (Q(state__in=["done", "exited"]) & Q(exited_at__isnull=False)),
                name="enrollment_exited_iff_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], name="enrollment_due", condition=Q(state="waiting")),
            models.Index(fields=["journey", "state", "step"], name="enrollment_journey_state"),
            models.Index(fields=["customer", "journey"], name="enrollment_customer"),
        ]


class StepRun(models.Model):
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(JourneyStep, on_delete=models.CASCADE, related_name="runs")
    visit = models.PositiveIntegerField()
    claimed_at = models.DateTimeField()
    outcome = models.CharField(max_length=30, blank=True, default="")
    # What the action made: the to-do's source key, the campaign id, the app message key.
    ref = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step", "visit"], name="steprun_once_per_visit"),
        ]
        indexes = [models.Index(fields=["step", "outcome"], name="steprun_step_outcome")]


from journeys.group_models import GroupSop, GroupSopRun, GroupSopStep  # noqa: E402, F401  (群SOP: its own module)
