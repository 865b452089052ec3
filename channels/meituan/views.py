"""The store staff's redemption page (phone-sized): look up a voucher, confirm, then show the store's
渠道活码 so the customer adds WeCom right there."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from channels.meituan.services import (
    RedemptionRefused,
    meituan_account_for,
    recent_redemptions,
    redemption_consume,
    redemption_prepare,
    store_contact_way,
)
from channels.wecom.lead_codes import lead_code_issue
from contacts.access import ALL_ROLES, Actor, AuthenticatedHttpRequest, console_view
from contacts.models import Store


def _store(actor: Actor, request: HttpRequest) -> Store | None:
    """The staff member's own store; managers/operators may pick one of theirs (?store=)."""
    if actor.staff.store_id and actor.is_store_staff:
        return actor.staff.store
    wanted = request.POST.get("store") or request.GET.get("store")
    stores = actor.scope(Store.objects.filter(is_active=True))
    if wanted and str(wanted).isdigit():
        return stores.filter(pk=int(wanted)).first()
    return actor.staff.store if actor.staff.store_id else stores.first()


@console_view(ALL_ROLES)
def redeem(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    store = _store(actor, request)
    account = meituan_account_for(organization=actor.organization, store=store) if store else None
    context: dict[str, Any] = {
        "store": store,
        "stores": [] if actor.is_store_staff else list(actor.scope(Store.objects.filter(is_active=True))),
        "account": account,
        "step": "lookup",
        "error": "",
        "recent": recent_redemptions(actor=actor),
    }
    if store is None or account is None:
        context["error"] = _("本门店尚未连接美团：请店长在“渠道账号”中连接美团门店并设为本门店后再核销")
        return render(request, "channels/meituan/redeem.html", context)
    if request.method != "POST":
        return render(request, "channels/meituan/redeem.html", context)
    action = request.POST.get("action")
    code = request.POST.get("code", "").strip()
    context["code"] = code
    try:
        if action == "prepare":
            context["voucher"] = redemption_prepare(account=account, receipt_code=code)
            # The request id is born with the confirmation screen: a double tap or a browser retry of
            # the same screen sends the same id, and Meituan + our unique row consume only once.
            context["request_id"] = uuid.uuid4().hex
            context["step"] = "confirm"
        elif action == "consume":
            request_id = request.POST.get("request_id", "")
            if not request_id or len(request_id) > 64:
                raise RedemptionRefused(_("核销请求已失效：请重新输入券码查询"))
            count = int(request.POST.get("count") or 1)
            redemption = redemption_consume(
                account=account,
                staff=actor.staff,
                store=store,
                request_id=request_id,
                receipt_code="".join(ch for ch in code if ch.isdigit()),
                count=count,
                phone=request.POST.get("phone", "").strip(),
            )
            base = store_contact_way(organization=actor.organization, store=store)
            personal = (
                lead_code_issue(base=base, customer=redemption.customer, redemption=redemption)
                if base is not None and redemption.customer is not None
                else None
            )
            context.update(
                step="done",
                redemption=redemption,
                contact_way=personal or base,
                recent=recent_redemptions(actor=actor),
            )
    except RedemptionRefused as exc:
        context["error"] = exc.hint
        if action == "consume":
            context.update(
                step="confirm",
                request_id=request.POST.get("request_id", ""),
                retry=True,
                count=request.POST.get("count") or 1,
            )
    except ValueError:
        context["error"] = _("数量必须是数字")
    return render(request, "channels/meituan/redeem.html", context, status=400 if context["error"] else 200)
