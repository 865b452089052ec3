"""The staff sidebar: a phone-sized page store staff open from WeCom's chat toolbar (or any browser).

WeCom's JS-SDK (``getCurExternalContact``) gives the page the ``external_userid`` of the person in
the chat; it is resolved through :class:`~contacts.models.Identity`, scoped to the signed-in actor, so
store staff never open another store's customer.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from contacts import selectors, services
from contacts.access import ALL_ROLES, AuthenticatedHttpRequest, console_view
from contacts.models import Customer, Platform
from contacts.views.customers import display_phone, profile_context, scoped_customer, search_q

SEARCH_LIMIT = 20


@console_view(ALL_ROLES)
def sidebar(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    external_userid = (request.GET.get("external_userid") or "").strip()
    customer_id = request.GET.get("customer") or ""
    q = (request.GET.get("q") or "").strip()
    context: dict[str, Any] = {
        "q": q,
        "external_userid": external_userid,
        "extensions": services.sidebar_extensions(),
    }
    status = 200
    customer: Customer | None = None
    if external_userid:
        customer = selectors.customer_by_identity(actor=actor, platform=Platform.WECOM, external_id=external_userid)
        if customer is None:
            context["error"] = _("找不到这位客户：他不在你可查看的门店，或尚未同步到系统。可以用姓名或手机号搜索。")
            status = 404
    elif customer_id.isdigit():
        customer = scoped_customer(actor, int(customer_id))
    elif q:
        results = (
            actor.scope(Customer.objects.filter(search_q(q)))
            .select_related("home_store")
            .order_by("-created_at")[:SEARCH_LIMIT]
        )
        context["results"] = [{"customer": c, "phone": display_phone(actor, c)} for c in results]
    if customer is not None:
        context.update(profile_context(actor, customer, timeline_page="1", timeline_size=5, sections=False))
        # Higher layers' sidebar sections (任务宝 enrolment): their context keys are their own.
        context["sidebar_sections"] = []
        for template_name, provider in services.sidebar_sections():
            section = provider(actor, customer, request.GET)
            if section is not None:
                context["sidebar_sections"].append(template_name)
                context.update(section)
    return render(request, "sidebar/sidebar.html", context, status=status)
