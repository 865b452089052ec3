"""Connect (or edit) a lead-source account: Ocean Engine, Douyin, 视频号, 微信小店, Meituan.

Operators only. Credentials go through ``channels.services.channel_account_connect`` (encrypted;
blank secrets keep the stored ones). Which fields a platform needs is declared once in ``FIELDS``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels.leads_plugins import connection_test
from channels.models import ChannelAccount, ChannelPlatform
from contacts.access import OPERATOR_ONLY, Actor, console_view
from contacts.models import Store, Tag

LEAD_PLATFORMS = [
    ChannelPlatform.OCEAN_ENGINE,
    ChannelPlatform.DOUYIN,
    ChannelPlatform.VIDEO,
    ChannelPlatform.WECHAT_SHOP,
    ChannelPlatform.MEITUAN,
]
# platform → (label of external_id, required credential keys, optional credential keys, has webhook)
FIELDS: dict[str, tuple[Any, list[str], list[str], bool]] = {
    ChannelPlatform.OCEAN_ENGINE: (gettext_lazy("广告主 ID（多个用逗号分隔）"), ["access_token"], [], False),
    ChannelPlatform.DOUYIN: (gettext_lazy("Client Key"), ["client_secret"], [], True),
    ChannelPlatform.VIDEO: (gettext_lazy("AppID"), ["secret"], [], False),
    ChannelPlatform.WECHAT_SHOP: (gettext_lazy("AppID"), ["secret", "token", "aes_key"], [], True),
    ChannelPlatform.MEITUAN: (gettext_lazy("美团门店 ID"), ["developer_id", "sign_key", "app_auth_token"], [], False),
}
SECRET_LABELS = {
    "access_token": gettext_lazy("Access-Token"),
    "client_secret": gettext_lazy("Client Secret"),
    "secret": gettext_lazy("AppSecret"),
    "token": gettext_lazy("消息推送 Token"),
    "aes_key": gettext_lazy("EncodingAESKey（43 位）"),
    "developer_id": gettext_lazy("开发者 ID（developerId）"),
    "sign_key": gettext_lazy("SignKey"),
    "app_auth_token": gettext_lazy("门店授权 appAuthToken"),
}


class LeadAccountForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100)
    external_id = forms.CharField(max_length=300)
    api_base = forms.CharField(
        label=gettext_lazy("API 地址"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("留空使用平台正式地址；演示环境填沙箱地址，如 http://127.0.0.1:8001"),
    )
    default_store = forms.ModelChoiceField(
        label=gettext_lazy("默认门店"), queryset=Store.objects.none(), required=False
    )
    default_tags = forms.ModelMultipleChoiceField(
        label=gettext_lazy("新客户自动打标签"), queryset=Tag.objects.none(), required=False
    )

    def __init__(self, *args: Any, actor: Actor, platform: str, editing: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.platform = platform
        label, required, optional, _hook = FIELDS[platform]
        self.fields["external_id"].label = label
        self.fields["default_store"].queryset = actor.scope(Store.objects.filter(is_active=True))  # type: ignore[attr-defined]
        self.fields["default_tags"].queryset = actor.scope(Tag.objects.select_related("group"))  # type: ignore[attr-defined]
        if platform == ChannelPlatform.OCEAN_ENGINE:
            self.fields["local_account_ids"] = forms.CharField(
                label=_("本地推账户 ID"),
                required=False,
                max_length=2000,
                help_text=_("抖音来客 / 本地推的本地账户 ID，多个用逗号分隔；填写后也拉取本地推线索（团购、到店咨询）"),
            )
        if platform == ChannelPlatform.MEITUAN:
            self.fields["default_store"].required = True
            self.fields["default_store"].help_text = _("一个美团授权对应一家门店：核销页按门店找到它")
        for key in required + optional:
            self.fields[key] = forms.CharField(
                label=SECRET_LABELS[key],
                required=key in required and not editing,
                widget=forms.PasswordInput(render_value=False),
                help_text=_("留空则保留已保存的值") if editing else "",
            )

    def clean_external_id(self) -> str:
        value = str(self.cleaned_data["external_id"]).strip()
        if self.platform == ChannelPlatform.OCEAN_ENGINE:
            ids = [part.strip() for part in value.replace("，", ",").split(",") if part.strip()]
            if not ids or not all(part.isdigit() for part in ids):
                raise forms.ValidationError(_("广告主 ID 应为数字，多个用逗号分隔"))
            return ",".join(ids)
        return value

    def clean_local_account_ids(self) -> str:
        value = str(self.cleaned_data.get("local_account_ids") or "").strip()
        ids = [part.strip() for part in value.replace("，", ",").split(",") if part.strip()]
        if not all(part.isdigit() for part in ids):
            raise forms.ValidationError(_("本地推账户 ID 应为数字，多个用逗号分隔"))
        return ",".join(ids)

    def clean_aes_key(self) -> str:
        value = str(self.cleaned_data.get("aes_key") or "").strip()
        if value and len(value) != 43:
            raise forms.ValidationError(_("EncodingAESKey 应为 43 位字符：请从微信小店后台复制完整"))
        return value


@console_view(OPERATOR_ONLY)
def lead_account_connect(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    from channels.selectors import callback_url
    from channels.services import channel_account_connect

    actor: Actor = request.actor_obj  # type: ignore[attr-defined]
    account = actor.scope(ChannelAccount.objects.all()).filter(pk=pk).first() if pk else None
    if pk and (account is None or account.platform not in LEAD_PLATFORMS):
        raise Http404(_("账号不存在，或不是线索渠道账号"))
    platform = account.platform if account else request.GET.get("platform") or request.POST.get("platform") or ""
    if platform not in FIELDS:
        return render(
            request, "channels/leads/account_pick.html", {"platforms": [(p, p.label) for p in LEAD_PLATFORMS]}
        )
    initial: dict[str, Any] = {}
    if account is not None:
        ids = (account.settings or {}).get("advertiser_ids")
        local_ids = (account.settings or {}).get("local_account_ids") or []
        initial = {
            "local_account_ids": ",".join(str(i) for i in local_ids),
            "name": account.name,
            "external_id": ",".join(str(i) for i in ids) if ids else account.external_id,
            "api_base": account.api_base,
            "default_store": account.default_store,
            "default_tags": list(account.default_tags.all()),
        }
    form = LeadAccountForm(
        request.POST or None, initial=initial, actor=actor, platform=platform, editing=account is not None
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        _label, required, optional, has_hook = FIELDS[platform]
        settings: dict[str, Any] | None = None
        external_id = data["external_id"]
        if platform == ChannelPlatform.OCEAN_ENGINE:
            ids = [int(i) for i in external_id.split(",")]
            local_ids = [int(i) for i in data.get("local_account_ids", "").split(",") if i]
            settings = {**(account.settings if account else {}), "advertiser_ids": ids, "local_account_ids": local_ids}
            external_id = str(ids[0])
        saved = channel_account_connect(
            organization=actor.organization,
            platform=platform,
            name=data["name"],
            external_id=external_id,
            credentials={k: data.get(k, "") for k in required + optional},
            api_base=data.get("api_base") or "",
            default_store=data.get("default_store"),
            default_tags=list(data.get("default_tags") or []),
            settings=settings,
            account=account,
        )
        result = connection_test(saved)
        if result is not None:
            ok, message = result
            ChannelAccount.objects.filter(pk=saved.pk).update(
                last_tested_at=timezone.now(), last_test_ok=ok, last_error="" if ok else message[:300]
            )
            (messages.success if ok else messages.warning)(request, message)
        if has_hook:
            messages.info(request, _("请把回调地址 %(url)s 填入平台后台") % {"url": callback_url(saved)})
        messages.success(request, _("已保存渠道账号：%(name)s") % {"name": saved.name})
        return redirect("channels:lead_list")
    return render(
        request,
        "channels/leads/account_form.html",
        {"form": form, "platform": platform, "platform_label": ChannelPlatform(platform).label, "account": account},
    )
