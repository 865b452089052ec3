"""Connected platform accounts, the inbound event inbox, channel QR codes (活码) and WeCom jobs.

Credentials never sit in clear text: ``ChannelAccount.credentials_encrypted`` is a Fernet token
(``contacts.crypto.encrypt_secret``) of a JSON object (``secret``, ``token``, ``aes_key``…); use
:meth:`ChannelAccount.credentials` / :meth:`ChannelAccount.set_credentials`.

Platform-specific models of the lead sources (Douyin, Meituan, Video Accounts, forms) are appended
at the END of this module under their own header by the channels-leads engineer.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, ClassVar

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.crypto import decrypt_phone, decrypt_secret, encrypt_secret, mask_phone
from contacts.models import Organization, Scoped, SourceChannel, Staff, Store, Tag


def new_hook_key() -> str:
    """The unguessable account key in webhook URLs (``/hooks/<platform>/<key>/``)."""
    return secrets.token_urlsafe(12)


class ChannelPlatform(models.TextChoices):
    WECOM = "wecom", _("企业微信")
    DOUYIN = "douyin", _("抖音开放平台")
    OCEAN_ENGINE = "ocean_engine", _("巨量引擎")
    VIDEO = "video", _("视频号")
    WECHAT_SHOP = "wechat_shop", _("微信小店")
    MEITUAN = "meituan", _("美团")
    FORM = "form", _("表单")


class ChannelAccount(Scoped):
    """One connected platform account (a WeCom corp + self-built app, a Douyin account, a Meituan merchant…)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="channel_accounts")
    platform = models.CharField(_("平台"), max_length=20, choices=ChannelPlatform.choices)
    name = models.CharField(_("名称"), max_length=100)
    # The platform's id of the account: WeCom corp id, Douyin client_key, advertiser id, Meituan appKey…
    external_id = models.CharField(_("平台账号ID"), max_length=64, blank=True, default="")
    agent_id = models.CharField(_("应用 AgentId"), max_length=32, blank=True, default="")
    # Fernet token of a JSON object; see credentials()/set_credentials().
    credentials_encrypted = models.TextField(blank=True, default="")
    api_base = models.CharField(_("API 地址"), max_length=200, blank=True, default="")
    hook_key = models.CharField(max_length=32, unique=True, default=new_hook_key)
    default_store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("默认门店")
    )
    default_tags = models.ManyToManyField(Tag, blank=True, related_name="+", verbose_name=_("默认标签"))
    # Per-API pacing overrides: {"default": {"per_minute": 10000, "concurrency": 5}, "<api path>": {...}}.
    rate_limits = models.JSONField(_("频率限制"), default=dict, blank=True)
    settings = models.JSONField(_("其他设置"), default=dict, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("渠道账号")
        verbose_name_plural = _("渠道账号")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "platform", "external_id"],
                condition=~Q(external_id=""),
                name="channelaccount_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} · {self.name}"

    def credentials(self) -> dict[str, Any]:

        if not self.credentials_encrypted:
            return {}
        return dict(json.loads(decrypt_secret(self.credentials_encrypted)))

    def set_credentials(self, values: dict[str, Any]) -> None:

        self.credentials_encrypted = encrypt_secret(json.dumps(values, sort_keys=True))


class InboxStatus(models.TextChoices):
    PENDING = "pending", _("待处理")
    PROCESSING = "processing", _("处理中")
    DONE = "done", _("已处理")
    FAILED = "failed", _("失败")
    IGNORED = "ignored", _("已忽略")


class InboxEvent(Scoped):
    """An inbound platform event, stored before it is acknowledged (docs/architecture.md#invariants).

    ``event_key`` is the platform's identity of the event; the unique constraint makes a platform
    retry or a replay a no-op. ``body`` is the verified, decrypted payload as the platform sent it.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="inbox_events")
    platform = models.CharField(max_length=20, choices=ChannelPlatform.choices)
    event_key = models.CharField(max_length=200)
    event_type = models.CharField(_("事件类型"), max_length=80, blank=True, default="")
    body = models.TextField()
    meta = models.JSONField(default=dict, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=InboxStatus.choices, default=InboxStatus.PENDING)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    error = models.TextField(_("错误"), blank=True, default="")
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Refreshed by the worker while it processes the event; a stale heartbeat means the worker died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("入站事件")
        verbose_name_plural = _("入站事件")
        constraints = [models.UniqueConstraint(fields=["account", "event_key"], name="inbox_event_unique")]
        indexes = [
            models.Index(fields=["organization", "-received_at"], name="inbox_org_received"),
            models.Index(fields=["status", "received_at"], name="inbox_status_received"),
        ]


class ContactWayKind(models.TextChoices):
    CONTACT = "contact", _("渠道活码")
    JOIN = "join", _("群活码")
    # One ``customer_channel`` of a 获客链接 (AcquisitionLink): not a code on WeCom, but its ``state``
    # comes back on the add exactly like a 活码's, so attribution reads it through the same row.
    LINK = "link", _("获客链接渠道")


class ContactWay(Scoped):
    """A 渠道活码 (WeCom 联系我) or 群活码 (加入群聊) with the ``state`` that tells where adds come from."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="contact_ways")
    kind = models.CharField(_("类型"), max_length=10, choices=ContactWayKind.choices, default=ContactWayKind.CONTACT)
    name = models.CharField(_("名称"), max_length=100)
    # ≤ 30 characters (WeCom); comes back in add_external_contact and follow_info.state.
    state = models.CharField(_("渠道参数"), max_length=30)
    channel = models.CharField(_("来源渠道"), max_length=20, choices=SourceChannel.choices, default=SourceChannel.WECOM)
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("门店")
    )
    staff = models.ManyToManyField(Staff, blank=True, related_name="contact_ways", verbose_name=_("接待员工"))
    tags = models.ManyToManyField(Tag, blank=True, related_name="+", verbose_name=_("添加后自动打标签"))
    welcome_text = models.TextField(_("欢迎语"), blank=True, default="")
    skip_verify = models.BooleanField(_("免验证添加"), default=True)
    # 群活码: the groups it fills, and the auto-created rooms when they are full.
    chat_ids = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    auto_create_room = models.BooleanField(_("群满自动建新群"), default=True)
    room_base_name = models.CharField(_("新群名称前缀"), max_length=40, blank=True, default="")
    room_base_id = models.PositiveIntegerField(_("新群起始序号"), default=1)
    # Auto-remark (自动备注) for customers added through this code, e.g. "{channel}-{store}".
    remark_template = models.CharField(_("自动备注模板"), max_length=60, blank=True, default="")
    # Daily add caps (per Beijing day): one cap for every member, overridden per member by
    # ``member_caps`` ({wecom_userid: cap}); a capped member is replaced by ``backup_staff`` on WeCom
    # until the next Beijing day (channels/wecom/add_caps.py). ``serving_userids`` is the list WeCom
    # currently holds while a fallback is on (empty: the members themselves), for ``serving_day``.
    daily_cap = models.PositiveIntegerField(
        _("每人每日添加上限"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    member_caps = models.JSONField(_("按员工设置的上限"), default=dict, blank=True)
    backup_staff = models.ManyToManyField(
        Staff, blank=True, related_name="backup_contact_ways", verbose_name=_("备用员工")
    )
    serving_userids = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    serving_day = models.DateField(null=True, blank=True)
    config_id = models.CharField(max_length=64, blank=True, default="")
    qr_code = models.CharField(_("二维码地址"), max_length=500, blank=True, default="")
    is_active = models.BooleanField(_("启用"), default=True)
    sync_error = models.CharField(max_length=300, blank=True, default="")
    # kind = link: the 获客链接 this customer_channel belongs to (channels/wecom/acquisition.py).
    acquisition_link = models.ForeignKey(
        "channels.AcquisitionLink", on_delete=models.CASCADE, null=True, blank=True, related_name="channels"
    )
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("渠道活码")
        verbose_name_plural = _("渠道活码")
        constraints = [
            models.UniqueConstraint(fields=["account", "state"], name="contactway_state_unique"),
            models.CheckConstraint(
                condition=Q(daily_cap__isnull=True) | Q(daily_cap__gte=1), name="contactway_daily_cap_positive"
            ),
            models.CheckConstraint(
                condition=Q(kind="link", acquisition_link__isnull=False)
                | (~Q(kind="link") & Q(acquisition_link__isnull=True)),
                name="contactway_link_kind",
            ),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class TransferKind(models.TextChoices):
    ON_JOB = "on_job", _("在职继承")
    RESIGNED = "resigned", _("离职继承")


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("待提交")
    SUBMITTED = "submitted", _("已提交")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class CustomerTransfer(Scoped):
    """One 在职/离职继承 request: customers of ``handover`` to ``takeover`` (≤ 100 per WeCom call)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="transfers")
    kind = models.CharField(_("类型"), max_length=10, choices=TransferKind.choices)
    handover = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+", verbose_name=_("原跟进人"))
    takeover = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+", verbose_name=_("接替人"))
    external_userids = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    transfer_success_msg = models.CharField(_("转接提示语"), max_length=200, blank=True, default="")
    status = models.CharField(max_length=10, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    # external_userid → {"errcode": int, "status": int} as WeCom answered.
    results = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("客户继承")
        verbose_name_plural = _("客户继承")
        ordering = ["-created_at"]


class SyncStatus(models.TextChoices):
    RUNNING = "running", _("进行中")
    DONE = "done", _("完成")
    FAILED = "failed", _("失败")


class SyncRun(Scoped):
    """One full sync of an account (staff, customers, tags, groups), with what it changed."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="sync_runs")
    status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    stats = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]


# --- Leads: Douyin / Ocean Engine / Video / WeChat shop / Meituan / forms ---
# Owned by the channels-leads engineer. Services: channels/leads/services.py, channels/<platform>/services.py.


class LeadSource(models.TextChoices):
    OCEAN_ENGINE = "ocean_engine", _("巨量引擎广告线索")
    OCEAN_ENGINE_LOCAL = "ocean_engine_local", _("本地推线索")
    DOUYIN_IM = "douyin_im", _("抖音私信")
    VIDEO_LIVE = "video_live", _("视频号直播留资")
    FORM = "form", _("H5 表单")


# A plain string, not a lazy translation: the text a customer agreed to is recorded as shown (versioned).
DEFAULT_CONSENT_TEXT = (
    "我同意品牌通过企业微信、短信向我发送活动与优惠信息。我可以随时回复“退订”撤回同意，撤回不影响已提供的服务。"
)


class LeadForm(Scoped):
    """An H5 lead page at ``/f/<slug>/``: name + phone + an explicit marketing-consent checkbox."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    slug = models.SlugField(_("链接标识"), max_length=50, unique=True)
    title = models.CharField(_("标题"), max_length=100)
    intro = models.TextField(_("介绍"), blank=True, default="")
    consent_text = models.TextField(_("营销授权说明"), default=DEFAULT_CONSENT_TEXT)
    consent_version = models.CharField(_("授权文本版本"), max_length=20, default="v1")
    # On: the form is a marketing sign-up, so it is refused without the ticked box. Off: the visitor
    # may submit without agreeing (PIPL Art. 16: no refusal of service) and gets no marketing.
    consent_required = models.BooleanField(
        _("必须同意营销才能提交"),
        default=True,
        help_text=_("关闭后，不勾选也可提交，但不会记录营销同意，也不会收到营销消息"),
    )
    success_text = models.CharField(_("提交成功提示"), max_length=200, blank=True, default="")
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("归属门店")
    )
    contact_way = models.ForeignKey(
        ContactWay, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("展示的渠道活码")
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="+", verbose_name=_("提交后自动打标签"))
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("留资表单")
        verbose_name_plural = _("留资表单")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Lead(Scoped):
    """One lead from an ad form, a Douyin DM, a 视频号 live form or our H5 form — with the ad that brought it.

    Unique per (organization, source, external_id): a re-pulled or re-delivered lead updates the row.
    The phone is stored like the customer's (ciphertext + keyed hash), never in clear text.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads")
    form = models.ForeignKey(LeadForm, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads")
    source = models.CharField(_("线索来源"), max_length=20, choices=LeadSource.choices)
    external_id = models.CharField(max_length=128)
    customer = models.ForeignKey(
        "contacts.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="leads"
    )
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    name = models.CharField(_("姓名"), max_length=100, blank=True, default="")
    phone_encrypted = models.TextField(blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="")
    open_id = models.CharField(max_length=128, blank=True, default="")
    # Advertiser / campaign (promotion) / ad / creative ids and names, as the platform gave them.
    ad = models.JSONField(_("广告信息"), default=dict, blank=True)
    ad_id = models.CharField(_("广告ID"), max_length=64, blank=True, default="")
    ad_name = models.CharField(_("广告名称"), max_length=200, blank=True, default="")
    campaign_name = models.CharField(_("推广计划"), max_length=200, blank=True, default="")
    fields = models.JSONField(default=dict, blank=True)
    marketing_consent = models.BooleanField(_("同意营销"), default=False)
    consent_at = models.DateTimeField(null=True, blank=True)
    late_fields_filled = models.BooleanField(default=False)
    occurred_at = models.DateTimeField(_("留资时间"), default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("线索")
        verbose_name_plural = _("线索")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "source", "external_id"], name="lead_unique_per_source")
        ]
        indexes = [
            models.Index(fields=["organization", "-occurred_at"], name="lead_org_occurred"),
            models.Index(fields=["organization", "ad_id"], name="lead_org_ad"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.external_id}"

    @property
    def phone_masked(self) -> str:

        phone = decrypt_phone(self.phone_encrypted) if self.phone_encrypted else ""
        return mask_phone(phone) if phone else ""


class RedemptionStatus(models.TextChoices):
    PENDING = "pending", _("核销中")
    CONSUMED = "consumed", _("已核销")
    FAILED = "failed", _("失败")


class RedemptionOrigin(models.TextChoices):
    STAFF_PAGE = "staff_page", _("店员核销页")
    HISTORY = "history", _("美团核销记录")


class MeituanRedemption(Scoped):
    """A Meituan voucher redemption, written BEFORE the consume call
    (docs/architecture.md#invariants: record, then call out).

    ``request_id`` is Meituan's idempotency key and ours: a double tap or a retry reuses the row and
    the same key, so a voucher is never consumed twice.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="redemptions")
    store = models.ForeignKey(Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    staff = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    request_id = models.CharField(max_length=64, unique=True)
    origin = models.CharField(max_length=12, choices=RedemptionOrigin.choices, default=RedemptionOrigin.STAFF_PAGE)
    receipt_code = models.CharField(_("券码"), max_length=32)
    count = models.PositiveSmallIntegerField(_("数量"), default=1)
    status = models.CharField(
        _("状态"), max_length=10, choices=RedemptionStatus.choices, default=RedemptionStatus.PENDING
    )
    error = models.CharField(max_length=300, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    deal_id = models.CharField(max_length=32, blank=True, default="")
    deal_title = models.CharField(_("团购项目"), max_length=200, blank=True, default="")
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2, default=0)
    mobile_masked = models.CharField(max_length=20, blank=True, default="")
    meituan_order_id = models.CharField(max_length=64, blank=True, default="")
    customer = models.ForeignKey(
        "contacts.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="meituan_redemptions"
    )
    order_id = models.BigIntegerField(null=True, blank=True)  # analytics Order id once recorded
    raw = models.JSONField(default=dict, blank=True)
    consumed_at = models.DateTimeField(_("核销时间"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("美团核销")
        verbose_name_plural = _("美团核销")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "receipt_code"], name="redemption_account_code")]


class LeadSyncCursor(Scoped):
    """Where a pull job got to (the moving window's end, the last day of behaviour data…)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    position = models.DateTimeField(null=True, blank=True)
    state = models.JSONField(default=dict, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "kind"], name="leadsynccursor_unique")]


class LeadCode(Scoped):
    """A one-person 渠道活码 handed out after a form submission or a Meituan redemption.

    Its ContactWay's ``state`` names this row, so the add event that follows joins the WeCom friend to
    the customer the lead or redemption made (docs/platforms.md#wecom-contact-ways). The code is
    deleted on WeCom once it has been used, and it is not shown after ``expires_at``.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    contact_way = models.OneToOneField(ContactWay, on_delete=models.CASCADE, related_name="lead_code")
    customer = models.ForeignKey(
        "contacts.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="lead_codes"
    )
    lead = models.ForeignKey(Lead, on_delete=models.SET_NULL, null=True, blank=True, related_name="codes")
    redemption = models.ForeignKey(
        MeituanRedemption, on_delete=models.SET_NULL, null=True, blank=True, related_name="codes"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    joined_at = models.DateTimeField(null=True, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "contact_way__store"


class RemarkStatus(models.TextChoices):
    PENDING = "pending", _("待推送")
    RETRYING = "retrying", _("重试中")
    DONE = "done", _("已同步")
    REFUSED = "refused", _("企业微信拒绝")


class RemarkPush(Scoped):
    """One ``externalcontact/remark`` call, written (and committed) before it is made.

    The follow's remark, description and remark phones change on our side only once WeCom accepted
    them; a refusal keeps WeCom's code and message for the member, a transient error is retried.
    Phones are Fernet ciphertexts, like every stored phone.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    follow = models.ForeignKey("contacts.Follow", on_delete=models.CASCADE, related_name="remark_pushes")
    by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source = models.CharField(max_length=20, default="staff")
    remark = models.CharField(max_length=100, blank=True, default="")
    description = models.CharField(max_length=200, blank=True, default="")
    mobiles_encrypted = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=RemarkStatus.choices, default=RemarkStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_STORE: ClassVar[str | None] = "follow__customer__home_store"

    class Meta:
        ordering = ["-created_at", "-id"]


class RosterReason(models.TextChoices):
    CAP = "cap", _("达到上限，切换备用员工")
    RESTORE = "restore", _("新的一天，恢复原接待员工")
    SCHEDULE = "schedule", _("工作时段切换接待员工")


class RosterStatus(models.TextChoices):
    PENDING = "pending", _("待提交")
    DONE = "done", _("已生效")
    FAILED = "failed", _("失败")


class ContactWayRoster(Scoped):
    """One ``update_contact_way`` that switches a 活码's members (cap reached / new day), written before it is made."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    way = models.ForeignKey(ContactWay, on_delete=models.CASCADE, related_name="rosters")
    day = models.DateField(_("北京时间日期"))
    reason = models.CharField(_("原因"), max_length=10, choices=RosterReason.choices)
    userids = ArrayField(models.CharField(max_length=64), verbose_name=_("接待员工"))
    capped = ArrayField(models.CharField(max_length=64), default=list, blank=True, verbose_name=_("已达上限"))
    status = models.CharField(_("状态"), max_length=10, choices=RosterStatus.choices, default=RosterStatus.PENDING)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    SCOPE_STORE: ClassVar[str | None] = "way__store"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=~Q(userids=[]), name="contactwayroster_userids_nonempty")]


class TagPushOp(models.TextChoices):
    TAG_CREATE = "tag_create", _("新建标签")
    TAG_UPDATE = "tag_update", _("修改标签")
    TAG_DELETE = "tag_delete", _("删除标签")
    GROUP_UPDATE = "group_update", _("修改标签组")
    GROUP_DELETE = "group_delete", _("删除标签组")


class TagPush(Scoped):
    """One ``add_corp_tag`` / ``edit_corp_tag`` / ``del_corp_tag`` call, written (and committed) before it
    is made. The tag catalogue changes on our side only once WeCom accepted; a refusal keeps WeCom's code
    and message, a transient error is retried by ``channels.sync.wecom_tag_catalogue_push``.
    ``change`` is the catalogue change as contacts asked for it (ids, name, order)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    op = models.CharField(_("操作"), max_length=20, choices=TagPushOp.choices)
    path = models.CharField(max_length=64)
    body = models.JSONField(default=dict, blank=True)
    change = models.JSONField(default=dict, blank=True)
    by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=RemarkStatus.choices, default=RemarkStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class GroupTransfer(Scoped):
    """One 客户群继承 request: ``handover``'s customer groups to ``takeover`` (``groupchat/onjob_transfer``
    for a member still on the job, ``groupchat/transfer`` for one who left), written before the call."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="group_transfers")
    kind = models.CharField(_("类型"), max_length=10, choices=TransferKind.choices)
    handover = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+", verbose_name=_("原群主"))
    takeover = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+", verbose_name=_("新群主"))
    chat_ids = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    status = models.CharField(max_length=10, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    # chat_id → {"errcode": int, "errmsg": str} as WeCom answered (0 = the group has its new owner).
    results = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("客户群继承")
        verbose_name_plural = _("客户群继承")
        ordering = ["-created_at", "-id"]


class ContactWayWindow(Scoped):
    """A working-hours window of a 渠道活码: on these ISO weekdays (1 = Monday … 7 = Sunday), from
    ``start`` to ``end`` (Beijing time, end exclusive), WeCom holds ``staff`` instead of the code's own
    members (channels/wecom/schedules.py; switched by the roster beat, channels/wecom/add_caps.py)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    way = models.ForeignKey(ContactWay, on_delete=models.CASCADE, related_name="windows")
    weekdays = ArrayField(models.PositiveSmallIntegerField(), verbose_name=_("星期"))
    start = models.TimeField(_("开始时间"))
    end = models.TimeField(_("结束时间"))
    staff = models.ManyToManyField(Staff, related_name="+", verbose_name=_("接待员工"))
    position = models.PositiveSmallIntegerField(default=0)

    SCOPE_STORE: ClassVar[str | None] = "way__store"

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="contactwaywindow_start_before_end"),
            models.CheckConstraint(condition=~Q(weekdays=[]), name="contactwaywindow_weekdays_nonempty"),
        ]


class AcquisitionLink(Scoped):
    """A 获客链接 (WeCom customer acquisition link): opened in WeChat it starts a chat with a member of
    ``staff``. Each ``customer_channel`` appended to the url is one ContactWay row of kind ``link``
    (``channels``), whose ``state`` is that value: the add comes back with it and is attributed, tagged
    and welcomed like a 活码 add. Saved before WeCom is called; ``link_id``/``url`` recorded after."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="acquisition_links")
    name = models.CharField(_("链接名称"), max_length=100)
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("门店")
    )
    staff = models.ManyToManyField(Staff, related_name="acquisition_links", verbose_name=_("接待员工"))
    tags = models.ManyToManyField(Tag, blank=True, related_name="+", verbose_name=_("添加后自动打标签"))
    welcome_text = models.TextField(_("欢迎语"), blank=True, default="")
    skip_verify = models.BooleanField(_("免验证添加"), default=True)
    link_id = models.CharField(max_length=64, blank=True, default="")
    url = models.CharField(_("链接地址"), max_length=500, blank=True, default="")
    is_active = models.BooleanField(_("启用"), default=True)
    sync_error = models.CharField(max_length=300, blank=True, default="")
    # customer_acquisition/customer, grouped by state: {state: {"customers": n, "chatted": n}}.
    wecom_stats = models.JSONField(default=dict, blank=True)
    stats_synced_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("获客链接")
        verbose_name_plural = _("获客链接")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "link_id"], condition=~Q(link_id=""), name="acquisitionlink_link_id_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


# The material library (素材库) and its WeCom media ids: channels/media_models.py.
from channels.media_models import GroupWelcomeKind as GroupWelcomeKind  # noqa: E402
from channels.media_models import GroupWelcomeTemplate as GroupWelcomeTemplate  # noqa: E402
from channels.media_models import Material as Material  # noqa: E402
from channels.media_models import MaterialKind as MaterialKind  # noqa: E402
from channels.media_models import MaterialUpload as MaterialUpload  # noqa: E402
from channels.media_models import MediaPurpose as MediaPurpose  # noqa: E402
from channels.media_models import PushState as PushState  # noqa: E402
from channels.media_models import UploadState as UploadState  # noqa: E402

# WeCom app messages (应用消息) to members: channels/message_models.py.
from channels.message_models import AppMessage as AppMessage  # noqa: E402
from channels.message_models import AppMessageStatus as AppMessageStatus  # noqa: E402

# The lead pool (公海): channels/pool_models.py.
from channels.pool_models import AssignmentStatus as AssignmentStatus  # noqa: E402
from channels.pool_models import LeadAssignment as LeadAssignment  # noqa: E402
from channels.pool_models import LeadPoolEntry as LeadPoolEntry  # noqa: E402
from channels.pool_models import LeadPoolMember as LeadPoolMember  # noqa: E402
from channels.pool_models import LeadPoolRule as LeadPoolRule  # noqa: E402
from channels.pool_models import PoolMemberRole as PoolMemberRole  # noqa: E402
from channels.pool_models import PoolSource as PoolSource  # noqa: E402
from channels.pool_models import PoolStatus as PoolStatus  # noqa: E402
