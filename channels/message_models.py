"""WeCom app messages (应用消息) to members; imported at the end of ``channels.models``.

An :class:`AppMessage` is one ``message/send`` call, written before it is made (channels.app_messages):
to-do reminders, lead assignments, churn alerts. It is unique per producer key, so producing it twice
sends nothing twice.
"""

from __future__ import annotations

from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Organization, Scoped


class AppMessageStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已送达")
    PARTIAL = "partial", _("部分送达")
    FAILED = "failed", _("发送失败")


class AppMessage(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(
        "channels.ChannelAccount", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source_key = models.CharField(max_length=120)
    # The customer the message is about (a churn alert names them): erasure blanks its text.
    customer = models.ForeignKey(
        "contacts.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    staff_ids = ArrayField(models.BigIntegerField(), default=list)
    # The members' WeCom userids at the time of sending (those without one are in ``skipped_staff_ids``).
    touser = ArrayField(models.CharField(max_length=64), default=list)
    skipped_staff_ids = ArrayField(models.BigIntegerField(), default=list)
    invalid_users = ArrayField(models.CharField(max_length=64), default=list)
    title = models.CharField(_("标题"), max_length=128, blank=True, default="")
    text = models.TextField(_("内容"))
    url = models.CharField(max_length=2048, blank=True, default="")
    status = models.CharField(
        _("状态"),
        max_length=10,
        choices=AppMessageStatus.choices,
        default=AppMessageStatus.PENDING,
        db_default=AppMessageStatus.PENDING,
    )
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    error = models.CharField(max_length=300, blank=True, default="")
    msgid = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_STORE: ClassVar[str | None] = None

    class Meta:
        verbose_name = _("应用消息")
        verbose_name_plural = _("应用消息")
        constraints = [
            models.UniqueConstraint(fields=["organization", "source_key"], name="appmessage_source_key_unique")
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="appmessage_status_created")]
