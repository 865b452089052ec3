"""The brand's administration records: the audit log, API tokens and custom customer fields; imported
at the end of ``contacts.models`` (which re-exports every name), so they stay models of the contacts app.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.model_base import Scoped


class AuditAction(models.TextChoices):
    STORE_CREATE = "store_create", _("新建门店")
    STORE_UPDATE = "store_update", _("修改门店")
    STORE_CLOSE = "store_close", _("停用门店")
    STORE_REOPEN = "store_reopen", _("重新启用门店")
    STAFF_UPDATE = "staff_update", _("修改员工")
    STAFF_LOGIN_GRANT = "staff_login_grant", _("开通登录账号")
    STAFF_LOGIN_REVOKE = "staff_login_revoke", _("停用登录账号")
    STAFF_PASSWORD_SET = "staff_password_set", _("设置登录密码")
    ROLE_CHANGE = "role_change", _("变更角色")
    TOKEN_CREATE = "token_create", _("签发 API 令牌")
    TOKEN_REVOKE = "token_revoke", _("吊销 API 令牌")
    BRAND_UPDATE = "brand_update", _("修改品牌设置")
    PRIVACY_EXPORT = "privacy_export", _("导出个人信息")
    CUSTOMER_EXPORT = "customer_export", _("导出客户名单")
    PRIVACY_ERASE = "privacy_erase", _("删除个人信息")
    CUSTOMER_MERGE = "customer_merge", _("合并客户")
    CUSTOMER_UNMERGE = "customer_unmerge", _("撤销合并")
    CAMPAIGN_APPROVE = "campaign_approve", _("审批通过活动")
    CAMPAIGN_REJECT = "campaign_reject", _("驳回活动")
    CAMPAIGN_ALLOCATE = "campaign_allocate", _("排期分配配额")
    CHANNEL_CREDENTIALS = "channel_credentials", _("修改渠道账号凭据")
    GROUP_TRANSFER = "group_transfer", _("客户群继承")
    LOGIN_LOCKOUT = "login_lockout", _("登录被锁定")
    LEAD_PHONE_COPY = "lead_phone_copy", _("复制线索手机号")
    COUPON_SEGMENT_ISSUE = "coupon_segment_issue", _("分群发券")


class AuditEntry(Scoped):
    """One sensitive action: who (staff and user ids), what (action, target type and id), when, and the
    names of the fields it changed — ids and field names only, never a value that identifies a person,
    so erasure has nothing to scrub here.

    Append-only: a Postgres trigger (``auditentry_append_only``) refuses every UPDATE and DELETE, so not
    even a bug or a shell can rewrite history. Written only through ``contacts.services.audit_record``.
    ``organization`` is PROTECT: an organization with an audit trail is never deleted by a cascade.
    """

    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey("contacts.Organization", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("时间"), default=timezone.now)
    actor_staff_id = models.BigIntegerField(_("操作人"), null=True, blank=True)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(_("操作"), max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(_("对象类型"), max_length=32)
    target_id = models.CharField(_("对象编号"), max_length=64, blank=True, default="")
    fields = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    # Codes only (a role, a store id, a platform): never a name, phone or secret.
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-at"], name="audit_org_at"),
            models.Index(fields=["organization", "action", "-at"], name="audit_org_action_at"),
            models.Index(fields=["organization", "actor_staff_id", "-at"], name="audit_org_actor_at"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}#{self.target_id}"


class ApiToken(Scoped):
    """An API token of a staff member's console user: the secret is shown once and stored only as a
    SHA-256 hash (``key_hash``); ``prefix`` lets people recognise it. Refused once revoked or expired
    (``scrm.auth.ApiTokenAuthentication``); a password change revokes the user's tokens."""

    organization = models.ForeignKey("contacts.Organization", on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey(
        "contacts.Staff", on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("员工")
    )
    name = models.CharField(_("用途"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey("contacts.Staff", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("签发时间"), default=timezone.now)
    expires_at = models.DateTimeField(_("到期时间"))
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="apitoken_expires_after_created"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class CustomFieldKind(models.TextChoices):
    TEXT = "text", _("文本")
    NUMBER = "number", _("数字")
    DATE = "date", _("日期")
    CHOICE = "choice", _("单选")
    MULTI_CHOICE = "multi_choice", _("多选")


class CustomField(Scoped):
    """A customer field the brand defines (会员等级, 肤质…); values live in ``Customer.attributes[key]``
    (text / ISO date / number / one option / a list of options), checked against this definition by
    ``contacts.services.custom_fields`` on every write."""

    organization = models.ForeignKey("contacts.Organization", on_delete=models.CASCADE, related_name="custom_fields")
    key = models.SlugField(_("字段标识"), max_length=40)
    label = models.CharField(_("字段名称"), max_length=50)
    kind = models.CharField(_("类型"), max_length=20, choices=CustomFieldKind.choices, default=CustomFieldKind.TEXT)
    options = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("选项"))
    required = models.BooleanField(_("必填"), default=False)
    show_on_profile = models.BooleanField(_("在客户画像显示"), default=True)
    show_in_sidebar = models.BooleanField(_("在导购工作台显示"), default=False)
    order = models.IntegerField(_("排序"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("自定义字段")
        verbose_name_plural = _("自定义字段")
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="customfield_key_unique_per_org"),
            models.UniqueConstraint(fields=["organization", "label"], name="customfield_label_unique_per_org"),
            models.CheckConstraint(condition=Q(key__regex=r"^[a-z][a-z0-9_]*$"), name="customfield_key_format"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def has_options(self) -> bool:
        return self.kind in (CustomFieldKind.CHOICE, CustomFieldKind.MULTI_CHOICE)
