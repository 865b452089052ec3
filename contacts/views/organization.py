"""Organization settings for operators: the brand, stores, staff logins and roles, API tokens, and the
audit log. Pages parse a form and call one service (``contacts.services.organization``); every change
is audited there. Look-ups go through ``actor.scope`` like every other page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts import selectors, services
from contacts.access import OPERATOR_ONLY, Actor, AuthenticatedHttpRequest, console_view, role_of
from contacts.models import ApiToken, AuditAction, AuditEntry, Organization, Role, Staff, Store
from contacts.services.registry import ContactsError
from contacts.settings_forms import (
    AuditFilterForm,
    BrandForm,
    LoginGrantForm,
    RoleForm,
    StaffStoresForm,
    StoreForm,
    TokenForm,
)

PAGE_SIZE = 25


def _query(request: AuthenticatedHttpRequest) -> str:
    return urlencode([(k, str(v)) for k, v in request.GET.items() if k != "page" and v])


def _page(request: AuthenticatedHttpRequest, queryset: QuerySet[Any]) -> Any:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


# --- the brand -----------------------------------------------------------------------------------


@console_view(OPERATOR_ONLY)
def settings_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    org = actor.organization
    form = BrandForm(request.POST or None, instance=org)
    if request.method == "POST" and form.is_valid():
        try:
            services.brand_settings_update(organization=org, by=actor.staff, **form.cleaned_data)
        except ContactsError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("品牌设置已保存；生命周期规则变更后，客户阶段会在后台重新计算"))
            return redirect(reverse("contacts:settings"))
    counts = actor.scope(Store.objects.all()).aggregate(total=Count("id"), open=Count("id", filter=Q(is_active=True)))
    context = {
        "form": form,
        "store_counts": counts,
        "staff_total": actor.scope(Staff.objects.all()).count(),
        "token_live": actor.scope(
            ApiToken.objects.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
        ).count(),
    }
    return render(request, "contacts/settings/home.html", context)


# --- stores --------------------------------------------------------------------------------------


@console_view(OPERATOR_ONLY)
def store_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    form = StoreForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                store = services.store_create(organization=actor.organization, by=actor.staff, **form.cleaned_data)
            except ContactsError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("门店 %(name)s 已创建") % {"name": store.name})
                return redirect(reverse("contacts:settings_stores"))
        else:
            messages.error(request, _("请检查门店信息：编码和名称必填，编码最多 50 字，名称最多 100 字"))
    q = (request.GET.get("q") or "").strip()[:100]
    status = request.GET.get("status") or ""
    stores = selectors.store_filter(actor.scope(Store.objects.all()), q=q, status=status).annotate(
        staff_count=Count("staff", filter=Q(staff__is_active=True), distinct=True)
    )
    context = {
        "form": form,
        "page": _page(request, stores.order_by("code")),
        "query": _query(request),
        "q": q,
        "status": status,
    }
    return render(request, "contacts/settings/stores.html", context)


@console_view(OPERATOR_ONLY)
def store_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    store = get_object_or_404(actor.scope(Store.objects.all()), pk=pk)
    initial = {f: getattr(store, f) for f in ("code", "name", "city", "address")}
    form = StoreForm(request.POST or None, initial=initial)
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action in ("close", "reopen"):
                services.store_set_active(store=store, by=actor.staff, active=action == "reopen")
                messages.success(request, _("门店已停用") if action == "close" else _("门店已重新启用"))
                return redirect(reverse("contacts:settings_store", args=[store.pk]))
            if form.is_valid():
                services.store_update(store=store, by=actor.staff, **form.cleaned_data)
                messages.success(request, _("门店已保存"))
                return redirect(reverse("contacts:settings_stores"))
            messages.error(request, _("请检查门店信息：编码和名称必填，编码最多 50 字，名称最多 100 字"))
        except ContactsError as exc:
            messages.error(request, str(exc))
    return render(request, "contacts/settings/store_edit.html", {"store": store, "form": form})


# --- staff ---------------------------------------------------------------------------------------


def _role_label(staff: Staff) -> str:
    if staff.user is None:
        return ""
    role = role_of(staff.user)
    return str(role.label) if role else ""


@console_view(OPERATOR_ONLY)
def staff_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    staff = actor.scope(Staff.objects.select_related("store", "user")).prefetch_related("user__groups")
    q = (request.GET.get("q") or "").strip()[:100]
    store = request.GET.get("store") or ""
    login = request.GET.get("login") or ""
    role = request.GET.get("role") or ""
    staff = selectors.staff_filter(
        staff, q=q, store=int(store) if store.isdigit() and len(store) < 10 else None, login=login, role=role
    )
    page = _page(request, staff.order_by("store__code", "name", "id"))
    rows = [{"staff": s, "role": _role_label(s)} for s in page]
    context = {
        "page": page,
        "rows": rows,
        "query": _query(request),
        "stores": actor.scope(Store.objects.all()).order_by("code"),
        "filters": {"q": q, "store": store, "login": login, "role": role},
        "roles": Role.choices,
    }
    return render(request, "contacts/settings/staff.html", context)


def _staff_action(request: AuthenticatedHttpRequest, actor: Actor, member: Staff) -> str | None:
    """Apply one POSTed action to ``member``; returns the password-set link to show, if one was made."""
    action = request.POST.get("action", "")
    if action == "grant":
        grant = LoginGrantForm(request.POST)
        if not grant.is_valid():
            raise ContactsError(_("请填写登录账号（最多 150 个字符）并选择角色"))
        services.staff_login_grant(
            staff=member, by=actor.staff, username=grant.cleaned_data["username"], role=Role(grant.cleaned_data["role"])
        )
        messages.success(request, _("已开通登录账号：请把下方的设置密码链接发给该员工"))
        action = "password_link"
        member.refresh_from_db()
    if action == "password_link":
        uid, token = services.staff_password_link(staff=member, by=actor.staff)
        return request.build_absolute_uri(reverse("contacts:password_set", args=[uid, token]))
    if action == "role":
        role_form = RoleForm(request.POST)
        if not role_form.is_valid():
            raise ContactsError(_("请选择角色"))
        services.staff_role_change(staff=member, by=actor.staff, role=Role(role_form.cleaned_data["role"]))
        messages.success(request, _("角色已更新"))
    elif action == "stores":
        stores_form = StaffStoresForm(request.POST, stores=actor.scope(Store.objects.all()))
        if not stores_form.is_valid():
            raise ContactsError(_("请选择本企业的门店"))
        services.staff_stores_set(
            staff=member,
            by=actor.staff,
            store=stores_form.cleaned_data["store"],
            managed_stores=stores_form.cleaned_data["managed_stores"],
        )
        messages.success(request, _("门店已更新"))
    elif action == "revoke":
        services.staff_login_revoke(staff=member, by=actor.staff)
        messages.success(request, _("登录账号已停用，该员工的 API 令牌也已吊销"))
    elif action != "password_link":
        raise ContactsError(_("未知操作：请刷新页面后重试"))
    return None


@console_view(OPERATOR_ONLY)
def staff_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    member = get_object_or_404(actor.scope(Staff.objects.select_related("store", "user")), pk=pk)
    password_link = None
    if request.method == "POST":
        try:
            password_link = _staff_action(request, actor, member)
        except ContactsError as exc:
            messages.error(request, str(exc))
        if password_link is None:
            return redirect(reverse("contacts:settings_staff_edit", args=[member.pk]))
        member.refresh_from_db()
    role = role_of(member.user) if member.user else None
    context = {
        "member": member,
        "role_label": _role_label(member),
        "grant_form": LoginGrantForm(initial={"username": member.wecom_userid, "role": Role.STORE_STAFF.value}),
        "role_form": RoleForm(initial={"role": role.value if role else Role.STORE_STAFF.value}),
        "stores_form": StaffStoresForm(
            stores=actor.scope(Store.objects.all()).order_by("code"),
            initial={
                "store": member.store_id,
                "managed_stores": list(member.managed_stores.values_list("id", flat=True)),
            },
        ),
        "password_link": password_link,
        "is_self": member.pk == actor.staff.pk,
        "tokens": member.api_tokens.order_by("-created_at")[:10],
    }
    return render(request, "contacts/settings/staff_edit.html", context)


class PasswordSetView(PasswordResetConfirmView):
    """The one-time page where a staff member sets their console password (the link an operator
    copied from the staff page). Django's reset tokens: void once used or after the timeout."""

    template_name = "registration/password_set.html"
    success_url = reverse_lazy("login")
    title = gettext_lazy("设置登录密码")

    def form_valid(self, form: Any) -> HttpResponse:
        messages.success(self.request, _("密码已设置，请用新密码登录"))
        return super().form_valid(form)


# --- API tokens ----------------------------------------------------------------------------------


@console_view(OPERATOR_ONLY)
def token_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    with_login = actor.scope(Staff.objects.filter(is_active=True, user__isnull=False, user__is_active=True)).order_by(
        "name"
    )
    form = TokenForm(request.POST or None, staff=with_login)
    secret = None
    if request.method == "POST":
        if form.is_valid():
            try:
                _token, secret = services.api_token_create(by=actor.staff, **form.cleaned_data)
            except ContactsError as exc:
                messages.error(request, str(exc))
            else:
                form = TokenForm(staff=with_login)
        else:
            messages.error(request, _("请选择员工、写明用途，并把有效期设为 1 到 365 天"))
    tokens = actor.scope(ApiToken.objects.select_related("staff", "created_by"))
    state = request.GET.get("state") or ""
    now = timezone.now()
    if state == "live":
        tokens = tokens.filter(revoked_at__isnull=True, expires_at__gt=now)
    elif state == "ended":
        tokens = tokens.filter(Q(revoked_at__isnull=False) | Q(expires_at__lte=now))
    context = {
        "form": form,
        "secret": secret,
        "page": _page(request, tokens.order_by("-created_at", "-id")),
        "query": _query(request),
        "state": state,
        "now": now,
    }
    # The secret is in this response only: never cached, never in a redirect or a session.
    response = render(request, "contacts/settings/tokens.html", context)
    response["Cache-Control"] = "no-store"
    return response


@console_view(OPERATOR_ONLY)
def token_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    actor = request.actor_obj
    token = get_object_or_404(actor.scope(ApiToken.objects.all()), pk=pk)
    if request.method == "POST" and services.api_token_revoke(token=token, by=actor.staff):
        messages.success(request, _("令牌已吊销，使用它的系统将立即无法访问"))
    return redirect(reverse("contacts:settings_tokens"))


# --- the audit log -------------------------------------------------------------------------------


@console_view(OPERATOR_ONLY)
def audit_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    staff_names = dict(actor.scope(Staff.objects.all()).values_list("id", "name"))
    actors = sorted(staff_names.items(), key=lambda kv: kv[1])
    form = AuditFilterForm(request.GET or None, actors=actors)
    entries = actor.scope(AuditEntry.objects.all())
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["actor"]:
            entries = entries.filter(actor_staff_id=data["actor"])
        tz = timezone.get_current_timezone()
        if data["start"]:
            entries = entries.filter(at__gte=dt.datetime.combine(data["start"], dt.time.min, tzinfo=tz))
        if data["end"]:
            entries = entries.filter(
                at__lt=dt.datetime.combine(data["end"] + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
            )
    page = _page(request, entries.order_by("-at", "-id"))
    labels = dict(AuditAction.choices)
    rows = [
        {
            "entry": e,
            "action": labels.get(e.action, e.action),
            "actor": staff_names.get(
                e.actor_staff_id or 0, _("系统") if e.actor_staff_id is None else f"#{e.actor_staff_id}"
            ),
            "target": _target_label(e),
            "fields": _fields_label(e),
        }
        for e in page
    ]
    context = {"form": form, "page": page, "rows": rows, "query": _query(request)}
    return render(request, "contacts/settings/audit.html", context)


TARGET_LABELS = {
    "store": gettext_lazy("门店"),
    "staff": gettext_lazy("员工"),
    "api_token": gettext_lazy("API 令牌"),
    "organization": gettext_lazy("品牌"),
    "customer": gettext_lazy("客户"),
    "campaign": gettext_lazy("活动"),
    "channel_account": gettext_lazy("渠道账号"),
    "customer_list": gettext_lazy("客户名单"),
}


def _target_label(entry: AuditEntry) -> str:
    kind = TARGET_LABELS.get(entry.target_type, entry.target_type)
    return f"{kind} #{entry.target_id}" if entry.target_id else str(kind)


FIELD_LABELS = {
    "role": gettext_lazy("角色"),
    "status": gettext_lazy("状态"),
    "is_active": gettext_lazy("状态"),
    "user": gettext_lazy("登录账号"),
    "user.is_active": gettext_lazy("登录账号"),
    "password_link": gettext_lazy("设置密码链接"),
    "store": gettext_lazy("所属门店"),
    "managed_stores": gettext_lazy("管理的门店"),
    "revoked_at": gettext_lazy("吊销时间"),
    "code": gettext_lazy("门店编码"),
    "city": gettext_lazy("城市"),
    "address": gettext_lazy("地址"),
    "identities": gettext_lazy("平台身份"),
    "follows": gettext_lazy("好友关系"),
    "tags": gettext_lazy("标签"),
    "groups": gettext_lazy("客户群"),
    "notes": gettext_lazy("备注"),
    "timeline": gettext_lazy("时间线"),
    "orders": gettext_lazy("订单"),
    "leads": gettext_lazy("线索"),
    "secret": gettext_lazy("密钥"),
    "token": gettext_lazy("回调令牌"),
    "aes_key": gettext_lazy("加密密钥"),
    # The filters a customer export used (their names only).
    "q": gettext_lazy("搜索"),
    "tag": gettext_lazy("标签"),
    "source_channel": gettext_lazy("来源渠道"),
    "lifecycle": gettext_lazy("生命周期"),
    "consent": gettext_lazy("营销授权"),
}


def _fields_label(entry: AuditEntry) -> str:
    """The changed fields by their labels (model fields by their verbose names); the rest counted."""
    model = {"organization": Organization, "store": Store}.get(entry.target_type)
    known, unknown = [], 0
    for name in entry.fields:
        label: Any = FIELD_LABELS.get(name)
        if label is None and model is not None:
            try:
                label = getattr(model._meta.get_field(name), "verbose_name", None)
            except FieldDoesNotExist:  # not a model field: counted below
                label = None
        if label is None:
            unknown += 1
        else:
            known.append(str(label))
    text = "、".join(dict.fromkeys(known))
    if unknown:
        text = (text + " " if text else "") + _("另 %(n)s 项") % {"n": unknown}
    return text
