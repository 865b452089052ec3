"""任务宝 (referral) campaigns: a participant brings N new friends through their own 渠道活码 and earns
a coupon. The database holds the fraud guards: a friend counts once across every campaign of the
brand (``referralfriend_once_per_friend``), a participant is enrolled once per campaign, and a tier's
reward is written once per participant before its coupon is issued."""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels.models import ChannelAccount, ContactWay
from contacts.models import Customer, Organization, Scoped, Staff, Store
from offers.models import CouponTemplate, IssuedCoupon


def new_token() -> str:
    return secrets.token_hex(16)


class ReferralStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    RUNNING = "running", _("进行中")
    ENDED = "ended", _("已结束")


class ReferralCampaign(Scoped):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("活动名称"), max_length=60)
    account = models.ForeignKey(
        ChannelAccount, on_delete=models.PROTECT, related_name="+", verbose_name=_("企业微信账号")
    )
    # The members who receive the new friends, and the store the friends are attributed to (blank:
    # each receiving member's own store). A campaign without a store is brand-wide.
    staff = models.ManyToManyField(Staff, related_name="+", verbose_name=_("接待员工"))
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("门店")
    )
    goal = models.PositiveIntegerField(_("目标人数"))
    reward = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="+", verbose_name=_("奖励"))
    goal2 = models.PositiveIntegerField(_("第二档目标人数"), null=True, blank=True)
    reward2 = models.ForeignKey(
        CouponTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("第二档奖励"),
    )
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    poster_text = models.TextField(_("海报文案"), blank=True, default="")
    status = models.CharField(_("状态"), max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.DRAFT)
    created_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "store"

    class Meta:
        verbose_name = _("任务宝活动")
        verbose_name_plural = _("任务宝活动")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(goal__gte=1), name="referralcampaign_goal_positive"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="referralcampaign_window"),
            models.CheckConstraint(
                condition=(Q(goal2__isnull=True) & Q(reward2__isnull=True))
                | (Q(goal2__isnull=False) & Q(reward2__isnull=False) & Q(goal2__gt=models.F("goal"))),
                name="referralcampaign_tier2_consistent",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def tiers(self) -> list[tuple[int, int, CouponTemplate]]:
        """(tier, goal, coupon template), lowest first."""
        out = [(1, self.goal, self.reward)]
        if self.goal2 and self.reward2 is not None:
            out.append((2, self.goal2, self.reward2))
        return out


class EnrolSource(models.TextChoices):
    STAFF = "staff", _("员工邀请")
    SEGMENT = "segment", _("客户分群")
    API = "api", _("API")


class ReferralParticipant(Scoped):
    """A customer taking part: their own 渠道活码 (made lazily) and their signed poster link."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(ReferralCampaign, on_delete=models.CASCADE, related_name="participants")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("客户"))
    # The member who serves the participant (sends the poster and the reward); the enrolling staff or
    # the customer's serving follower.
    serving_staff = models.ForeignKey(
        Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("服务员工")
    )
    contact_way = models.OneToOneField(
        ContactWay, on_delete=models.SET_NULL, null=True, blank=True, related_name="referral_participant"
    )
    source = models.CharField(_("参与方式"), max_length=10, choices=EnrolSource.choices, default=EnrolSource.STAFF)
    # The poster link carries this token signed; erasure replaces it, so old links open nothing.
    token = models.CharField(max_length=32, unique=True, default=new_token)
    enrolled_by = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("参与时间"), default=timezone.now)
    erased_at = models.DateTimeField(null=True, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "customer__home_store"

    class Meta:
        verbose_name = _("任务宝参与者")
        verbose_name_plural = _("任务宝参与者")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="referralparticipant_once_per_campaign")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.customer_id}"

    @property
    def state(self) -> str:
        """The 活码 ``state`` (≤ 30 characters, WeCom) that names this participant."""
        return f"rf{self.campaign_id}_{self.pk}"[:30]


class FriendStatus(models.TextChoices):
    PENDING = "pending", _("待确认（24 小时内）")
    VALID = "valid", _("有效")
    CHURNED = "churned", _("24 小时内删除")


class ReferralFriend(Scoped):
    """A new friend brought by a participant. Pending for 24 h after the add, then valid unless the
    friend deleted the member in those 24 h (churned). One row per friend customer, whatever the
    campaign: a person is new to the brand once."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(ReferralCampaign, on_delete=models.CASCADE, related_name="friends")
    participant = models.ForeignKey(ReferralParticipant, on_delete=models.CASCADE, related_name="friends")
    friend = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("新好友"))
    staff = models.ForeignKey(
        Staff, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("添加员工")
    )
    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("门店")
    )
    added_at = models.DateTimeField(_("添加时间"))
    removed_at = models.DateTimeField(_("删除时间"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=FriendStatus.choices, default=FriendStatus.PENDING)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "participant__customer__home_store"

    class Meta:
        verbose_name = _("任务宝新好友")
        verbose_name_plural = _("任务宝新好友")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "friend"], name="referralfriend_once_per_campaign"),
            models.UniqueConstraint(fields=["friend"], name="referralfriend_once_per_friend"),
        ]
        indexes = [
            models.Index(fields=["status", "added_at"], name="referralfriend_pending"),
            models.Index(fields=["participant", "status"], name="referralfriend_progress"),
        ]


class RewardStatus(models.TextChoices):
    PENDING = "pending", _("发放中")
    ISSUED = "issued", _("已发放")
    FAILED = "failed", _("发放失败")


class ReferralReward(Scoped):
    """One tier's reward of one participant: written (claimed) before the coupon is issued."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    participant = models.ForeignKey(ReferralParticipant, on_delete=models.CASCADE, related_name="rewards")
    tier = models.PositiveSmallIntegerField(_("档位"))
    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="+")
    coupon = models.OneToOneField(IssuedCoupon, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The coupon's token, chosen when the reward is claimed: issuing twice would collide on it.
    token = models.CharField(max_length=32, unique=True, default=new_token)
    status = models.CharField(_("状态"), max_length=10, choices=RewardStatus.choices, default=RewardStatus.PENDING)
    error = models.CharField(max_length=300, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    issued_at = models.DateTimeField(null=True, blank=True)

    SCOPE_STORE: ClassVar[str | None] = "participant__customer__home_store"

    class Meta:
        verbose_name = _("任务宝奖励")
        verbose_name_plural = _("任务宝奖励")
        constraints = [models.UniqueConstraint(fields=["participant", "tier"], name="referralreward_once_per_tier")]
