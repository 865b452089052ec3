"""Forms of the contacts console pages (filters, notes, tag management, segments, imports)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.access import Actor
from contacts.models import Lifecycle, SourceChannel, Store, TagChoice, TagGroup


def choices_from(form: forms.BaseForm, name: str, queryset: Any) -> None:
    """Limit a model-choice field of ``form`` to ``queryset`` (typically ``actor.scope(…)``)."""
    field = form.fields[name]
    if not isinstance(field, forms.ModelChoiceField):  # ModelMultipleChoiceField is one too
        raise TypeError(f"{name} is not a model choice field")
    field.queryset = queryset

CONSENT_CHOICES = [
    ("", _("全部授权状态")),
    ("granted", _("同意营销")),
    ("not_granted", _("未授权")),
    ("opted_out", _("已退订")),
]


class CustomerFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label=_("搜索"))
    store = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=_("门店"))
    tag = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=_("标签"))
    source_channel = forms.ChoiceField(required=False, label=_("来源渠道"))
    lifecycle = forms.ChoiceField(required=False, label=_("生命周期"))
    consent = forms.ChoiceField(required=False, choices=CONSENT_CHOICES, label=_("营销授权"))

    def __init__(self, *args: Any, actor: Actor, tag_groups: list[TagGroup], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update({"placeholder": _("姓名 / 手机号 / 备注"), "type": "search"})
        stores = actor.scope(Store.objects.all()).order_by("code").values_list("id", "name")
        self.fields["store"].choices = [("", _("全部门店")), *stores]  # type: ignore[attr-defined]
        self.fields["tag"].choices = [  # type: ignore[attr-defined]
            ("", _("全部标签")),
            *[(g.name, [(t.pk, t.name) for t in g.tags.all()]) for g in tag_groups],
        ]
        self.fields["source_channel"].choices = [("", _("全部来源")), *SourceChannel.choices]  # type: ignore[attr-defined]
        self.fields["lifecycle"].choices = [("", _("全部阶段")), *Lifecycle.choices]  # type: ignore[attr-defined]


class NoteForm(forms.Form):
    body = forms.CharField(
        max_length=2000,
        label=_("跟进记录"),
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("记录这次沟通的要点…")}),
    )


class TagGroupForm(forms.Form):
    name = forms.CharField(max_length=50, label=_("标签组名称"))
    choice = forms.ChoiceField(choices=TagChoice.choices, initial=TagChoice.MULTI, label=_("选择方式"))


class TagForm(forms.Form):
    name = forms.CharField(max_length=50, label=_("标签名称"))


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("分群名称"))
    description = forms.CharField(max_length=300, required=False, label=_("说明"))
    expression = forms.JSONField(required=False, label=_("条件"))


class ImportForm(forms.Form):
    file = forms.FileField(label=_("文件（CSV 或 Excel .xlsx）"))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not name.endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("只支持 .csv 或 .xlsx 文件，请另存为其中一种格式后重新上传"))
        return upload
