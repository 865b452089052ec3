"""Django forms of the shared channel console pages: a platform account (from its plugin's
``AccountSpec``), the inbox filters. WeCom's own forms are in ``channels/wecom/forms.py``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels.models import ChannelPlatform, InboxStatus
from channels.registry import AccountSpec
from contacts.access import Actor
from contacts.models import Store, Tag


class InboxFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), choices=[("", _("全部")), *InboxStatus.choices], required=False)
    platform = forms.ChoiceField(label=_("平台"), choices=[("", _("全部")), *ChannelPlatform.choices], required=False)
    event_type = forms.CharField(label=_("事件类型"), required=False)


class AccountForm(forms.Form):
    """A platform account as its plugin's :class:`~channels.registry.AccountSpec` describes it."""

    name = forms.CharField(label=_("名称"), max_length=100)
    external_id = forms.CharField(max_length=300)
    api_base = forms.CharField(
        label=_("API 地址"),
        required=False,
        max_length=200,
        help_text=_("留空使用平台正式地址；演示环境填沙箱地址，如 http://127.0.0.1:8001"),
    )
    default_store = forms.ModelChoiceField(label=_("默认门店"), queryset=Store.objects.none(), required=False)
    default_tags = forms.ModelMultipleChoiceField(
        label=_("新客户自动打标签"), queryset=Tag.objects.none(), required=False
    )

    def __init__(self, *args: Any, actor: Actor, spec: AccountSpec, editing: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.fields["external_id"].label = spec.external_id_label
        store_field = self.fields["default_store"]
        tags_field = self.fields["default_tags"]
        assert isinstance(store_field, forms.ModelChoiceField)  # noqa: S101 - declared above
        assert isinstance(tags_field, forms.ModelMultipleChoiceField)  # noqa: S101 - declared above
        store_field.queryset = actor.scope(Store.objects.filter(is_active=True))
        tags_field.queryset = actor.scope(Tag.objects.select_related("group"))
        if spec.extra_fields is not None:
            self.fields.update(spec.extra_fields())
        if spec.store_help:
            store_field.required = True
            store_field.help_text = spec.store_help
        for key, label in spec.secrets:
            self.fields[key] = forms.CharField(
                label=label,
                required=not editing,
                widget=forms.PasswordInput(render_value=False),
                help_text=_("留空则保留已保存的值") if editing else "",
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.spec.clean is not None and "external_id" in data:
            self.spec.clean(data)
        return data
