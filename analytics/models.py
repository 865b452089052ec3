"""Orders as facts, and the rollups that reports read instead of raw scans
(docs/architecture.md#facts-rollups-and-report-cells).

* :class:`Order` — one paid order (POS, Meituan redemption, WeChat shop, API…), unique per
  (organization, source, external_ref) so a repeated import or push is a no-op. Attribution (staff,
  channel, private domain) is stamped on the row when it is recorded, so it is visible on the order.
* :class:`DailyRollup` — per day × store × channel × staff: new customers, churned follows, orders,
  GMV, refunds, private-domain GMV. Orders update it incrementally (additive upserts); customer
  metrics are refreshed for recent days by a beat task; ``analytics_rebuild`` rebuilds everything.
* :class:`DailyStoreRollup` — the same sums without the staff column (the overview's daily trend),
  written alongside DailyRollup.
* :class:`BuyerFact` and :class:`CustomerMonth` — per-buyer facts (first/second order) and
  per-customer-month activity, recomputed per affected customer when their orders change; the
  repurchase and cohort reports read them.
* Report cells — :class:`AcquisitionMonth`, :class:`AcquisitionStaffMonth`, :class:`RepurchaseDay`,
  :class:`CohortMonth`, :class:`RfmCell`: pre-summed per store × channel so the LTV, funnel,
  repurchase, cohort and RFM reports read thousands of cells, not a million customers.
* :class:`StaffBehaviorDaily` — WeCom ``get_user_behavior_data`` per staff member and day (channels
  writes it through ``analytics.services.staff_behavior_record``).
* :class:`OrderImport` — one uploaded POS/mall export and its per-row errors.

The per-customer figures (LTV, order count, RFM…) live on ``contacts.Customer``; contacts writes them
(``contacts.services.customer_order_figures_set``) from the figures ``analytics.rollups`` computes.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Customer, Organization, Scoped, Staff, Store


class OrderStatus(models.TextChoices):
    PAID = "paid", _("已支付")
    PARTIALLY_REFUNDED = "partially_refunded", _("部分退款")
    REFUNDED = "refunded", _("已退款")


class OrderSource(models.TextChoices):
    MEITUAN = "meituan", _("美团核销")
    WECHAT_SHOP = "wechat_shop", _("微信小店")
    DOUYIN = "douyin", _("抖音团购")
    WECOM_PAY = "wecom_pay", _("企微收款")
    POS_IMPORT = "pos_import", _("POS/商场导入")
    API = "api", _("API")
    MANUAL = "manual", _("手动录入")
    OTHER = "other", _("其他")


class Order(Scoped):
    """A paid order. Amounts in yuan; ``refunded_amount`` accumulates refunds (≤ amount)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders", verbose_name=_("客户"))
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("门店")
    )
    # Attributed staff: the collector/redeemer, else the customer's serving follower at record time.
    staff = models.ForeignKey(
        Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("业绩归属")
    )
    # The customer's first-touch source channel (contacts.SourceChannel values).
    channel = models.CharField(_("渠道"), max_length=20, blank=True, default="")
    # Written by the campaigns app (a higher layer), hence no foreign key.
    campaign_id = models.BigIntegerField(_("归因活动"), null=True, blank=True, db_index=True)
    # The customer was a WeCom friend of the brand when paying: counts as private-domain GMV.
    is_private = models.BooleanField(_("私域订单"), default=False)
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    refunded_amount = models.DecimalField(_("退款金额"), max_digits=12, decimal_places=2, default=0)
    status = models.CharField(_("状态"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID)
    paid_at = models.DateTimeField(_("支付时间"))
    refunded_at = models.DateTimeField(_("退款时间"), null=True, blank=True)
    source = models.CharField(_("来源"), max_length=20, choices=OrderSource.choices, default=OrderSource.API)
    external_ref = models.CharField(_("外部单号"), max_length=128)
    items = models.JSONField(_("商品明细"), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("订单")
        verbose_name_plural = _("订单")
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source", "external_ref"], name="order_external_ref_unique_per_source"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="order_refund_within_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "paid_at"], name="order_org_paid"),
            models.Index(fields=["customer", "paid_at"], name="order_customer_paid"),
            models.Index(fields=["store", "paid_at"], name="order_store_paid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.external_ref}"

    @property
    def net_amount(self) -> object:
        return self.amount - self.refunded_amount


class DailyRollup(Scoped):
    """One cell of day (Asia/Shanghai) × store × channel × staff. Money in yuan, gross of refunds.

    * ``new_customers`` — customers created that day (home store, source channel, first follower);
    * ``churned`` — follows ended that day by the customer or the staff member (not transfers);
    * ``orders``/``gmv``/``refunds``/``private_*`` — orders paid that day; refunds are counted on
      the day the order was paid, so a late refund corrects the day it belongs to.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # No constraint: a deleted staff member keeps their history; the cell keeps the id.
    staff = models.ForeignKey(
        Staff, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=20, blank=True, default="")
    new_customers = models.IntegerField(default=0)
    churned = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    gmv = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    refunds = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    private_orders = models.IntegerField(default=0)
    private_gmv = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    private_refunds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "store", "channel", "staff"],
                name="dailyrollup_cell_unique",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["organization", "day"], name="dailyrollup_org_day")]


class DailyStoreRollup(Scoped):
    """:class:`DailyRollup` without the staff column: one cell of day (Asia/Shanghai) × store × channel,
    each figure the sum of that day's, store's and channel's DailyRollup cells.

    The overview's daily trend reads it: in DailyRollup the staff column multiplies a day's cells by
    the staff (the 1M bench brand: ~49,000 cells in 30 days; the 100k one: 60,405 in 90 days against
    18,232 here), here they are at most days × stores × channels. Kept equal to the sums of
    DailyRollup wherever DailyRollup is written (``analytics.rollups``); a staff filter still reads
    DailyRollup.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=20, blank=True, default="")
    new_customers = models.IntegerField(default=0)
    churned = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    gmv = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    refunds = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    private_orders = models.IntegerField(default=0)
    private_gmv = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    private_refunds = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "store", "channel"],
                name="dailystorerollup_cell_unique",
                nulls_distinct=False,
            )
        ]


class BuyerFact(Scoped):
    """First and second order of a buyer (repurchase windows); recomputed with the customer's rollups."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    first_order_at = models.DateTimeField()
    second_order_at = models.DateTimeField(null=True, blank=True)
    # Month (Asia/Shanghai, first day) of the first order: the customer's cohort.
    cohort_month = models.DateField()
    # The customer's home store and source channel when this row was computed: the cells below
    # counted the buyer under these, so a later recompute takes the buyer out of the same cells.
    home_store_id = models.BigIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=20, blank=True, default="")

    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    class Meta:
        indexes = [models.Index(fields=["organization", "cohort_month"], name="buyerfact_org_cohort")]


class CustomerMonth(Scoped):
    """A customer's orders and net revenue in one calendar month, tagged with their cohort month."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    cohort_month = models.DateField()
    orders = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)

    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "month"], name="customermonth_unique")]
        indexes = [models.Index(fields=["organization", "cohort_month", "month"], name="customermonth_org_cohort")]


# --- Pre-summed cells read by the reports (analytics.rollups "cells"). Every cell is a sum over
# customers; a customer's share is taken out and put back by ``customers_refresh`` (the order,
# refund and merge paths) and everything is recomputed by ``organization_rebuild``.


def _cell_unique(*fields: str, name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(fields=list(fields), name=name, nulls_distinct=False)


class AcquisitionMonth(Scoped):
    """Customers acquired (created) in one month × home store × source channel × LTV band.

    ``bucket`` is the index in ``analytics.rollups.LTV_BUCKETS`` of the customer's LTV, -1 without orders.
    Order-driven figures move with every order; contacts-driven ones (new customers, WeCom adds,
    home store) are recomputed per month by ``acquisition_months_refresh`` (this month and the last
    every 10 minutes, all months nightly). The reports read complete months at the month grain,
    other days at the day grain, and today live from the customers.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    # Two grains in one table: a whole month (day null) and each of its days (for partial months).
    day = models.DateField(null=True, blank=True)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=20, blank=True, default="")
    bucket = models.SmallIntegerField()
    customers = models.IntegerField(default=0)
    followed = models.IntegerField(default=0)  # ever added on WeCom (any follow, ended or not)
    repeaters = models.IntegerField(default=0)  # two counted orders or more
    ltv = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        constraints = [
            _cell_unique("organization", "month", "day", "store", "channel", "bucket", name="acqmonth_cell_unique")
        ]
        indexes = [models.Index(fields=["organization", "day"], name="acqmonth_org_day")]


class AcquisitionRefresh(Scoped):
    """When the acquisition cells of a month were last recomputed from the customers. Orders move
    those cells only for customers created before then: a newer customer is not in them yet, and is
    counted (with their orders) by the next recompute."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "month"], name="acqrefresh_unique_month")]


class AcquisitionStaffMonth(Scoped):
    """Active follows of customers acquired in one month, per follower × home store × channel."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    day = models.DateField(null=True, blank=True)  # as in AcquisitionMonth
    staff = models.ForeignKey(
        Staff, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=20, blank=True, default="")
    customers = models.IntegerField(default=0)
    buyers = models.IntegerField(default=0)
    ltv = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        constraints = [
            _cell_unique("organization", "month", "day", "staff", "store", "channel", name="acqstaffmonth_cell_unique")
        ]
        indexes = [models.Index(fields=["organization", "day"], name="acqstaffmonth_org_day")]


class RepurchaseDay(Scoped):
    """First-time buyers by day of first order × home store × channel, with how many bought again
    within 30/60/90/180 days (a report's "matured" share is the days at least N days old)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    first_day = models.DateField()
    cohort_month = models.DateField()
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=20, blank=True, default="")
    buyers = models.IntegerField(default=0)
    repeaters = models.IntegerField(default=0)
    again_30 = models.IntegerField(default=0)
    again_60 = models.IntegerField(default=0)
    again_90 = models.IntegerField(default=0)
    again_180 = models.IntegerField(default=0)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        constraints = [_cell_unique("organization", "first_day", "store", "channel", name="repurchaseday_cell_unique")]
        indexes = [models.Index(fields=["organization", "cohort_month"], name="repurchaseday_org_cohort")]


class CohortMonth(Scoped):
    """Customers with orders and their net revenue per cohort month × month × home store × channel."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    cohort_month = models.DateField()
    month = models.DateField()
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=20, blank=True, default="")
    customers = models.IntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        constraints = [
            _cell_unique("organization", "cohort_month", "month", "store", "channel", name="cohortmonth_cell_unique")
        ]


class RfmCell(Scoped):
    """Buyers per RFM segment × home store × channel (current state; rescored nightly)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    segment = models.CharField(max_length=30)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    channel = models.CharField(max_length=20, blank=True, default="")
    customers = models.IntegerField(default=0)
    ltv = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    orders = models.BigIntegerField(default=0)
    # Sum over the buyers of (last order's Asia/Shanghai day − 2000-01-01) in days: mean recency.
    last_day_sum = models.BigIntegerField(default=0)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        constraints = [_cell_unique("organization", "segment", "store", "channel", name="rfmcell_unique")]


class StaffBehaviorDaily(Scoped):
    """WeCom ``get_user_behavior_data`` for one staff member and one day."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    chat_cnt = models.IntegerField(_("聊天数"), default=0)
    message_cnt = models.IntegerField(_("发送消息数"), default=0)
    # Percent (0–100) as WeCom reports it; null when there was nothing to reply to.
    reply_percentage = models.FloatField(_("回复率"), null=True, blank=True)
    # Minutes, as WeCom reports it.
    avg_reply_time = models.FloatField(_("平均首次回复时长"), null=True, blank=True)
    new_contact_cnt = models.IntegerField(_("新增客户数"), default=0)
    negative_feedback_cnt = models.IntegerField(_("删除/拉黑数"), default=0)

    SCOPE_STORE: ClassVar[str | None] = "staff__store"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["staff", "day"], name="staffbehavior_unique_day")]
        indexes = [models.Index(fields=["organization", "day"], name="staffbehavior_org_day")]


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("导入中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class OrderImport(Scoped):
    """An uploaded POS/mall export (CSV or .xlsx) and its outcome, row errors with line numbers."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    file_name = models.CharField(_("文件名"), max_length=200)
    file_path = models.CharField(max_length=500, blank=True, default="")
    status = models.CharField(_("状态"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    total_rows = models.IntegerField(_("总行数"), default=0)
    created_rows = models.IntegerField(_("新增订单"), default=0)
    duplicate_rows = models.IntegerField(_("重复跳过"), default=0)
    error_rows = models.IntegerField(_("错误行"), default=0)
    # [{"line": 7, "reason": "…"}], first 500 only.
    errors = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class FitStatus(models.TextChoices):
    OK = "ok", _("可用")
    TOO_FEW = "too_few", _("复购客户太少")
    BAD_FIT = "bad_fit", _("拟合不佳")


class PredictionFit(Scoped):
    """One fit of the purchase (BG/NBD) and spend (Gamma-Gamma) models of an organization
    (analytics.predict.services): parameters, data window, size, likelihood, timings, the holdout
    validation, and whether its scores may be shown as truth (``status``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(_("状态"), max_length=10, choices=FitStatus.choices)
    message = models.CharField(_("说明"), max_length=300, blank=True, default="")
    data_start = models.DateField(_("数据起始"), null=True, blank=True)
    data_end = models.DateField(_("数据截止"))
    customers = models.IntegerField(_("购买客户"), default=0)
    repeat_customers = models.IntegerField(_("复购客户"), default=0)
    # {"r": …, "alpha": …, "a": …, "b": …} with time in weeks; {"p": …, "q": …, "gamma": …} in yuan.
    bgnbd = models.JSONField(default=dict, blank=True)
    gamma_gamma = models.JSONField(default=dict, blank=True)
    log_likelihood = models.FloatField(null=True, blank=True)
    gamma_gamma_log_likelihood = models.FloatField(null=True, blank=True)
    fit_seconds = models.FloatField(default=0)
    score_seconds = models.FloatField(default=0)
    scored = models.IntegerField(_("已评分客户"), default=0)
    # The time holdout (analytics.predict.validation): cut date, per-group and weekly figures, errors.
    validation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="predictionfit_org_recent")]

    def __str__(self) -> str:
        return f"prediction fit #{self.pk} ({self.status})"
