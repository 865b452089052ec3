"""Tagging rules (自动打标签): list, create, edit, run now, delete — under 客户 › 标签."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from contacts import services
from contacts.access import OPERATOR_AND_MANAGER, OPERATOR_ONLY, Actor, AuthenticatedHttpRequest, console_view
from contacts.models import Segment, Tag, TagRule

PAGE_SIZE = 30


class TagRuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("规则名称"), max_length=100)
    segment = forms.TypedChoiceField(label=gettext_lazy("满足分群"), coerce=int)
    tag = forms.TypedChoiceField(label=gettext_lazy("打上标签"), coerce=int)
    remove_unmatched = forms.BooleanField(
        label=gettext_lazy("不再满足时移除标签"),
        required=False,
        initial=True,
        help_text=gettext_lazy("只移除本规则打上的标签；员工手动打的、导入的或企业微信同步的标签不受影响"),
    )
    is_active = forms.BooleanField(label=gettext_lazy("启用"), required=False, initial=True)

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        segment_field = cast(forms.TypedChoiceField, self.fields["segment"])
        tag_field = cast(forms.TypedChoiceField, self.fields["tag"])
        segment_field.choices = list(actor.scope(Segment.objects.order_by("name")).values_list("pk", "name"))
        tag_field.choices = [
            (t.pk, f"{t.group.name} · {t.name}")
            for t in actor.scope(Tag.objects.select_related("group")).order_by("group__order", "order", "pk")
        ]


def _initial(rule: TagRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "segment": rule.segment_id,
        "tag": rule.tag_id,
        "remove_unmatched": rule.remove_unmatched,
        "is_active": rule.is_active,
    }


def _save(request: AuthenticatedHttpRequest, form: TagRuleForm, rule: TagRule | None) -> TagRule | None:
    if not form.is_valid():
        return None
    try:
        saved = services.tag_rule_save(actor=request.actor_obj, rule=rule, **_args(form))
    except services.ContactsError as exc:
        form.add_error(None, str(exc))
        return None
    return saved


def _args(form: TagRuleForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "segment_id": data["segment"],
        "tag_id": data["tag"],
        "remove_unmatched": data["remove_unmatched"],
        "is_active": data["is_active"],
    }


@console_view(OPERATOR_AND_MANAGER)
def tag_rule_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    form = TagRuleForm(request.POST or None, actor=actor)
    if request.method == "POST":
        actor.require_role(OPERATOR_ONLY)
        if _save(request, form, None) is not None:
            messages.success(request, _("规则已创建，正在为符合条件的客户打标签"))
            return redirect(reverse("contacts:tag_rule_list"))
    rules = actor.scope(TagRule.objects.select_related("segment", "tag__group", "created_by"))
    page = Paginator(rules.order_by("name", "pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "form": form, "can_edit": actor.is_operator}
    return render(request, "contacts/tag_rules.html", context)


@console_view(OPERATOR_ONLY)
def tag_rule_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    rule = get_object_or_404(actor.scope(TagRule.objects.all()), pk=pk)
    form = TagRuleForm(request.POST or None, actor=actor, initial=_initial(rule))
    if request.method == "POST" and _save(request, form, rule) is not None:
        messages.success(request, _("规则已保存"))
        return redirect(reverse("contacts:tag_rule_list"))
    return render(request, "contacts/tag_rule_edit.html", {"form": form, "rule": rule})


@require_POST
@console_view(OPERATOR_ONLY)
def tag_rule_run(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(request.actor_obj.scope(TagRule.objects.all()), pk=pk)
    if not rule.is_active:
        messages.error(request, _("规则已停用：启用后才能执行"))
    else:
        added, removed = services.tag_rule_apply(rule=rule)
        messages.success(
            request, _("已执行：新打标签 %(added)s 位，移除 %(removed)s 位") % {"added": added, "removed": removed}
        )
    return redirect(reverse("contacts:tag_rule_list"))


@require_POST
@console_view(OPERATOR_ONLY)
def tag_rule_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(request.actor_obj.scope(TagRule.objects.all()), pk=pk)
    services.tag_rule_delete(rule=rule)
    messages.success(request, _("规则已删除；它打过的标签保留在客户身上"))
    return redirect(reverse("contacts:tag_rule_list"))
