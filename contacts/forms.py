"""Forms of the contacts console pages (filters, notes, tag management, segments, imports)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.access import Actor
from contacts.imports import upload_refusal
from contacts.models import CustomField, CustomFieldKind, Gender, Lifecycle, SourceChannel, Store, TagChoice, TagGroup


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
        self.fields["q"].widget.attrs.update(
            {"placeholder": _("姓名 / 备注 / 手机号（完整 11 位、后 4 位或 138****1234）"), "type": "search"}
        )
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
    to_lead_pool = forms.BooleanField(
        label=_("导入后进入线索公海"),
        required=False,
        help_text=_("有手机号、还不是企业微信好友的客户进入线索公海，按分配规则派给员工添加"),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not name.endswith((".csv", ".xlsx")):
            raise forms.ValidationError(_("只支持 .csv 或 .xlsx 文件，请另存为其中一种格式后重新上传"))
        refusal = upload_refusal(upload.size)
        if refusal:
            raise forms.ValidationError(refusal)
        return upload


class CustomFieldForm(forms.Form):
    """Define a custom customer field (key and type are fixed once created)."""

    label = forms.CharField(label=_("字段名称"), max_length=50)
    key = forms.CharField(
        label=_("字段标识"),
        max_length=40,
        help_text=_("小写字母、数字、下划线，以字母开头；用于导入、API 与分群，创建后不能修改"),
    )
    kind = forms.ChoiceField(label=_("类型"), choices=CustomFieldKind.choices)
    options = forms.CharField(
        label=_("选项"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("单选、多选字段每行一个选项"),
    )
    required = forms.BooleanField(label=_("必填"), required=False)
    show_on_profile = forms.BooleanField(label=_("在客户画像显示"), required=False, initial=True)
    show_in_sidebar = forms.BooleanField(label=_("在导购工作台显示"), required=False)
    order = forms.IntegerField(label=_("排序"), initial=0, min_value=-1000, max_value=1000)

    def __init__(self, *args: Any, instance: CustomField | None = None, **kwargs: Any) -> None:
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "label": instance.label,
                "key": instance.key,
                "kind": instance.kind,
                "options": "\n".join(instance.options),
                "required": instance.required,
                "show_on_profile": instance.show_on_profile,
                "show_in_sidebar": instance.show_in_sidebar,
                "order": instance.order,
            }
        super().__init__(*args, **kwargs)
        if instance is not None:
            for name in ("key", "kind"):
                self.fields[name].disabled = True
                self.fields[name].required = False

    def option_list(self) -> list[str]:
        return [line.strip() for line in (self.cleaned_data.get("options") or "").splitlines() if line.strip()]


class CustomerEditForm(forms.Form):
    """Edit a customer: the built-in fields and one field per custom-field definition."""

    name = forms.CharField(label=_("姓名"), max_length=100, required=False)
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        required=False,
        help_text=_("留空则不修改；填写 11 位中国大陆手机号"),
    )
    gender = forms.TypedChoiceField(label=_("性别"), choices=Gender.choices, coerce=int)
    birthday = forms.DateField(label=_("生日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, fields: list[CustomField], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.custom = fields
        for field in fields:
            name = f"cf_{field.key}"
            common: dict[str, Any] = {"label": field.label, "required": False}
            if field.kind == CustomFieldKind.CHOICE:
                self.fields[name] = forms.ChoiceField(choices=[("", "—"), *[(o, o) for o in field.options]], **common)
            elif field.kind == CustomFieldKind.MULTI_CHOICE:
                self.fields[name] = forms.MultipleChoiceField(
                    choices=[(o, o) for o in field.options], widget=forms.CheckboxSelectMultiple, **common
                )
            elif field.kind == CustomFieldKind.DATE:
                self.fields[name] = forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
            elif field.kind == CustomFieldKind.NUMBER:
                self.fields[name] = forms.CharField(widget=forms.NumberInput(attrs={"step": "any"}), **common)
            else:
                self.fields[name] = forms.CharField(max_length=200, **common)
            if field.required:
                self.fields[name].widget.attrs["required"] = True

    def custom_values(self) -> dict[str, Any]:
        return {f.key: self.cleaned_data.get(f"cf_{f.key}") for f in self.custom}
