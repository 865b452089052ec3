"""Campaigns: what is sent to whom, the quota rules as data, and the ledger that enforces them.

* :class:`QuotaPolicy` — per organization (``channel_account`` empty) and optionally per channel
  account: the WeCom receive caps, the Moments cap, the brand's own cap, quiet hours, consent.
* :class:`QuotaLedger` — one row per reserved slot ``(organization, subject, kind, window, slot)``.
  The unique constraint is the invariant: the database refuses a second reservation of a slot, so a
  customer can never get more than ``limit`` messages in a window whatever runs concurrently.
  Daily caps of 1 are one row per platform day (slot 0); weekly/monthly caps reserve slot rows
  ``0 … limit-1`` of the window (week starting Monday / calendar month, Asia/Shanghai).
* :class:`Campaign` → :class:`Delivery` (one per audience member, excluded ones keep their reason)
  → :class:`Batch` (one add_msg_template call per sender, ≤ 10,000 customers or ≤ 2,000 groups)
  → :class:`DispatchAttempt` (written before every outbound call).
"""

from __future__ import annotations

import secrets
from datetime import time
from decimal import Decimal
from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Customer, CustomerGroup, Organization, Scoped, Segment, Staff, Store

MAX_ATTACHMENTS = 9
MAX_CUSTOMERS_PER_CALL = 10_000
MAX_GROUPS_PER_CALL = 2_000
MAX_VALUE_PER_CONVERSION = Decimal(10_000_000)


def new_holdout_seed() -> int:
    return secrets.randbelow(2**62)


class CampaignKind(models.TextChoices):
    BROADCAST_SINGLE = "broadcast_single", _("客户群发")
    BROADCAST_GROUP = "broadcast_group", _("客户群群发")
    MOMENT = "moment", _("朋友圈")
    WELCOME_TEMPLATE = "welcome_template", _("欢迎语模板")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PENDING_APPROVAL = "pending_approval", _("待审批")
    SCHEDULED = "scheduled", _("已排期")
    SENDING = "sending", _("发送中")
    PAUSED = "paused", _("已暂停")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class Recurrence(models.TextChoices):
    NONE = "", _("不重复")
    DAILY = "daily", _("每天")
    WEEKLY = "weekly", _("每周")
    MONTHLY = "monthly", _("每月")


class CapMode(models.TextChoices):
    DAILY = "daily", _("每天 1 条")
    WEEKLY = "weekly", _("每周 7 条")
    MONTHLY = "monthly", _("每月当月天数条")


class CapPeriod(models.TextChoices):
    DAY = "day", _("每天")
    WEEK = "week", _("每周")
    MONTH = "month", _("每月")


class QuotaPolicy(Scoped):
    """The caps a campaign must respect. The organization row (no account) is the default."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    channel_account = models.ForeignKey(
        "channels.ChannelAccount", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    customer_mode = models.CharField(_("客户接收上限"), max_length=10, choices=CapMode.choices, default=CapMode.DAILY)
    group_mode = models.CharField(_("客户群接收上限"), max_length=10, choices=CapMode.choices, default=CapMode.DAILY)
    moments_per_day = models.PositiveSmallIntegerField(_("每位客户每天朋友圈条数"), default=3)
    # The brand's own cap across all marketing (0 = off), e.g. 2 per week.
    brand_cap = models.PositiveSmallIntegerField(_("品牌营销上限"), default=0)
    brand_cap_period = models.CharField(
        _("品牌上限周期"), max_length=10, choices=CapPeriod.choices, default=CapPeriod.WEEK
    )
    quiet_start = models.TimeField(_("免打扰开始"), default=time(21, 0))
    quiet_end = models.TimeField(_("免打扰结束"), default=time(9, 0))
    require_consent = models.BooleanField(_("仅发送给同意营销的客户"), default=True)
    # Above this many recipients a manager (or operator) must approve before scheduling.
    approval_threshold = models.PositiveIntegerField(_("需审批的人数门槛"), default=5000)
    attribution_days = models.PositiveSmallIntegerField(_("归因窗口（天）"), default=7)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("配额策略")
        verbose_name_plural = _("配额策略")
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=Q(channel_account__isnull=True), name="quotapolicy_one_default"
            ),
            models.UniqueConstraint(
                fields=["organization", "channel_account"],
                condition=Q(channel_account__isnull=False),
                name="quotapolicy_one_per_account",
            ),
            models.CheckConstraint(condition=Q(moments_per_day__lte=20), name="quotapolicy_moments_sane"),
        ]


class LedgerKind(models.TextChoices):
    WECOM_CUSTOMER = "wecom_customer", _("企微客户群发")
    WECOM_GROUP = "wecom_group", _("企微客户群群发")
    MOMENT = "moment", _("朋友圈")
    BRAND = "brand", _("品牌营销上限")


class LedgerState(models.TextChoices):
    RESERVED = "reserved", _("已预留")  # planned; a higher-priority campaign may still take it
    SENDING = "sending", _("发送中")  # an attempt was recorded; never taken away any more
    USED = "used", _("已使用")
    USED_ELSEWHERE = "used_elsewhere", _("被其他群发占用")  # WeCom status 3 / a manual send


class QuotaLedger(models.Model):
    # No database FK constraints on this planner-written table: the planner inserts up to millions
    # of rows it has just read in the same transaction, and a per-row FK trigger would dominate the
    # plan (bench/planner.py). Deletion cascades are still done by Django's collector.
    # Only the indexes the planner and dispatcher use: Django's default index per FK would be written
    # for every reserved slot and double the planner's cost (bench/planner.py).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    # Exactly one subject: a customer or a customer group (the WeCom cap counts both).
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_constraint=False, db_index=False
    )
    group = models.ForeignKey(
        CustomerGroup,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # First platform day (Asia/Shanghai) of the window: the day, the Monday, or the 1st of the month.
    window_start = models.DateField()
    slot_no = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=20, choices=LedgerState.choices, default=LedgerState.RESERVED)
    campaign = models.ForeignKey(
        "Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    delivery = models.ForeignKey(
        "Delivery",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # The delivery that held the slot before a higher-priority campaign took it (planner bookkeeping).
    prev_delivery_id = models.BigIntegerField(null=True, blank=True)
    priority = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(customer__isnull=False, group__isnull=True) | Q(customer__isnull=True, group__isnull=False)
                ),
                name="ledger_one_subject",
            ),
            models.CheckConstraint(condition=Q(slot_no__lt=31), name="ledger_slot_in_range"),
            models.UniqueConstraint(
                # Customer first: also the index for a customer's slots (merges, deletions).
                fields=["customer", "kind", "window_start", "slot_no"],
                condition=Q(customer__isnull=False),
                name="ledger_customer_slot_unique",
            ),
            models.UniqueConstraint(
                fields=["group", "kind", "window_start", "slot_no"],
                condition=Q(group__isnull=False),
                name="ledger_group_slot_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["delivery"], name="ledger_delivery"),
            # The planner reads a window's held slots in one range scan (campaigns.planner._reserve).
            # BRIN: slots are written day by day, so a window's rows lie together; the index costs
            # next to nothing to keep, where a B-tree would be one more entry per reserved slot.
            BrinIndex(fields=["window_start"], name="ledger_window"),
        ]


class Campaign(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # The creating manager's own store (shown on the campaign); the audience limit is ``audience_store_ids``.
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The stores the audience is limited to: the creator's ``Actor.store_ids`` (own + managed stores),
    # so a manager's campaign reaches exactly what their segment preview shows. NULL: the whole brand
    # (operators); empty: nobody (a manager with no store).
    audience_store_ids = ArrayField(models.BigIntegerField(), null=True, blank=True, default=None)
    channel_account = models.ForeignKey(
        "channels.ChannelAccount", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(_("活动名称"), max_length=100)
    kind = models.CharField(
        _("类型"), max_length=20, choices=CampaignKind.choices, default=CampaignKind.BROADCAST_SINGLE
    )
    text = models.TextField(_("文字内容"), blank=True, default="")
    # [{"msgtype": "image"|"link"|"miniprogram", ...}] in WeCom's attachment shape (validated in campaigns.content).
    attachments = models.JSONField(_("附件"), default=list, blank=True)
    segment = models.ForeignKey(
        Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("客户分群")
    )
    # Welcome templates only: the 渠道活码 it answers; empty = the default for every 活码 without its own.
    # CASCADE, not SET_NULL: a template written for one 活码 must never silently become the default.
    contact_way = models.ForeignKey(
        "channels.ContactWay",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("渠道活码"),
    )
    # Welcome templates only: a new-friend coupon issued to the customer the welcome greets, its link
    # appended to the text (offers is a lower layer).
    coupon_template = models.ForeignKey(
        "offers.CouponTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("新好友优惠券"),
    )
    expression = models.JSONField(_("受众条件"), default=dict, blank=True)
    group_ids = ArrayField(models.BigIntegerField(), default=list, blank=True, verbose_name=_("客户群"))
    exclusion_segments = models.ManyToManyField(Segment, blank=True, related_name="+", verbose_name=_("排除分群"))
    holdout_percent = models.PositiveSmallIntegerField(_("对照组比例 %"), default=0)
    # Seeds the holdout hash (campaigns.planner.HOLDOUT_SQL). The wizard sends one seed for its
    # previews and the campaign it submits, so the count it shows is the count that is planned
    # (seeding with the id gave every preview, and the campaign itself, a different holdout).
    holdout_seed = models.BigIntegerField(default=new_holdout_seed)
    priority = models.IntegerField(_("优先级"), default=0)
    # What one conversion (a paid order within the attribution window) is worth to the brand, in yuan:
    # the joint quota allocation (campaigns.allocation) weighs each customer's purchase probability by it.
    value_per_conversion = models.DecimalField(
        _("每次转化价值（元）"), max_digits=12, decimal_places=2, default=Decimal(0)
    )
    status = models.CharField(_("状态"), max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    # When beat should act next (start the send); recurrence advances it.
    due_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    recurrence = models.CharField(_("重复"), max_length=10, choices=Recurrence.choices, blank=True, default="")
    recurrence_until = models.DateTimeField(_("重复截止"), null=True, blank=True)
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    approved_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    planned_at = models.DateTimeField(null=True, blank=True)
    # When the send may start (after quiet hours); the platform day the quota is charged to.
    send_after = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Cached counters for the list and progress pages (recomputed by services.campaign_refresh_stats).
    stats = models.JSONField(default=dict, blank=True)
    # Results: attributed orders, GMV, lift (services.campaign_results_compute).
    results = models.JSONField(default=dict, blank=True)
    moment_jobid = models.CharField(max_length=128, blank=True, default="")
    moment_id = models.CharField(max_length=128, blank=True, default="")
    # Moments only: the customer tags (contacts Tag ids, synced to WeCom) whose holders see the post;
    # empty = every customer of the senders (add_moment_task visible_range.external_contact_list.tag_list).
    moment_tag_ids = ArrayField(models.BigIntegerField(), default=list, blank=True, verbose_name=_("朋友圈可见标签"))
    # Likes and comments from get_moment_comments (campaigns.moments): {likes, comments, like_list,
    # comment_list, synced_at}; each row {external_userid | userid, sender, create_time, customer_id, name}.
    moment_interactions = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # Campaigns are visible brand-wide (managers approve them); a manager's own campaign only
    # reaches their stores' customers (``audience_store_ids`` limits the audience, see campaigns.planner).
    SCOPE_STORE: ClassVar[str | None] = None

    class Meta:
        verbose_name = _("营销活动")
        verbose_name_plural = _("营销活动")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_percent__gte=0, holdout_percent__lte=50), name="campaign_holdout_range"
            ),
            models.CheckConstraint(
                condition=Q(contact_way__isnull=True) | Q(kind="welcome_template"),
                name="campaign_contact_way_only_welcome",
            ),
            models.CheckConstraint(
                condition=Q(value_per_conversion__gte=0, value_per_conversion__lte=MAX_VALUE_PER_CONVERSION),
                name="campaign_value_per_conversion_range",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="campaign_due"),
            models.Index(fields=["organization", "-created_at"], name="campaign_org_created"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_group(self) -> bool:
        return self.kind == CampaignKind.BROADCAST_GROUP


class DeliveryStatus(models.TextChoices):
    EXCLUDED = "excluded", _("已排除")
    PLANNED = "planned", _("待发送")
    TASK_CREATED = "task_created", _("已创建任务")
    DELIVERED = "delivered", _("已送达")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


class ExclusionReason(models.TextChoices):
    OPTED_OUT = "opted_out", _("已退订")
    NO_CONSENT = "no_consent", _("未同意营销")
    EXCLUDED_SEGMENT = "excluded_segment", _("排除分群")
    HOLDOUT = "holdout", _("对照组")
    NO_WECOM = "no_wecom", _("无企微身份")
    NO_SENDER = "no_sender", _("无可用发送员工")
    QUOTA = "quota", _("已达接收上限")
    BRAND_CAP = "brand_cap", _("已达品牌营销上限")
    PREEMPTED = "preempted", _("被更高优先级活动占用")
    NOT_FRIEND = "not_friend", _("客户不是好友")
    QUOTA_ELSEWHERE = "quota_elsewhere", _("客户已收到其他群发")
    NOT_CONFIRMED = "not_confirmed", _("员工未确认发送")
    PLATFORM_ERROR = "platform_error", _("平台错误")


class Delivery(models.Model):
    """One audience member of a campaign: planned, or excluded with the reason.

    Like the ledger, no database FK constraints (see :class:`QuotaLedger`) and only the indexes that
    queries use: the planner writes one row per audience member in one statement, and each index is
    written once per row. Django's collector still cascades deletions.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    # Indexed by delivery_customer_once (campaign first).
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False, db_index=False
    )
    # Indexed: merges and deletions of a customer find their deliveries.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_constraint=False
    )
    group = models.ForeignKey(
        CustomerGroup,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # Not indexed: a sender's work is found through its batches.
    sender = models.ForeignKey(
        Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False, db_index=False
    )
    batch = models.ForeignKey(
        "Batch",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
        db_constraint=False,
        db_index=False,
    )
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PLANNED)
    reason = models.CharField(max_length=20, choices=ExclusionReason.choices, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Not partial, so it is also the index for "deliveries of a campaign" (NULL customers, in
            # group broadcasts, never conflict).
            models.UniqueConstraint(fields=["campaign", "customer"], name="delivery_customer_once"),
            models.UniqueConstraint(
                fields=["campaign", "group"], condition=Q(group__isnull=False), name="delivery_group_once"
            ),
        ]
        indexes = [
            # Partial: most rows are never delivered (excluded, holdout), and they cost nothing here.
            models.Index(
                fields=["customer", "delivered_at"],
                condition=Q(delivered_at__isnull=False),
                name="delivery_customer_time",
            ),
            models.Index(fields=["batch"], condition=Q(batch__isnull=False), name="delivery_batch"),
            models.Index(fields=["group"], condition=Q(group__isnull=False), name="delivery_group"),
        ]


class BatchStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    ATTEMPTING = "attempting", _("调用中")
    CREATED = "created", _("已创建任务")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    NEEDS_OPERATOR = "needs_operator", _("需人工确认")
    CANCELLED = "cancelled", _("已取消")


class Batch(models.Model):
    """One add_msg_template call: one sender, ≤ 10,000 customers (≤ 2,000 groups)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    sender = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveIntegerField(default=0)
    size = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    not_before = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    msgid = models.CharField(max_length=128, blank=True, default="")
    task_created_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(_("员工确认时间"), null=True, blank=True)
    reminders = ArrayField(models.DateTimeField(), default=list, blank=True)
    results_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "sender", "seq"], name="batch_unique_seq"),
            # One WeCom task is adopted by at most one batch (reconciliation relies on it).
            models.UniqueConstraint(fields=["organization", "msgid"], condition=~Q(msgid=""), name="batch_msgid_once"),
        ]
        indexes = [models.Index(fields=["status", "not_before"], name="batch_claim")]


class AttemptOutcome(models.TextChoices):
    STARTED = "started", _("调用中")
    OK = "ok", _("成功")
    RATE_LIMITED = "rate_limited", _("被限流")
    ERROR = "error", _("失败")
    UNKNOWN = "unknown", _("结果未知")
    RECONCILED = "reconciled", _("已对账找回")


class DispatchAttempt(models.Model):
    """Written (and committed) before the outbound call; completed after it."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="dispatch_attempts")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices, default=AttemptOutcome.STARTED)
    error_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    msgid = models.CharField(max_length=128, blank=True, default="")
    worker = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["started_at", "id"]


class AllocationMode(models.TextChoices):
    PRIORITY = "priority", _("按优先级")
    EXPECTED_VALUE = "expected_value", _("按预期价值")


class AllocationRun(Scoped):
    """One planning run of a platform day (campaigns.allocation): the campaigns planned together, the
    mode the operator chose, and the expected value of both allocations on the same inputs."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("平台日"))
    mode = models.CharField(_("分配方式"), max_length=20, choices=AllocationMode.choices)
    campaign_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    candidates = models.PositiveIntegerField(_("候选人次"), default=0)
    contested = models.PositiveIntegerField(_("有竞争的客户"), default=0)
    moved = models.PositiveIntegerField(_("改投的客户"), default=0)
    planned = models.PositiveIntegerField(_("计划发送"), default=0)
    value_priority = models.DecimalField(_("按优先级预期价值"), max_digits=16, decimal_places=2, default=Decimal(0))
    value_joint = models.DecimalField(_("按预期价值预期价值"), max_digits=16, decimal_places=2, default=Decimal(0))
    # Per campaign: {"<id>": {"priority": {"slots", "value"}, "expected_value": {...}, "rate_source": …}}.
    details = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("联合排期")
        verbose_name_plural = _("联合排期")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="allocationrun_org_recent")]

    def __str__(self) -> str:
        return f"allocation run #{self.pk} ({self.mode})"

    @property
    def gain(self) -> Decimal:
        return self.value_joint - self.value_priority
