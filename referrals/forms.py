"""The console form of a 任务宝 campaign; the rules live in ``referrals.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels.models import ChannelAccount
from contacts.models import Staff, Store
from offers.models import CouponTemplate
from referrals.models import ReferralCampaign
from referrals.services import CampaignInput

_DT = {"widget": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")}


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("活动名称"), max_length=60)
    account = forms.ModelChoiceField(label=_("企业微信账号"), queryset=ChannelAccount.objects.none())
    staff = forms.ModelMultipleChoiceField(
        label=_("接待员工"), queryset=Staff.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    store = forms.ModelChoiceField(
        label=_("门店"), queryset=Store.objects.none(), required=False, help_text=_("不选 = 全品牌活动")
    )
    goal = forms.IntegerField(label=_("目标人数"), min_value=1, max_value=1000)
    reward = forms.ModelChoiceField(label=_("奖励"), queryset=CouponTemplate.objects.none())
    goal2 = forms.IntegerField(label=_("第二档目标人数"), min_value=2, max_value=1000, required=False)
    reward2 = forms.ModelChoiceField(label=_("第二档奖励"), queryset=CouponTemplate.objects.none(), required=False)
    starts_at = forms.DateTimeField(label=_("开始时间（北京时间）"), **_DT)  # type: ignore[arg-type]
    ends_at = forms.DateTimeField(label=_("结束时间（北京时间）"), **_DT)  # type: ignore[arg-type]
    poster_text = forms.CharField(label=_("海报文案"), max_length=300, required=False, widget=forms.Textarea)

    def __init__(self, *args: Any, organization_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        org = {"organization_id": organization_id}
        self.fields["account"].queryset = ChannelAccount.objects.filter(platform="wecom", **org)  # type: ignore[attr-defined]
        self.fields["staff"].queryset = (  # type: ignore[attr-defined]
            Staff.objects.filter(is_active=True, **org).exclude(wecom_userid="").order_by("store__code", "name")
        )
        self.fields["store"].queryset = Store.objects.filter(**org).order_by("code")  # type: ignore[attr-defined]
        templates = CouponTemplate.objects.filter(is_active=True, **org).order_by("name")
        self.fields["reward"].queryset = templates  # type: ignore[attr-defined]
        self.fields["reward2"].queryset = templates  # type: ignore[attr-defined]

    @staticmethod
    def initial_for(campaign: ReferralCampaign) -> dict[str, Any]:
        return {
            "name": campaign.name,
            "account": campaign.account_id,
            "staff": list(campaign.staff.all()),
            "store": campaign.store_id,
            "goal": campaign.goal,
            "reward": campaign.reward_id,
            "goal2": campaign.goal2,
            "reward2": campaign.reward2_id,
            "starts_at": campaign.starts_at,
            "ends_at": campaign.ends_at,
            "poster_text": campaign.poster_text,
        }

    def to_input(self) -> CampaignInput:
        d = self.cleaned_data
        return CampaignInput(
            name=d["name"],
            account=d["account"],
            staff=list(d["staff"]),
            store=d.get("store"),
            goal=d["goal"],
            reward=d["reward"],
            goal2=d.get("goal2"),
            reward2=d.get("reward2"),
            starts_at=d["starts_at"],
            ends_at=d["ends_at"],
            poster_text=d.get("poster_text") or "",
        )
