"""Coupons (优惠券): templates, the coupons issued from them, and their redemptions (核销).

Stock and per-customer limits are counters the database holds (``CouponTemplate.issued`` ≤
``stock``; ``CouponHolding.issued`` ≤ the template's per-customer limit, raised by one conditional
upsert); a coupon is redeemed at most once at a time (the partial unique index
``redemption_active_once``). Writes go through ``offers.services``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, BigIntegerRangeField, RangeOperators
from django.db import models
from django.db.models import BigIntegerField, Case, F, Func, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.models import Customer, CustomerGroup, Organization, Scoped, Segment, Staff, Store


class DiscountKind(models.TextChoices):
    AMOUNT = "amount", _("立减金额")
    PERCENT = "percent", _("折扣")


class ValidityKind(models.TextChoices):
    FIXED = "fixed", _("固定日期")
    RELATIVE = "relative", _("领取后 N 天内有效")


class CouponTemplate(Scoped):
    """What a coupon gives, when and where it is valid, and how many may be issued."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("券名称"), max_length=60)
    kind = models.CharField(_("优惠方式"), max_length=10, choices=DiscountKind.choices, default=DiscountKind.AMOUNT)
    amount_off = models.DecimalField(_("立减金额（元）"), max_digits=10, decimal_places=2, null=True, blank=True)
    percent_off = models.PositiveSmallIntegerField(_("优惠百分比"), null=True, blank=True)
    threshold = models.DecimalField(_("使用门槛（元）"), max_digits=10, decimal_places=2, default=0)
    validity = models.CharField(
        _("有效期类型"), max_length=10, choices=ValidityKind.choices, default=ValidityKind.FIXED
    )
    valid_from = models.DateTimeField(_("生效时间"), null=True, blank=True)
    valid_to = models.DateTimeField(_("失效时间"), null=True, blank=True)
    valid_days = models.PositiveSmallIntegerField(_("领取后有效天数"), null=True, blank=True)
    stock = models.PositiveIntegerField(_("总库存"))
    issued = models.PositiveIntegerField(_("已发放"), default=0)
    per_customer_limit = models.PositiveSmallIntegerField(_("每人限领"), default=1)
    stores = models.ManyToManyField(Store, blank=True, related_name="+", verbose_name=_("适用门店"))
    stackable = models.BooleanField(_("可与其他券叠加"), default=False)
    refund_restores = models.BooleanField(_("退款后返还券"), default=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("优惠券模板")
        verbose_name_plural = _("优惠券模板")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="coupontemplate_name_unique"),
            models.CheckConstraint(condition=Q(issued__lte=F("stock")), name="coupontemplate_issued_within_stock"),
            models.CheckConstraint(condition=Q(per_customer_limit__gte=1), name="coupontemplate_limit_positive"),
            models.CheckConstraint(
                condition=(Q(kind="amount", amount_off__gt=0, percent_off__isnull=True))
                | (Q(kind="percent", percent_off__gte=1, percent_off__lte=99, amount_off__isnull=True)),
                name="coupontemplate_discount_consistent",
            ),
            models.CheckConstraint(
                condition=(Q(validity="fixed", valid_to__isnull=False, valid_days__isnull=True))
                | (Q(validity="relative", valid_days__gte=1, valid_from__isnull=True, valid_to__isnull=True)),
                name="coupontemplate_validity_consistent",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def remaining(self) -> int:
        return max(0, self.stock - self.issued)

    @property
    def benefit(self) -> str:
        """``满 100 减 5`` / ``8.5 折`` (the face of the coupon)."""
        values = {
            "t": _yuan(self.threshold),
            "off": _yuan(self.amount_off),
            # 8.5 折 = pay 85 % = 15 % off; the English reads "percent" off.
            "rate": f"{(100 - (self.percent_off or 0)) / 10:g}",
            "percent": self.percent_off or 0,
        }
        if self.kind == DiscountKind.AMOUNT:
            face = gettext("满 ¥%(t)s 减 ¥%(off)s") if self.threshold else gettext("立减 ¥%(off)s")
        elif self.threshold:
            # English reads the percent off, not the share paid, so its text names another argument.
            # xgettext:no-python-format
            face = gettext("满 ¥%(t)s 享 %(rate)s 折")
        else:
            # xgettext:no-python-format
            face = gettext("%(rate)s 折")
        return face % values


def _yuan(value: Decimal | None) -> str:
    """5.00 → "5", 12.50 → "12.5" (a coupon's face)."""
    return f"{Decimal(value or 0).normalize():f}"


class CouponHolding(models.Model):
    """How many coupons of a template one customer has received: the per-customer limit's counter."""

    template = models.ForeignKey(CouponTemplate, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    issued = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template", "customer"], name="couponholding_once"),
        ]


class CouponSource(models.TextChoices):
    STAFF = "staff", _("员工发放")
    GROUP = "group", _("群专享")
    SEGMENT = "segment", _("分群发放")
    WELCOME = "welcome", _("新好友欢迎语")
    API = "api", _("API")
    REFERRAL = "referral", _("任务宝奖励")
    JOURNEY = "journey", _("客户旅程")


class CouponStatus(models.TextChoices):
    ISSUED = "issued", _("未使用")
    REDEEMED = "redeemed", _("已核销")
    VOID = "void", _("已作废")


class IssuedCoupon(Scoped):
    """One coupon in a customer's hands: a short code for staff, a signed token for the customer's page."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="coupons")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="coupons")
    # 8 characters of an alphabet without 0/O, 1/I/L (offers_new_code() in the migration).
    code = models.CharField(_("券码"), max_length=12)
    token = models.CharField(max_length=40, unique=True)
    seq = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(_("状态"), max_length=10, choices=CouponStatus.choices, default=CouponStatus.ISSUED)
    source = models.CharField(_("来源"), max_length=10, choices=CouponSource.choices, default=CouponSource.STAFF)
    issued_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    group = models.ForeignKey(CustomerGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Written for campaigns (a higher layer), hence no foreign key.
    campaign_id = models.BigIntegerField(null=True, blank=True)
    # The journey whose 发优惠券 step issued it (journeys is a higher layer, hence no foreign key).
    journey_id = models.BigIntegerField(null=True, blank=True)
    issued_at = models.DateTimeField(default=timezone.now)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    # The segment job that issued it (a rerun of the job skips customers it already reached).
    issue_job = models.ForeignKey(
        "offers.CouponIssueJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    class Meta:
        verbose_name = _("优惠券")
        verbose_name_plural = _("优惠券")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="issuedcoupon_code_unique"),
            models.UniqueConstraint(fields=["template", "customer", "seq"], name="issuedcoupon_seq_unique"),
            models.CheckConstraint(condition=Q(valid_until__gt=F("valid_from")), name="issuedcoupon_window_sane"),
            models.CheckConstraint(
                condition=Q(status="redeemed", redeemed_at__isnull=False) | ~Q(status="redeemed"),
                name="issuedcoupon_redeemed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-issued_at"], name="issuedcoupon_customer"),
            models.Index(fields=["template", "status"], name="issuedcoupon_template_status"),
        ]

    def __str__(self) -> str:
        return self.code

    def display_status(self, now: object = None) -> str:
        """The status as a customer reads it: an unused coupon past its window is 已过期."""
        moment = now or timezone.now()
        if self.status == CouponStatus.ISSUED and self.valid_until <= moment:  # type: ignore[operator]
            return str(_("已过期"))
        if self.status == CouponStatus.ISSUED and self.valid_from > moment:  # type: ignore[operator]
            return str(_("未生效"))
        return str(self.get_status_display())


def _stack_span() -> Func:
    """``int8range(coupon, coupon + 1)`` for a stackable redemption, ``int8range(NULL, NULL)`` (everything)
    for a non-stackable one: the third column of ``redemption_stacking_per_order``."""
    lower = Case(When(stackable=True, then=F("coupon_id")), default=Value(None), output_field=BigIntegerField())
    upper = Case(When(stackable=True, then=F("coupon_id") + 1), default=Value(None), output_field=BigIntegerField())
    return Func(lower, upper, function="int8range", output_field=BigIntegerRangeField())


class Redemption(Scoped):
    """A coupon used on an order; ``reverted_at`` is set when a refund gave the coupon back."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    coupon = models.ForeignKey(IssuedCoupon, on_delete=models.CASCADE, related_name="redemptions")
    # analytics is a lower layer: a real foreign key.
    order = models.ForeignKey("analytics.Order", on_delete=models.SET_NULL, null=True, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, related_name="+")
    staff = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    external_ref = models.CharField(_("外部单号"), max_length=128)
    amount = models.DecimalField(_("订单金额"), max_digits=12, decimal_places=2)
    redeemed_at = models.DateTimeField(default=timezone.now)
    reverted_at = models.DateTimeField(null=True, blank=True)
    # The template's 可叠加 at redemption time, copied here so the stacking rule is a constraint.
    stackable = models.BooleanField(default=False)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("核销记录")
        verbose_name_plural = _("核销记录")
        ordering = ["-redeemed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["coupon"], condition=Q(reverted_at__isnull=True), name="redemption_active_once"
            ),
            # Stacking on one order (external_ref): a stackable redemption covers [coupon, coupon + 1),
            # a non-stackable one the whole line, so two un-reverted redemptions of one order may share
            # it only when both are stackable. The database refuses the second of two devices at once.
            ExclusionConstraint(
                name="redemption_stacking_per_order",
                expressions=[
                    (F("organization"), RangeOperators.EQUAL),
                    (F("external_ref"), RangeOperators.EQUAL),
                    (_stack_span(), RangeOperators.OVERLAPS),
                ],
                condition=Q(reverted_at__isnull=True),
            ),
        ]
        indexes = [models.Index(fields=["order"], name="redemption_order")]


class IssueJobStatus(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("发放中")
    DONE = "done", _("已完成")
    STOCK_OUT = "stock_out", _("库存已发完")
    FAILED = "failed", _("失败")


FINISHED_ISSUE_JOB = (IssueJobStatus.DONE, IssueJobStatus.STOCK_OUT, IssueJobStatus.FAILED)


class CouponIssueJob(Scoped):
    """Issuing a template to a saved segment in the background: batches of customers in id order, each
    batch one transaction that issues and moves ``cursor`` (the last customer id done) together, so a
    worker that dies mid-batch leaves the job where its last committed batch left it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    template = models.ForeignKey(CouponTemplate, on_delete=models.CASCADE, related_name="issue_jobs")
    segment = models.ForeignKey(Segment, on_delete=models.SET_NULL, null=True, related_name="+")
    # The issuer's stores when the job was started (None = every store).
    store_ids = ArrayField(models.BigIntegerField(), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=IssueJobStatus.choices, default=IssueJobStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    issued = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched by every batch; a running job whose heartbeat stopped is taken over by the sweep.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("分群发券任务")
        verbose_name_plural = _("分群发券任务")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(processed__lte=F("total")) | Q(total=0), name="issuejob_within_total"),
        ]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_ISSUE_JOB

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return int(self.processed * 100 / self.total) if self.total else 0

    @property
    def at_limit(self) -> int:
        return max(0, self.processed - self.issued)
