"""Console pages of 入群欢迎语 (group welcome templates): list, create, edit, delete."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from channels.errors import PlatformError
from channels.media_models import GroupWelcomeKind, GroupWelcomeTemplate, Material, MaterialKind, PushState
from channels.models import ChannelAccount, ChannelPlatform
from channels.views import page_of, query_without_page
from channels.wecom.group_welcome import group_welcome_delete, group_welcome_save
from contacts.access import OPERATOR_AND_MANAGER, Actor, AuthenticatedHttpRequest, console_view


class GroupWelcomeForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("名称"), max_length=100)
    account = forms.ModelChoiceField(label=gettext_lazy("企业微信账号"), queryset=ChannelAccount.objects.none())
    text = forms.CharField(
        label=gettext_lazy("文字内容"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("最多 3000 字节；可插入客户昵称占位符，见表单下方说明"),
    )
    kind = forms.ChoiceField(label=gettext_lazy("附件类型"), choices=GroupWelcomeKind.choices, required=False)
    material = forms.ModelChoiceField(
        label=gettext_lazy("图片（图片或小程序封面）"),
        queryset=Material.objects.none(),
        required=False,
        help_text=gettext_lazy("从素材库选择；没有合适的图片请先到「素材库」上传"),
    )
    link_title = forms.CharField(label=gettext_lazy("链接标题"), required=False, max_length=200)
    link_url = forms.CharField(label=gettext_lazy("链接地址"), required=False, max_length=2048)
    link_desc = forms.CharField(label=gettext_lazy("链接描述"), required=False, max_length=600)
    mini_title = forms.CharField(label=gettext_lazy("小程序标题"), required=False, max_length=100)
    mini_appid = forms.CharField(label=gettext_lazy("小程序 AppID"), required=False, max_length=64)
    mini_page = forms.CharField(label=gettext_lazy("小程序页面路径"), required=False, max_length=200)

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = actor.scope(ChannelAccount.objects.filter(platform=ChannelPlatform.WECOM, is_active=True))
        self.fields["account"].queryset = accounts  # type: ignore[attr-defined]
        images = actor.scope(Material.objects.filter(kind=MaterialKind.IMAGE).defer("data"))
        self.fields["material"].queryset = images  # type: ignore[attr-defined]

    def attachment(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data.get("kind") == GroupWelcomeKind.LINK:
            return {"title": data["link_title"], "url": data["link_url"], "desc": data["link_desc"]}
        if data.get("kind") == GroupWelcomeKind.MINIPROGRAM:
            return {"title": data["mini_title"], "appid": data["mini_appid"], "page": data["mini_page"]}
        return {}


def _initial(template: GroupWelcomeTemplate) -> dict[str, Any]:
    att = template.attachment or {}
    initial: dict[str, Any] = {
        "name": template.name,
        "account": template.account,
        "text": template.text,
        "kind": template.kind,
        "material": template.material,
    }
    if template.kind == GroupWelcomeKind.LINK:
        initial.update(link_title=att.get("title"), link_url=att.get("url"), link_desc=att.get("desc"))
    elif template.kind == GroupWelcomeKind.MINIPROGRAM:
        initial.update(mini_title=att.get("title"), mini_appid=att.get("appid"), mini_page=att.get("page"))
    return initial


@console_view(OPERATOR_AND_MANAGER)
def group_welcome_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    templates = actor.scope(GroupWelcomeTemplate.objects.select_related("account", "material"))
    state = request.GET.get("state", "")
    if state in PushState.values:
        templates = templates.filter(push_state=state)
    page = page_of(request, templates.defer("material__data"))
    context = {
        "page": page,
        "states": PushState.choices,
        "state": state,
        "query": query_without_page(request),
    }
    return render(request, "channels/wecom/group_welcome_list.html", context)


@console_view(OPERATOR_AND_MANAGER)
def group_welcome_edit(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    actor = request.actor_obj
    template = get_object_or_404(actor.scope(GroupWelcomeTemplate.objects.all()), pk=pk) if pk else None
    initial = _initial(template) if template is not None else {}
    form = GroupWelcomeForm(request.POST or None, actor=actor, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = group_welcome_save(
                organization=actor.organization,
                account=data["account"],
                name=data["name"],
                text=data["text"],
                kind=data["kind"] or GroupWelcomeKind.NONE,
                material=data["material"],
                attachment=form.attachment(),
                template=template,
                by=actor.staff,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if saved.push_state == PushState.OK:
                messages.success(request, _("已保存并同步到企业微信"))
            else:
                messages.error(
                    request,
                    _("已保存，但企业微信拒绝了：%(reason)s。请修改后重新保存。") % {"reason": saved.push_error},
                )
            return redirect("channels:group_welcome_list")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "channels/wecom/group_welcome_form.html",
        {"form": form, "template": template, "has_images": form.fields["material"].queryset.exists()},  # type: ignore[attr-defined]
        status=status,
    )


@console_view(OPERATOR_AND_MANAGER)
@require_POST
def group_welcome_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(request.actor_obj.scope(GroupWelcomeTemplate.objects.select_related("account")), pk=pk)
    try:
        group_welcome_delete(template=template)
    except PlatformError as exc:
        messages.error(request, _("企业微信拒绝删除：%(code)s %(reason)s") % {"code": exc.code, "reason": exc.message})
    else:
        messages.success(request, _("已删除入群欢迎语「%(name)s」") % {"name": template.name})
    return redirect("channels:group_welcome_list")
