"""Forms of the campaigns console: the quota policy (配额策略) of the brand and of one channel account."""

from __future__ import annotations

from datetime import time
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import QuotaPolicy
from channels.models import ChannelAccount

# Ledger slots are numbered 0 … limit-1 and the ledger refuses slot 31 and above (ledger_slot_in_range);
# the Moments cap has its own database check (quotapolicy_moments_sane).
BRAND_CAP_MAX = 31
MOMENTS_MAX = 20
APPROVAL_MAX = 10_000_000
ATTRIBUTION_DAYS_MAX = 90
NO_QUIET = time(0, 0)

# (lowest, highest, the message that says what to enter) for the numeric fields.
RANGES = {
    "moments_per_day": (1, MOMENTS_MAX, _("朋友圈条数须在 1–20 之间，请修改")),
    "brand_cap": (0, BRAND_CAP_MAX, _("品牌营销上限须在 0–31 条之间（0 表示不限制），请修改")),
    "approval_threshold": (
        0,
        APPROVAL_MAX,
        _("审批门槛须在 0–10000000 人之间；如不需要审批，请填一个大于品牌客户总数的值"),
    ),
    "attribution_days": (1, ATTRIBUTION_DAYS_MAX, _("归因窗口须在 1–90 天之间，请修改")),
}

POLICY_FIELDS = [
    "customer_mode",
    "group_mode",
    "moments_per_day",
    "brand_cap",
    "brand_cap_period",
    "quiet_start",
    "quiet_end",
    "require_consent",
    "approval_threshold",
    "attribution_days",
]


class QuotaPolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    """The brand default (``accounts`` None) or one account's override (``accounts``: the ones to choose from)."""

    channel_account = forms.ModelChoiceField(
        label=_("渠道账号"),
        queryset=ChannelAccount.objects.none(),
        help_text=_("为这个企业微信账号单独设置；没有单独设置的账号使用品牌默认策略"),
        error_messages={
            "required": _("请选择一个企业微信账号"),
            "invalid_choice": _("所选账号不存在或已有单独的配额策略，请重新选择"),
        },
    )
    quiet_enabled = forms.BooleanField(
        label=_("启用免打扰"),
        required=False,
        help_text=_("免打扰时间内不发送营销消息，顺延到免打扰结束后发送"),
    )

    class Meta:
        model = QuotaPolicy
        fields = POLICY_FIELDS
        labels = {
            "customer_mode": _("客户接收上限"),
            "group_mode": _("客户群接收上限"),
            "moments_per_day": _("每位客户每天朋友圈条数"),
            "brand_cap": _("品牌营销上限（条）"),
            "brand_cap_period": _("品牌上限周期"),
            "quiet_start": _("免打扰开始"),
            "quiet_end": _("免打扰结束"),
            "require_consent": _("仅发送给同意营销的客户"),
            "approval_threshold": _("需审批的人数门槛"),
            "attribution_days": _("归因窗口（天）"),
        }
        help_texts = {
            "customer_mode": _(
                "每位客户能收到的群发条数（企业与员工个人群发合计）。"
                "须与企业微信后台「群发助手 → 设置群发规则」一致，默认每天 1 条"
            ),
            "group_mode": _("每个客户群能收到的群发条数，同样须与企业微信后台的群发规则一致"),
            "moments_per_day": _("每位客户每天最多看到多少条企业发布的朋友圈，1–20 条"),
            "brand_cap": _("品牌自己对客户群发和朋友圈合计加的上限，比平台规则更严格；0 表示不限制，最多 31 条"),
            "brand_cap_period": _("品牌营销上限按每天、每周（从周一起）或每月计算，以北京时间为准"),
            "quiet_start": _("北京时间，例如 21:00"),
            "quiet_end": _("北京时间，例如 09:00；可以跨过午夜"),
            "require_consent": _("勾选后只规划同意营销的客户；已退订的客户无论是否勾选都不会收到营销消息"),
            "approval_threshold": _("活动人数超过此值时，须店长或运营审批后才会排期；0 表示每个活动都要审批"),
            "attribution_days": _("客户收到消息后多少天内的订单算作该活动的业绩（末次触达），1–90 天"),
        }
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "moments_per_day": forms.NumberInput(attrs={"min": 1, "max": MOMENTS_MAX}),
            "brand_cap": forms.NumberInput(attrs={"min": 0, "max": BRAND_CAP_MAX}),
            "approval_threshold": forms.NumberInput(attrs={"min": 0, "max": APPROVAL_MAX}),
            "attribution_days": forms.NumberInput(attrs={"min": 1, "max": ATTRIBUTION_DAYS_MAX}),
        }

    def __init__(self, *args: Any, accounts: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if accounts is None:
            del self.fields["channel_account"]
        else:
            self.fields["channel_account"].queryset = accounts  # type: ignore[attr-defined]
        for name, (_low, _high, message) in RANGES.items():
            # Django's own texts ("确保该值大于或等于0") do not say which rule or what to enter.
            self.fields[name].error_messages.update(
                required=message, invalid=message, min_value=message, max_value=message
            )
        self.fields["quiet_enabled"].initial = self.instance.quiet_start != self.instance.quiet_end
        # The times only matter when quiet hours are on (checked in clean()).
        self.fields["quiet_start"].required = self.fields["quiet_end"].required = False
        self.order_fields([*(["channel_account"] if accounts is not None else []), *POLICY_FIELDS[:5], "quiet_enabled"])

    def _in_range(self, name: str) -> int:
        low, high, message = RANGES[name]
        value: int = self.cleaned_data[name]
        if not low <= value <= high:
            raise forms.ValidationError(message, code="range")
        return value

    def clean_moments_per_day(self) -> int:
        return self._in_range("moments_per_day")

    def clean_brand_cap(self) -> int:
        return self._in_range("brand_cap")

    def clean_approval_threshold(self) -> int:
        return self._in_range("approval_threshold")

    def clean_attribution_days(self) -> int:
        return self._in_range("attribution_days")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if not data.get("quiet_enabled"):
            # No quiet hours is stored as start == end (campaigns.quota.in_quiet_hours).
            data["quiet_start"] = data["quiet_end"] = NO_QUIET
        elif "quiet_start" in data and start is None:
            self.add_error("quiet_start", _("请填写免打扰开始时间，例如 21:00"))
        elif "quiet_end" in data and end is None:
            self.add_error("quiet_end", _("请填写免打扰结束时间，例如 09:00"))
        elif start is not None and start == end:
            self.add_error(
                "quiet_end",
                _("免打扰开始和结束时间相同，等于没有免打扰。请设置不同的结束时间，或取消勾选「启用免打扰」"),
            )
        return data

    def policy_values(self) -> dict[str, Any]:
        """The model fields to save (quiet hours already normalized by :meth:`clean`)."""
        return {name: self.cleaned_data[name] for name in POLICY_FIELDS}
