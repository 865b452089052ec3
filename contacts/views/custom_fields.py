"""Custom customer fields: the operator's screen to define them, and editing a customer's profile."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contacts import services
from contacts.access import ALL_ROLES, OPERATOR_ONLY, Actor, AuthenticatedHttpRequest, console_view
from contacts.forms import CustomerEditForm, CustomFieldForm
from contacts.models import Customer, CustomField
from contacts.views.customers import profile_context, scoped_customer


def custom_fields_of(actor: Actor) -> list[CustomField]:
    return list(actor.scope(CustomField.objects.all()))


def _scoped_field(actor: Actor, pk: int) -> CustomField:
    field = actor.scope(CustomField.objects.all()).filter(pk=pk).first()
    if field is None:
        raise Http404(_("字段不存在或已删除"))
    return field


@console_view(OPERATOR_ONLY)
def custom_field_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    form = CustomFieldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.custom_field_create(
                organization=actor.organization,
                key=data["key"],
                label=data["label"],
                kind=data["kind"],
                options=form.option_list(),
                required=data["required"],
                show_on_profile=data["show_on_profile"],
                show_in_sidebar=data["show_in_sidebar"],
                order=data["order"] or 0,
            )
        except services.ContactsError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("字段已创建"))
            return redirect("contacts:custom_field_list")
    fields = custom_fields_of(actor)
    return render(request, "contacts/custom_fields.html", {"form": form, "fields": fields})


@console_view(OPERATOR_ONLY)
def custom_field_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    field = _scoped_field(actor, pk)
    form = CustomFieldForm(request.POST or None, instance=field)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.custom_field_update(
                field=field,
                label=data["label"],
                options=form.option_list(),
                required=data["required"],
                show_on_profile=data["show_on_profile"],
                show_in_sidebar=data["show_in_sidebar"],
                order=data["order"] or 0,
            )
        except services.ContactsError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("字段已保存"))
            return redirect("contacts:custom_field_list")
    return render(request, "contacts/custom_field_edit.html", {"form": form, "field": field})


@require_POST
@console_view(OPERATOR_ONLY)
def custom_field_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    field = _scoped_field(request.actor_obj, pk)
    touched = services.custom_field_delete(field=field)
    messages.success(request, _("字段已删除，%(n)s 位客户的该字段值已清除") % {"n": touched})
    return redirect("contacts:custom_field_list")


def edit_form(actor: Actor, customer: Customer, data: Any = None) -> CustomerEditForm:
    fields = custom_fields_of(actor)
    attributes = customer.attributes or {}
    initial = {
        "name": customer.name,
        "gender": customer.gender,
        "birthday": customer.birthday,
        **{f"cf_{f.key}": attributes.get(f.key) for f in fields},
    }
    return CustomerEditForm(data, fields=fields, initial=initial)


@console_view(ALL_ROLES)
def customer_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Edit name, phone, gender, birthday and custom fields of a customer the actor may see."""
    actor = request.actor_obj
    customer = scoped_customer(actor, pk)
    if customer.erased_at is not None:
        messages.error(request, _("这位客户的个人信息已应本人要求删除，不能再修改资料"))
        return redirect("contacts:customer_detail", pk=customer.pk)
    form = edit_form(actor, customer, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        phone = (data.get("phone") or "").strip()
        try:
            changed = services.customer_update(
                customer=customer,
                by=actor.staff,
                name=data["name"],
                gender=data["gender"],
                birthday=data["birthday"],
                values=form.custom_values(),
                **({"phone": phone} if phone else {}),
            )
        except services.ContactsError as exc:
            form.add_error(None, str(exc))
        else:
            if changed:
                messages.success(request, _("已保存：%(what)s") % {"what": "、".join(changed)})
            else:
                messages.info(request, _("没有改动"))
            return redirect(reverse("contacts:customer_detail", args=[customer.pk]))
    context = profile_context(actor, customer, timeline_page=None, timeline_size=5, params=request.GET)
    context["edit_form"] = form
    return render(request, "contacts/customer_edit.html", context, status=400 if form.errors else 200)
