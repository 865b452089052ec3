"""Forms of the organization settings pages (stores, staff logins, API tokens, brand, audit filters)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import AuditAction, Organization, Role, Staff, Store
from contacts.services.organization import API_TOKEN_MAX_DAYS


class StoreForm(forms.Form):
    code = forms.CharField(label=_("门店编码"), max_length=50)
    name = forms.CharField(label=_("门店名称"), max_length=100)
    city = forms.CharField(label=_("城市"), max_length=50, required=False)
    address = forms.CharField(label=_("地址"), max_length=200, required=False)


class BrandForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Organization
        fields = [
            "name",
            "lifecycle_repeat_orders",
            "lifecycle_dormant_days",
            "lifecycle_churn_on_unfollow",
            "churn_high_below",
            "churn_medium_below",
            "churn_alert_staff",
            "churn_alert_manager",
            "churn_alarm_daily_deletes",
        ]
        help_texts = {
            "lifecycle_repeat_orders": _("达到这么多笔有效订单即为复购客户（至少 2）"),
            "lifecycle_dormant_days": _("最近一笔订单超过这么多天即为沉睡客户；填 0 关闭此规则"),
            "lifecycle_churn_on_unfollow": _("客户删除了所有导购的企业微信好友后，记为流失"),
            "churn_high_below": _("预测的活跃概率低于这个值（0–1）即为高流失风险"),
            "churn_medium_below": _("低于这个值（且不低于上一项）即为中流失风险，其余为低"),
            "churn_alert_staff": _("客户在企业微信删除了员工时，员工会收到一条应用消息"),
            "churn_alert_manager": _("客户删除员工时，该员工所在门店的店长也收到应用消息"),
            "churn_alarm_daily_deletes": _("员工一个北京日内主动删除的客户超过此数，店长和运营收到风控提醒；0 为关闭"),
        }


ROLE_CHOICES = [(r.value, r.label) for r in Role]


class LoginGrantForm(forms.Form):
    username = forms.CharField(label=_("登录账号"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("角色"), choices=ROLE_CHOICES)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("角色"), choices=ROLE_CHOICES)


class StaffStoresForm(forms.Form):
    store = forms.ModelChoiceField(label=_("所属门店"), queryset=Store.objects.none(), required=False)
    managed_stores = forms.ModelMultipleChoiceField(
        label=_("另外管理的门店"), queryset=Store.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, stores: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores  # type: ignore[attr-defined]
        self.fields["managed_stores"].queryset = stores  # type: ignore[attr-defined]


class TokenForm(forms.Form):
    staff = forms.ModelChoiceField(label=_("以哪位员工的身份"), queryset=Staff.objects.none())
    name = forms.CharField(label=_("用途"), max_length=100)
    days = forms.IntegerField(label=_("有效期（天）"), min_value=1, max_value=API_TOKEN_MAX_DAYS, initial=90)

    def __init__(self, *args: Any, staff: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = staff  # type: ignore[attr-defined]


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("操作"), required=False)
    actor = forms.TypedChoiceField(label=_("操作人"), required=False, coerce=int, empty_value=None)
    start = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, actors: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("全部操作")), *AuditAction.choices]  # type: ignore[attr-defined]
        self.fields["actor"].choices = [("", _("全部操作人")), *actors]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("start", "end"):
            day = data.get(name)
            if day is not None and not 2000 <= day.year <= 2100:
                self.add_error(name, _("日期须在 2000 年到 2100 年之间"))
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("结束日期不能早于开始日期"))
        return data
