"""Manual merge of two customer records and the undo of a merge (both from the profile)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contacts import services
from contacts.access import OPERATOR_AND_MANAGER, AuthenticatedHttpRequest, console_view
from contacts.views.customers import scoped_customer


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def customer_merge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Merge the customer ``other`` into this one, or this one into ``other`` (``keep=other``)."""
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    raw = (request.POST.get("other") or "").strip().lstrip("#")
    if not raw.isdigit():
        messages.error(request, _("请填写要合并的另一位客户的编号（客户画像地址中的数字）"))
        return redirect(reverse("contacts:customer_detail", args=[customer.pk]))
    other = int(raw)
    keep_other = request.POST.get("keep") == "other"
    survivor_id, absorbed_id = (other, customer.pk) if keep_other else (customer.pk, other)
    try:
        survivor = services.customer_merge_manual(
            actor=actor, survivor_id=survivor_id, absorbed_id=absorbed_id, reason=request.POST.get("reason") or ""
        )
    except services.ContactsError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("contacts:customer_detail", args=[customer.pk]))
    messages.success(
        request,
        _("已合并：客户 #%(absorbed)s 的身份、跟进、标签、订单和动态都移到了这里；30 天内可撤销")
        % {"absorbed": absorbed_id},
    )
    return redirect(reverse("contacts:customer_detail", args=[survivor.pk]))


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def customer_merge_undo(request: AuthenticatedHttpRequest, pk: int, merge_id: int) -> HttpResponse:
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("请在确认框中确认撤销"))
        return redirect(reverse("contacts:customer_detail", args=[customer.pk]))
    try:
        _survivor, restored = services.customer_merge_undo(actor=actor, merge_id=merge_id)
    except services.ContactsError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("contacts:customer_detail", args=[customer.pk]))
    messages.success(request, _("已撤销合并：客户 #%(id)s 已恢复为合并前的样子") % {"id": restored.pk})
    return redirect(reverse("contacts:customer_detail", args=[customer.pk]))
