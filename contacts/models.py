"""The customer base: organizations, stores, staff, customers (OneID) and everything about them.

Every domain row carries ``organization``. Scoping is declared once per model with two class
attributes read by :mod:`contacts.access`:

* ``SCOPE_ORG`` — the lookup path to the organization id (default ``"organization"``);
* ``SCOPE_STORE`` — the lookup path to the store that limits store staff and managers, or ``None``
  when the model has no store dimension (tags, tag groups: visible to the whole organization).

Writes go through ``contacts.services``; nothing here has side effects.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.crypto import decrypt_phone, mask_phone
from contacts.lookups import ShortGrams
from contacts.model_base import Scoped as Scoped


class ChurnRisk(models.TextChoices):
    HIGH = "high", _("高")
    MEDIUM = "medium", _("中")
    LOW = "low", _("低")


class Organization(models.Model):
    """One enterprise (usually one WeCom corp); a group's brands or an agency's clients are separate."""

    name = models.CharField(_("名称"), max_length=100)
    slug = models.SlugField(_("标识"), max_length=50, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Brand settings: the lifecycle rules (contacts.services.lifecycle), tuned on the settings page.
    lifecycle_repeat_orders = models.PositiveSmallIntegerField(
        _("复购门槛（订单数）"), default=2, db_default=2, validators=[MinValueValidator(2), MaxValueValidator(100)]
    )
    lifecycle_dormant_days = models.PositiveSmallIntegerField(
        _("沉睡天数（无订单）"), default=180, db_default=180, validators=[MinValueValidator(0), MaxValueValidator(3650)]
    )
    lifecycle_churn_on_unfollow = models.BooleanField(_("删除全部好友即流失"), default=True, db_default=True)
    # Churn-risk bands over the predicted P(alive) (analytics.predict): below the first is 高, below the second 中.
    churn_high_below = models.FloatField(
        _("高流失风险：活跃概率低于"),
        default=0.3,
        db_default=0.3,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
    )
    churn_medium_below = models.FloatField(
        _("中流失风险：活跃概率低于"),
        default=0.7,
        db_default=0.7,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
    )
    # Churn alerts (流失提醒, channels.wecom.churn_alerts): who hears when a customer deletes a member, and
    # the 风控 alarm when one member deletes more customers than this in one Beijing day (0: off).
    churn_alert_staff = models.BooleanField(_("客户删除员工时提醒该员工"), default=True, db_default=True)
    churn_alert_manager = models.BooleanField(_("同时提醒门店店长"), default=False, db_default=False)
    churn_alarm_daily_deletes = models.PositiveSmallIntegerField(
        _("员工单日删除客户超过此数时提醒管理者"),
        default=20,
        db_default=20,
        validators=[MinValueValidator(0), MaxValueValidator(10000)],
    )

    SCOPE_ORG: ClassVar[str] = "id"
    SCOPE_STORE: ClassVar[str | None] = None

    class Meta:
        verbose_name = _("企业")
        verbose_name_plural = _("企业")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(churn_high_below__gte=0)
                & models.Q(churn_high_below__lte=models.F("churn_medium_below"))
                & models.Q(churn_medium_below__lte=1),
                name="organization_churn_bands_ordered",
                violation_error_message=_("高流失风险的阈值不能大于中流失风险的阈值，两者都在 0 到 1 之间"),
            )
        ]

    def __str__(self) -> str:
        return self.name


class Store(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="stores")
    name = models.CharField(_("门店名称"), max_length=100)
    code = models.CharField(_("门店编码"), max_length=50)
    city = models.CharField(_("城市"), max_length=50, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    is_active = models.BooleanField(_("营业中"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    SCOPE_STORE: ClassVar[str | None] = "id"

    class Meta:
        verbose_name = _("门店")
        verbose_name_plural = _("门店")
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="store_code_unique_per_org")]
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    """Roles are Django groups of these names; a superuser acts as an operator (admin)."""

    OPERATOR = "operator", _("运营")
    MANAGER = "manager", _("店长/经理")
    STORE_STAFF = "store_staff", _("店员/导购")


class Staff(Scoped):
    """A member of the brand: a console user and/or a WeCom member (``wecom_userid``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="staff")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="staff"
    )
    name = models.CharField(_("姓名"), max_length=64)
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="staff")
    # Stores a manager reads besides their own; empty for a manager with no store = whole brand.
    managed_stores = models.ManyToManyField(Store, blank=True, related_name="managers")
    wecom_userid = models.CharField(_("企业微信账号"), max_length=64, blank=True, default="")
    is_active = models.BooleanField(_("在职"), default=True)
    departed_at = models.DateTimeField(_("离职时间"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("员工")
        verbose_name_plural = _("员工")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "wecom_userid"],
                condition=~Q(wecom_userid=""),
                name="staff_wecom_userid_unique_per_org",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SourceChannel(models.TextChoices):
    WECOM = "wecom", _("企业微信")
    VIDEO = "video", _("视频号")
    DOUYIN = "douyin", _("抖音")
    MEITUAN = "meituan", _("美团")
    WECHAT_SHOP = "wechat_shop", _("微信小店")
    FORM = "form", _("表单")
    IMPORT = "import", _("导入")
    MANUAL = "manual", _("手动录入")
    OTHER = "other", _("其他")


class Lifecycle(models.TextChoices):
    LEAD = "lead", _("线索")
    PROSPECT = "prospect", _("潜客")
    CUSTOMER = "customer", _("成交客户")
    REPEAT = "repeat", _("复购客户")
    DORMANT = "dormant", _("沉睡")
    CHURNED = "churned", _("流失")


class Gender(models.IntegerChoices):
    UNKNOWN = 0, _("未知")
    MALE = 1, _("男")
    FEMALE = 2, _("女")


class Customer(Scoped):
    """One person (OneID), however many platforms they use."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="customers")
    name = models.CharField(_("姓名"), max_length=100, blank=True, default="")
    gender = models.PositiveSmallIntegerField(_("性别"), choices=Gender.choices, default=Gender.UNKNOWN)
    avatar = models.URLField(_("头像"), max_length=500, blank=True, default="")
    # Phone: Fernet ciphertext for display, HMAC for lookup, never the clear number (contacts.crypto).
    phone_encrypted = models.TextField(blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="")
    # The masked form staff already see ("138****1234") and its last four digits, so a search by the
    # tail or by a masked number is an indexed equality; nothing beyond what the UI shows is stored.
    phone_mask = models.CharField(max_length=11, blank=True, default="", db_default="")
    phone_last4 = models.CharField(max_length=4, blank=True, default="", db_default="")
    unionid = models.CharField(max_length=64, blank=True, default="")
    birthday = models.DateField(_("生日"), null=True, blank=True)
    home_store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="customers", verbose_name=_("归属门店")
    )
    source_channel = models.CharField(
        _("来源渠道"), max_length=20, choices=SourceChannel.choices, default=SourceChannel.OTHER
    )
    # First touch: where the person first came from (state of the QR code, ad id, form…).
    first_touch = models.JSONField(_("首次触达"), default=dict, blank=True)
    first_touch_at = models.DateTimeField(_("首次触达时间"), null=True, blank=True)
    lifecycle = models.CharField(_("生命周期"), max_length=20, choices=Lifecycle.choices, default=Lifecycle.LEAD)
    marketing_consent = models.BooleanField(_("同意营销"), default=False)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=50, blank=True, default="")
    opted_out_at = models.DateTimeField(_("退订时间"), null=True, blank=True)
    opt_out_source = models.CharField(max_length=50, blank=True, default="")
    attributes = models.JSONField(_("扩展属性"), default=dict, blank=True)
    # Denormalized copy of CustomerTag, kept in step by contacts.services in the same transaction;
    # GIN-indexed together with the organization for segment counts (intarray operators).
    tag_ids = ArrayField(models.IntegerField(), default=list, blank=True)
    # Order rollups, kept current by analytics through contacts.services (docs/architecture.md#layers).
    ltv = models.DecimalField(_("累计消费"), max_digits=14, decimal_places=2, default=0)
    order_count = models.PositiveIntegerField(_("订单数"), default=0)
    first_order_at = models.DateTimeField(_("首单时间"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("最近下单"), null=True, blank=True)
    avg_order_value = models.DecimalField(_("客单价"), max_digits=12, decimal_places=2, default=0)
    rfm_r = models.PositiveSmallIntegerField(default=0)
    rfm_f = models.PositiveSmallIntegerField(default=0)
    rfm_m = models.PositiveSmallIntegerField(default=0)
    rfm_segment = models.CharField(_("RFM 分层"), max_length=30, blank=True, default="")
    # Predicted by analytics.predict (BG/NBD + Gamma-Gamma) for customers with orders; written only
    # through contacts.services.customer_predictions_set, NULL where the brand has no trustworthy model.
    p_alive = models.FloatField(_("活跃概率"), null=True, blank=True)
    expected_orders_30 = models.FloatField(_("预计30天购买次数"), null=True, blank=True)
    expected_orders_90 = models.FloatField(_("预计90天购买次数"), null=True, blank=True)
    expected_orders_365 = models.FloatField(_("预计一年购买次数"), null=True, blank=True)
    predicted_value_12m = models.DecimalField(
        _("预测12个月价值"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    churn_risk = models.CharField(
        _("流失风险"), max_length=10, choices=ChurnRisk.choices, blank=True, default="", db_default=""
    )
    predicted_at = models.DateTimeField(_("预测时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when the person's personal information was erased on request (PIPL Art. 47); the row stays,
    # without anything that identifies them, so orders and reports keep adding up.
    erased_at = models.DateTimeField(_("个人信息删除时间"), null=True, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "home_store"

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "phone_hash"], condition=~Q(phone_hash=""), name="customer_phone_unique_per_org"
            ),
            models.UniqueConstraint(
                fields=["organization", "unionid"], condition=~Q(unionid=""), name="customer_unionid_unique_per_org"
            ),
        ]
        indexes = [
            # Composite GIN (btree_gin for the organization, intarray's gin__int_ops for the tags).
            GinIndex("organization", OpClass("tag_ids", name="gin__int_ops"), name="customer_org_tags_gin"),
            models.Index(fields=["organization", "home_store"], name="customer_org_store"),
            models.Index(fields=["organization", "-created_at"], name="customer_org_created"),
            GinIndex(OpClass("name", name="gin_trgm_ops"), name="customer_name_trgm"),
            # one- and two-character name searches (contacts.lookups.ShortGrams)
            GinIndex(ShortGrams("name"), name="customer_name_short_grams"),
            models.Index(
                fields=["organization", "phone_last4"], condition=~Q(phone_last4=""), name="customer_org_phone_last4"
            ),
            models.Index(
                fields=["organization", "phone_mask"], condition=~Q(phone_mask=""), name="customer_org_phone_mask"
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"

    @property
    def phone(self) -> str:
        return decrypt_phone(self.phone_encrypted) if self.phone_encrypted else ""

    @property
    def phone_masked(self) -> str:
        phone = self.phone
        return mask_phone(phone) if phone else ""

    @property
    def is_opted_out(self) -> bool:
        return self.opted_out_at is not None

    def can_receive_marketing(self) -> bool:
        return self.marketing_consent and self.opted_out_at is None


class SegmentFact(models.Model):
    """A narrow copy of the customer columns segments filter on, one row per customer.

    Written only by Postgres: statement triggers on ``contacts_customer`` (migration 0005) upsert the
    rows an INSERT or UPDATE touched and delete the rows a DELETE removed, in the same statement, so
    the copy can never drift; ``contacts.services.segment_facts_rebuild`` recomputes it in one
    statement after a load that bypassed triggers. Segment counts scan this table (about half the
    width of a customer row, far less once names, avatars and phones are filled in) instead of the
    customer heap. Dates are platform days in Asia/Shanghai, which is what segment ranges compare.
    """

    id = models.BigIntegerField(primary_key=True, help_text="contacts_customer.id")
    organization_id = models.BigIntegerField()
    home_store_id = models.BigIntegerField(null=True)
    created_day = models.DateField()
    last_order_day = models.DateField(null=True)
    order_count = models.IntegerField(default=0)
    marketing_consent = models.BooleanField(default=False)
    opted_out = models.BooleanField(default=False)
    source_channel = models.CharField(max_length=20)
    lifecycle = models.CharField(max_length=20)
    ltv = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    tag_ids = ArrayField(models.IntegerField(), default=list)
    p_alive = models.FloatField(null=True)
    predicted_value_12m = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    churn_risk = models.CharField(max_length=10, default="", db_default="")

    class Meta:
        indexes = [
            GinIndex("organization_id", OpClass("tag_ids", name="gin__int_ops"), name="segmentfact_org_tags_gin"),
            # Covering: a count with a store filter (the segment preview of a store, a manager's scope)
            # is an index-only scan checking the tags in the index, never the table (at 1M customers
            # 80 ms instead of 390 ms for the largest store, docs/benchmarks.md#load).
            models.Index(
                fields=["organization_id", "home_store_id"], include=["tag_ids"], name="segmentfact_org_store_tags"
            ),
        ]

    def __str__(self) -> str:
        return f"segment facts of customer #{self.pk}"


class Platform(models.TextChoices):
    WECOM = "wecom", _("企业微信")
    WECHAT = "wechat", _("微信 unionid")
    VIDEO = "video", _("视频号")
    WECHAT_SHOP = "wechat_shop", _("微信小店")
    DOUYIN = "douyin", _("抖音")
    MEITUAN = "meituan", _("美团")
    FORM = "form", _("表单")


class Identity(Scoped):
    """One platform account of a customer (``external_userid``, Douyin open id, Meituan user…)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    platform = models.CharField(max_length=20, choices=Platform.choices)
    # The platform account the id is relative to (a WeCom corp id, a Douyin advertiser id…).
    account = models.CharField(max_length=64, blank=True, default="")
    external_id = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    class Meta:
        verbose_name = _("身份")
        verbose_name_plural = _("身份")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "platform", "account", "external_id"], name="identity_unique_per_platform"
            )
        ]


class ChurnedBy(models.TextChoices):
    CUSTOMER = "customer", _("客户删除了员工")
    STAFF = "staff", _("员工删除了客户")
    TRANSFER = "transfer", _("客户转接")


class Follow(Scoped):
    """A staff member holds the customer as a WeCom friend (跟进人)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="follows")
    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="follows")
    added_at = models.DateTimeField(_("添加时间"), default=timezone.now)
    add_way = models.SmallIntegerField(_("添加方式"), default=0)
    state = models.CharField(_("渠道参数"), max_length=64, blank=True, default="")
    remark = models.CharField(_("备注"), max_length=100, blank=True, default="")
    description = models.CharField(_("描述"), max_length=200, blank=True, default="")
    # The member's remark phones (WeCom ``remark_mobiles``), each a Fernet ciphertext (contacts.crypto).
    remark_mobiles = models.JSONField(default=list, blank=True)
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(_("流失时间"), null=True, blank=True)
    deleted_by = models.CharField(max_length=20, choices=ChurnedBy.choices, blank=True, default="")

    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    class Meta:
        verbose_name = _("跟进关系")
        verbose_name_plural = _("跟进关系")
        constraints = [models.UniqueConstraint(fields=["customer", "staff"], name="follow_unique_pair")]
        indexes = [
            models.Index(fields=["staff", "deleted_at"], name="follow_staff_active"),
            # The home page's adds and losses per day (contacts.selectors.follow_daily_counts).
            models.Index(fields=["organization", "added_at"], name="follow_org_added"),
            models.Index(
                fields=["organization", "deleted_at"], condition=Q(deleted_at__isnull=False), name="follow_org_deleted"
            ),
            # the customer search matches remarks with ILIKE (contacts.selectors.customer_search_q)
            GinIndex(OpClass("remark", name="gin_trgm_ops"), name="follow_remark_trgm"),
            GinIndex(ShortGrams("remark"), name="follow_remark_short_grams"),
        ]

    @property
    def is_active(self) -> bool:
        return self.deleted_at is None

    @property
    def remark_phones(self) -> list[str]:
        return [decrypt_phone(m) for m in self.remark_mobiles or []]

    @property
    def remark_phones_masked(self) -> list[str]:
        return [mask_phone(p) for p in self.remark_phones]


class TagChoice(models.TextChoices):
    SINGLE = "single", _("单选")
    MULTI = "multi", _("多选")


class TagOrigin(models.TextChoices):
    LOCAL = "local", _("本地")
    WECOM = "wecom", _("企业微信")


class TagGroup(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tag_groups")
    name = models.CharField(_("标签组"), max_length=50)
    choice = models.CharField(_("选择方式"), max_length=10, choices=TagChoice.choices, default=TagChoice.MULTI)
    origin = models.CharField(_("来源"), max_length=10, choices=TagOrigin.choices, default=TagOrigin.LOCAL)
    wecom_group_id = models.CharField(max_length=64, blank=True, default="")
    order = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("标签组")
        verbose_name_plural = _("标签组")
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="taggroup_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name


class Tag(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tags")
    group = models.ForeignKey(TagGroup, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("标签"), max_length=50)
    wecom_tag_id = models.CharField(max_length=64, blank=True, default="")
    order = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("标签")
        verbose_name_plural = _("标签")
        ordering = ["group__order", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="tag_name_unique_per_group"),
            models.UniqueConstraint(
                fields=["organization", "wecom_tag_id"], condition=~Q(wecom_tag_id=""), name="tag_wecom_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TagSource(models.TextChoices):
    STAFF = "staff", _("员工")
    RULE = "rule", _("规则")
    IMPORT = "import", _("导入")
    SYNC = "sync", _("企业微信同步")
    CHANNEL = "channel", _("渠道活码")
    API = "api", _("API")


class CustomerTag(Scoped):
    """Tag assignment (who, when, how). ``Customer.tag_ids`` mirrors it in the same transaction."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="customer_links")
    assigned_at = models.DateTimeField(default=timezone.now)
    assigned_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source = models.CharField(max_length=10, choices=TagSource.choices, default=TagSource.STAFF)
    # The tagging rule that gave the tag (source "rule"): only its own assignments are removed by it.
    rule = models.ForeignKey("contacts.TagRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "tag"], name="customertag_unique")]
        indexes = [models.Index(fields=["tag"], name="customertag_tag")]


class CustomerGroup(Scoped):
    """A WeCom customer group chat (客户群), up to 500 members."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="customer_groups")
    wecom_chat_id = models.CharField(max_length=64, blank=True, default="")
    name = models.CharField(_("群名"), max_length=100, blank=True, default="")
    owner = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_groups")
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="customer_groups")
    notice = models.TextField(_("群公告"), blank=True, default="")
    member_count = models.PositiveIntegerField(_("成员数"), default=0)
    member_version = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("客户群")
        verbose_name_plural = _("客户群")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "wecom_chat_id"], condition=~Q(wecom_chat_id=""), name="group_chat_id_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.wecom_chat_id


class MemberType(models.TextChoices):
    STAFF = "staff", _("员工")
    EXTERNAL = "external", _("客户")


class CustomerGroupMember(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(CustomerGroup, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="group_links")
    member_type = models.CharField(max_length=10, choices=MemberType.choices, default=MemberType.EXTERNAL)
    # The WeCom userid or external_userid of the member, as WeCom lists it.
    member_id = models.CharField(max_length=128)
    name = models.CharField(max_length=100, blank=True, default="")
    join_scene = models.SmallIntegerField(default=0)
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "group__store"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "member_id"], name="group_member_unique")]
        indexes = [models.Index(fields=["customer"], name="groupmember_customer")]


class Note(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    body = models.TextField(_("跟进记录"))
    created_at = models.DateTimeField(default=timezone.now)

    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    class Meta:
        ordering = ["-created_at"]


class TimelineKind(models.TextChoices):
    CREATED = "created", _("建档")
    LEAD = "lead", _("留资")
    ADDED = "added", _("添加企微")
    REMOVED = "removed", _("删除/流失")
    TAGGED = "tagged", _("打标签")
    UNTAGGED = "untagged", _("移除标签")
    NOTE = "note", _("跟进记录")
    MESSAGED = "messaged", _("收到群发")
    MOMENT = "moment", _("朋友圈")
    WELCOMED = "welcomed", _("欢迎语")
    JOINED_GROUP = "joined_group", _("入群")
    LEFT_GROUP = "left_group", _("退群")
    ORDERED = "ordered", _("下单")
    REFUNDED = "refunded", _("退款")
    REDEEMED = "redeemed", _("核销")
    COUPON = "coupon", _("优惠券")
    OPTED_OUT = "opted_out", _("退订")
    OPTED_IN = "opted_in", _("同意营销")
    MERGED = "merged", _("合并")
    IMPORTED = "imported", _("导入")
    TRANSFERRED = "transferred", _("转接")
    EDITED = "edited", _("修改资料")
    JOURNEY = "journey", _("客户旅程")


class TimelineEvent(Scoped):
    """Every touch, newest first on the profile. Higher layers write here through contacts.services."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=20, choices=TimelineKind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    summary = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    class Meta:
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="timeline_customer_time")]
        ordering = ["-occurred_at", "-id"]


class CustomerMerge(Scoped):
    """Audit record of a merge (automatic or by hand) and what an undo needs to restore both records.

    ``snapshot`` is the absorbed customer's row; ``restore`` holds the survivor's changed fields (before
    and after), the ids of every row moved from the absorbed customer, full dumps of the rows dropped as
    duplicates, and the merge's timeline entry. Erasure empties both (they are personal data).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    survivor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="merges")
    merged_customer_id = models.BigIntegerField()
    snapshot = models.JSONField(default=dict)
    reason = models.CharField(max_length=100, blank=True, default="")
    merged_at = models.DateTimeField(default=timezone.now)
    # Which keys made the two one person: "identity", "unionid", "phone", "lead_code", "manual".
    matched_keys = models.JSONField(default=list, blank=True)
    manual = models.BooleanField(default=False)
    by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    restore = models.JSONField(default=dict, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    SCOPE_STORE: ClassVar[str | None] = "survivor__home_store"

    class Meta:
        ordering = ["-merged_at", "-id"]
        indexes = [models.Index(fields=["organization", "merged_customer_id"], name="merge_absorbed")]

    @property
    def key_labels(self) -> list[str]:
        """The matched keys as the profile shows them."""
        labels = {
            "phone": _("手机号"),
            "unionid": _("微信 unionid"),
            "lead_code": _("活码线索"),
            "manual": _("手动合并"),
        }
        out = []
        for key in self.matched_keys or []:
            if key.startswith("identity:"):
                out.append(str(_("平台身份（%(platform)s）") % {"platform": key.split(":", 1)[1]}))
            else:
                out.append(str(labels.get(key, key)))
        return out

    @property
    def can_undo(self) -> bool:
        return self.undone_at is None and bool(self.restore) and timezone.now() - self.merged_at < timedelta(days=30)


class PrivacyAction(models.TextChoices):
    EXPORT = "export", _("导出个人信息")
    ERASE = "erase", _("删除个人信息")


class PrivacyRecord(Scoped):
    """Audit of a data-subject request (PIPL Art. 45 copy, Art. 47 erasure): who, when, why; no personal data.

    ``customer_id`` is a plain number so the record outlives anything done to the customer.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    customer_id = models.BigIntegerField(db_index=True)
    action = models.CharField(_("操作"), max_length=10, choices=PrivacyAction.choices)
    reason = models.CharField(_("依据 / 说明"), max_length=300, blank=True, default="")
    by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]


# How long after an erasure its tombstones refuse every write of the person's keys: imports, sync
# jobs and webhook retries that began before the request have finished by then. Later, the same
# phone or WeCom contact is a new person (they came back); a file uploaded before the erasure never
# brings them back, whenever it runs. The trigger of migration contacts 0016 holds the same 24 hours.
ERASURE_QUIET_PERIOD = timedelta(hours=24)


class ErasedKey(Scoped):
    """A tombstone: a one-way hash of one identifier (phone, unionid, platform identity) of an erased
    person (``crypto.key_hash``; it names no one). ``customer_resolve`` — every import row, webhook and
    identity upsert — refuses a key erased within ``ERASURE_QUIET_PERIOD`` before the work began (an
    import: before its file was uploaded), and a trigger refuses a customer row carrying such a phone
    hash, so an import running during the erasure cannot re-create the person."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key_hash = models.CharField(max_length=64)
    erased_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key_hash"], name="erasedkey_unique")]


class Segment(Scoped):
    """A saved audience: a JSON expression compiled to one SQL query by contacts.segments."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(_("分群名称"), max_length=100)
    description = models.CharField(_("说明"), max_length=300, blank=True, default="")
    expression = models.JSONField(_("条件"), default=dict)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_count = models.PositiveIntegerField(null=True, blank=True)
    last_counted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("客户分群")
        verbose_name_plural = _("客户分群")
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="segment_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("导入中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class ImportJob(Scoped):
    """One customer import (CSV/.xlsx): the uploaded file, its progress and every rejected row.

    ``errors`` is a list of ``{"line": int, "reason": str}`` (line numbers as the user sees them in
    the file, the header being line 1); every row that was not imported is there.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    filename = models.CharField(_("文件名"), max_length=200)
    content = models.BinaryField(editable=False)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=300, blank=True, default="")
    # 导入后进入线索公海: the imported people with a phone who are not WeCom friends enter the lead pool
    # (registered listeners, see ``register_import_listener``) even where the pool rule does not say so.
    to_lead_pool = models.BooleanField(_("导入后进入线索公海"), default=False)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched while a worker makes progress; a running job whose heartbeat stopped is taken over.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.filename


# The audit log, API tokens and custom fields: contacts/brand_models.py; tagging rules (自动打标签):
# contacts/rule_models.py.
from contacts.brand_models import ApiToken as ApiToken  # noqa: E402
from contacts.brand_models import AuditAction as AuditAction  # noqa: E402
from contacts.brand_models import AuditEntry as AuditEntry  # noqa: E402
from contacts.brand_models import CustomField as CustomField  # noqa: E402
from contacts.brand_models import CustomFieldKind as CustomFieldKind  # noqa: E402
from contacts.rule_models import TagRule as TagRule  # noqa: E402
