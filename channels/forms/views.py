"""Pages of the H5 lead forms: the form admin (operators and managers) and the public page ``/f/<slug>/``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie

from channels.forms.services import FormRefused, form_contact_way, form_rate_check, form_submit, lead_form_save
from channels.models import ContactWay, ContactWayKind, LeadForm
from channels.wecom.lead_codes import lead_code_issue
from contacts.access import OPERATOR_AND_MANAGER, Actor, AuthenticatedHttpRequest, console_view
from contacts.forms import choices_from
from contacts.models import Store, Tag

PAGE_SIZE = 30


# ---- lead forms admin ---------------------------------------------------------------------------


class LeadFormForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = LeadForm
        fields = [
            "title",
            "slug",
            "intro",
            "store",
            "contact_way",
            "tags",
            "consent_text",
            "consent_version",
            "consent_required",
            "success_text",
            "is_active",
        ]
        widgets = {
            "intro": forms.Textarea(attrs={"rows": 3}),
            "consent_text": forms.Textarea(attrs={"rows": 3}),
            "tags": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {"slug": gettext_lazy("小写字母、数字和短横线，组成公开链接 /f/<标识>/，创建后请勿随意修改")}

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_from(self, "store", actor.scope(Store.objects.all()))
        ways = ContactWay.objects.filter(kind=ContactWayKind.CONTACT, is_active=True)
        choices_from(self, "contact_way", actor.scope(ways))
        choices_from(self, "tags", actor.scope(Tag.objects.select_related("group")))
        self.fields["contact_way"].help_text = _("提交成功后展示此渠道活码；不选则展示门店的活码")


def _scoped_form(actor: Actor, pk: int) -> LeadForm:
    form = actor.scope(LeadForm.objects.all()).filter(pk=pk).first()
    if form is None:
        raise Http404(_("表单不存在，或不属于你可管理的门店"))
    return form


@console_view(OPERATOR_AND_MANAGER)
def leadform_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    qs = actor.scope(LeadForm.objects.select_related("store", "contact_way")).annotate(
        lead_count=Count("leads"), customer_count=Count("leads__customer")
    )
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(slug__icontains=q))
    page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "channels/forms/form_list.html",
        {
            "page": page,
            "rows": page.object_list,
            "q": q,
            "query": urlencode({"q": q} if q else {}),
            "base_url": request.build_absolute_uri("/f/"),
        },
    )


@console_view(OPERATOR_AND_MANAGER)
def leadform_edit(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    actor = request.actor_obj
    instance = _scoped_form(actor, pk) if pk else LeadForm(organization=actor.organization)
    form = LeadFormForm(request.POST or None, instance=instance, actor=actor)
    if request.method == "POST" and form.is_valid():
        obj = form.save(commit=False)
        if not actor.can_access_store(obj.store_id):
            form.add_error("store", _("只能为你管理的门店创建表单"))
        else:
            lead_form_save(form=obj, by=actor.staff, tags=list(form.cleaned_data["tags"]))
            messages.success(request, _("表单已保存，公开链接：/f/%(slug)s/") % {"slug": obj.slug})
            return redirect("channels:leadform_list")
    return render(request, "channels/forms/form_edit.html", {"form": form, "instance": instance})


# ---- public H5 form -----------------------------------------------------------------------------


def _client_ip(request: HttpRequest) -> str:
    """The visitor's IP. Behind N trusted reverse proxies (``TRUSTED_PROXY_HOPS``) it is the N-th
    address from the right of X-Forwarded-For; otherwise every visitor would share the proxy's bucket."""
    hops = int(getattr(settings, "TRUSTED_PROXY_HOPS", 0) or 0)
    if hops > 0:
        forwarded = [p.strip() for p in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


@never_cache
@ensure_csrf_cookie
@csrf_protect
def form_public(request: HttpRequest, slug: str) -> HttpResponse:
    """The public lead page: explicit consent, rate limited per IP, ends with the channel QR code."""
    lead_form = LeadForm.objects.select_related("organization", "store", "contact_way").filter(slug=slug).first()
    if lead_form is None or not lead_form.is_active:
        return render(request, "channels/forms/public_gone.html", status=404)
    context: dict[str, Any] = {"lead_form": lead_form, "values": {}, "error": ""}
    if request.method == "POST":
        name, phone = request.POST.get("name", ""), request.POST.get("phone", "")
        consent = request.POST.get("consent") == "on"
        context["values"] = {"name": name, "phone": phone, "consent": consent}
        decision = form_rate_check(form=lead_form, ip=_client_ip(request))
        if not decision.allowed:
            context["error"] = _("提交过于频繁，请 %(n)s 秒后再试") % {"n": decision.retry_after}
            response = render(request, "channels/forms/public_form.html", context, status=429)
            response["Retry-After"] = str(decision.retry_after)
            return response
        try:
            lead = form_submit(form=lead_form, name=name, phone=phone, consent=consent)
        except FormRefused as exc:
            context["error"] = str(exc)
            return render(request, "channels/forms/public_form.html", context, status=400)
        base = form_contact_way(lead_form)
        # A code of this lead's own, so the WeCom add that follows joins the lead (else the shared one).
        personal = (
            lead_code_issue(base=base, customer=lead.customer, lead=lead)
            if base is not None and lead.customer is not None
            else None
        )
        context["contact_way"] = personal or base
        return render(request, "channels/forms/public_done.html", context)
    return render(request, "channels/forms/public_form.html", context)
