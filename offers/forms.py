"""Console forms of offers; the rules themselves live in ``offers.services.template_errors``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import Store
from offers.models import CouponTemplate
from offers.services import template_errors


class CouponTemplateForm(forms.ModelForm):  # type: ignore[type-arg]
    valid_from = forms.DateTimeField(
        label=_("生效时间"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    valid_to = forms.DateTimeField(
        label=_("失效时间"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    class Meta:
        model = CouponTemplate
        fields = [
            "name",
            "kind",
            "amount_off",
            "percent_off",
            "threshold",
            "validity",
            "valid_from",
            "valid_to",
            "valid_days",
            "stock",
            "per_customer_limit",
            "stores",
            "stackable",
            "refund_restores",
            "is_active",
        ]
        widgets = {"stores": forms.CheckboxSelectMultiple}
        help_texts = {
            "percent_off": _("15 表示优惠 15%，即 8.5 折"),
            "stores": _("不选 = 全部门店可用"),
            "refund_restores": _("订单全额退款后，已核销的券回到客户手中"),
        }

    def __init__(self, *args: Any, organization_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stores"].queryset = Store.objects.filter(organization_id=organization_id).order_by("code")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for field, message in template_errors(data, issued=self.instance.issued if self.instance.pk else 0).items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)
        return data
