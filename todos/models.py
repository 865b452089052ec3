"""Staff to-dos (待办): one row per thing a member has to do by a time — a journey's 1-to-1 task, a
lead to add on WeCom, a customer to win back, a group post to send.

Every producer (lead pool, journeys, churn alerts, group SOP) writes its to-dos through
``todos.services``; the sidebar and console read one list per member from here. A producer names
each to-do with a ``source_key`` unique in the organization, so producing it twice (a retried task,
a doubled tick) is a no-op.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Customer, Organization, Scoped, Staff, Store


class TodoKind(models.TextChoices):
    JOURNEY_TASK = "journey_task", _("旅程任务")
    GROUP_POST = "group_post", _("群SOP")
    LEAD_ADD = "lead_add", _("添加线索")
    FOLLOW_UP = "follow_up", _("客户跟进")
    CHURN_FOLLOW_UP = "churn_follow_up", _("流失挽回")
    BROADCAST_CONFIRM = "broadcast_confirm", _("群发确认")
    REFERRAL_REWARD = "referral_reward", _("任务宝奖励")


# Kinds whose body is the text to send the customer as it stands: the to-do lists offer 发送 (the
# JS-SDK hands it to WeCom, then the to-do is completed) instead of leaving the member to copy it.
SENDABLE_KINDS = frozenset({TodoKind.JOURNEY_TASK, TodoKind.REFERRAL_REWARD})


class TodoStatus(models.TextChoices):
    OPEN = "open", _("待办")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class Todo(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # The assignee's store when the to-do was made: what store scope (managers, reports) reads.
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("门店")
    )
    assignee = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="todos", verbose_name=_("负责人"))
    kind = models.CharField(_("类型"), max_length=20, choices=TodoKind.choices)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True, default="")
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="todos", verbose_name=_("客户")
    )
    # Producer-specific details the sidebar needs to act (attachments, the lead id, a link).
    payload = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(_("截止时间"))
    status = models.CharField(
        _("状态"), max_length=10, choices=TodoStatus.choices, default=TodoStatus.OPEN, db_default=TodoStatus.OPEN
    )
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    done_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source_key = models.CharField(max_length=120)
    reminders_sent = models.PositiveSmallIntegerField(default=0, db_default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("待办")
        verbose_name_plural = _("待办")
        constraints = [
            models.UniqueConstraint(fields=["organization", "source_key"], name="todo_source_key_unique_per_org"),
            models.CheckConstraint(
                condition=(Q(status=TodoStatus.OPEN) & Q(done_at__isnull=True))
                | (~Q(status=TodoStatus.OPEN) & Q(done_at__isnull=False)),
                name="todo_done_at_iff_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="todo_assignee_open_due"),
            models.Index(fields=["organization", "status", "due_at"], name="todo_org_status_due"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_sendable(self) -> bool:
        """An open to-do with a text to send, of a kind that is sent as it stands (``SENDABLE_KINDS``)."""
        return self.kind in SENDABLE_KINDS and self.status == TodoStatus.OPEN and bool(self.body)
