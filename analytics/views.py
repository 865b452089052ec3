"""Report pages under /reports/ (charts + tables + CSV/.xlsx export) and the order import page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from analytics import imports, reports
from analytics import tasks as analytics_tasks
from analytics.models import Order, OrderImport, OrderSource, OrderStatus
from analytics.registry import campaign_names
from analytics.reports import exports
from analytics.reports.view_model import Report
from contacts import selectors as contact_selectors
from contacts import services as contact_services
from contacts.access import ALL_ROLES, OPERATOR_AND_MANAGER, Actor, AuthenticatedHttpRequest, console_view
from contacts.models import SourceChannel, Staff, Store

# (name, label, roles)
TABS = [
    ("overview", gettext_lazy("概览"), ALL_ROLES),
    ("ltv", gettext_lazy("LTV"), OPERATOR_AND_MANAGER),
    ("repurchase", gettext_lazy("复购"), OPERATOR_AND_MANAGER),
    ("cohorts", gettext_lazy("同期群"), OPERATOR_AND_MANAGER),
    ("rfm", gettext_lazy("RFM 分层"), OPERATOR_AND_MANAGER),
    ("funnel", gettext_lazy("转化漏斗"), OPERATOR_AND_MANAGER),
    ("staff", gettext_lazy("员工"), ALL_ROLES),
    ("churn", gettext_lazy("流失"), ALL_ROLES),
    ("predict", gettext_lazy("预测"), OPERATOR_AND_MANAGER),
]
ROLES = {name: roles for name, _label, roles in TABS}
DEFAULT_DAYS = {
    "overview": 90,
    "ltv": 365,
    "repurchase": 365,
    "cohorts": 365,
    "rfm": 365,
    "funnel": 180,
    "staff": 30,
    "churn": 30,
    "predict": 365,
}


def _tabs(actor: Actor, current: str) -> list[dict[str, Any]]:
    url = {"overview": reverse("analytics:overview")}
    return [
        {
            "name": name,
            "label": label,
            "url": url.get(name) or reverse("analytics:report", args=[name]),
            "active": name == current,
        }
        for name, label, roles in TABS
        if actor.role in roles
    ]


def _filter_labels(actor: Actor, f: reports.ReportFilter) -> list[tuple[str, str]]:
    labels = [(_("日期"), f"{f.start.isoformat()} ~ {f.end.isoformat()}")]
    if f.store_ids is not None:
        names = actor.scope(Store.objects.filter(pk__in=f.store_ids)).values_list("name", flat=True)
        labels.append((_("门店"), "、".join(names) or "—"))
    if f.channel:
        labels.append((_("渠道"), reports.channel_label(f.channel)))
    if f.staff_id:
        labels.append(
            (_("员工"), actor.scope(Staff.objects.filter(pk=f.staff_id)).values_list("name", flat=True).first() or "")
        )
    return labels


def _load(request: AuthenticatedHttpRequest, name: str) -> tuple[Actor, reports.ReportFilter, reports.Report]:
    if name not in reports.REPORTS:
        raise Http404(_("没有这个报表"))
    actor = request.actor_obj
    actor.require_role(ROLES[name])
    f = reports.report_filter(actor=actor, params=request.GET, default_days=DEFAULT_DAYS[name])
    return actor, f, reports.REPORTS[name](f)


@console_view(ALL_ROLES)
def report(request: AuthenticatedHttpRequest, name: str = "overview") -> HttpResponse:
    actor, f, rep = _load(request, name)
    query = request.GET.urlencode()
    context = {
        "report": rep,
        "filter": f,
        "tabs": _tabs(actor, name),
        "stores": actor.scope(Store.objects.filter(is_active=True)).order_by("code"),
        "staff_options": []
        if actor.is_store_staff
        else actor.scope(Staff.objects.filter(is_active=True)).order_by("store__code", "name")[:500],
        "channels": SourceChannel.choices,
        "selected_store": request.GET.get("store", ""),
        "charts": [c.as_dict() for c in rep.charts],
        "export_csv": reverse("analytics:export", args=[name, "csv"]) + (f"?{query}" if query else ""),
        "export_xlsx": reverse("analytics:export", args=[name, "xlsx"]) + (f"?{query}" if query else ""),
        "rfm_codes": rep.extra.get("codes", []),
        # The table whose rows can be saved as segments, and where the button posts.
        "save_table": {"rfm": "segments", "predict": "lists"}.get(name, ""),
        "save_url": {"rfm": reverse("analytics:rfm_save"), "predict": reverse("analytics:predict_save")}.get(name, ""),
        "can_import": actor.role in OPERATOR_AND_MANAGER,
    }
    context["table_pages"] = _table_pages(request, rep)
    return render(request, "analytics/report.html", context)


def _table_pages(request: AuthenticatedHttpRequest, rep: Report) -> list[dict[str, Any]]:
    """Each table with the rows this page shows: a table with ``page_size`` is paginated by its own
    parameter (``daily_page``), keeping the filters in the links."""
    out = []
    for table in rep.tables:
        if not table.page_size:
            out.append({"table": table, "rows": table.rows, "page": None})
            continue
        param = f"{table.key}_page"
        page = Paginator(table.rows, table.page_size).get_page(request.GET.get(param))
        query = request.GET.copy()
        query.pop(param, None)
        out.append({"table": table, "rows": page.object_list, "page": page, "param": param, "query": query.urlencode()})
    return out


@console_view(ALL_ROLES)
def export(request: AuthenticatedHttpRequest, name: str, fmt: str) -> HttpResponse:
    if fmt not in exports.FORMATS:
        raise Http404(_("只支持 CSV 和 xlsx 导出"))
    actor, f, rep = _load(request, name)
    labels = _filter_labels(actor, f)
    return exports.to_csv(rep, labels) if fmt == "csv" else exports.to_xlsx(rep, labels)


def _scoped_expression(actor: Actor, request: AuthenticatedHttpRequest, expression: dict[str, Any]) -> dict[str, Any]:
    """A report list's expression narrowed to the store and channel the page was filtered on, and
    always to the actor's stores."""
    store = request.POST.get("store", "")
    if store:
        if not actor.can_access_store(int(store) if store.isdigit() else -1):
            raise PermissionDenied(_("无权查看该门店的数据"))
        expression["stores"] = [int(store)]
    elif actor.store_ids is not None:
        expression["stores"] = sorted(actor.store_ids)
    if request.POST.get("channel") in SourceChannel.values:
        expression["source_channels"] = [request.POST["channel"]]
    return expression


def _save_list(
    request: AuthenticatedHttpRequest, *, name: str, expression: dict[str, Any], description: str, back: str
) -> HttpResponse:
    """Save a report's list as a segment (contacts.segments) and open it."""
    actor = request.actor_obj
    try:
        segment = contact_services.segment_save(
            actor=actor, name=name, expression=_scoped_expression(actor, request, expression), description=description
        )
    except ValueError as exc:  # contacts.segments.SegmentError and name clashes explain themselves
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, _("已保存分群“%(name)s”，可在群发中选择") % {"name": segment.name})
    return redirect("contacts:segment_edit", segment.pk)


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def rfm_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    """One click from an RFM segment to a saved segment (contacts.segments) for campaigns."""
    code = request.POST.get("code", "")
    seg = contact_selectors.rfm_segment_get(code)
    if seg is None:
        raise Http404(_("没有这个 RFM 分层"))
    name = f"RFM·{seg.label}·{timezone.localdate().isoformat()}"
    return _save_list(
        request,
        name=name,
        expression=contact_selectors.rfm_segment_expression(code),
        description=str(seg.advice),
        back=reverse("analytics:report", args=["rfm"]),
    )


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def predict_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    """One click from a 预测 list (e.g. high value at risk) to a saved segment for campaigns."""
    code = request.POST.get("code", "")
    if code not in reports.predict.LISTS:
        raise Http404(_("没有这个名单"))
    label, expression = reports.predict.LISTS[code]
    name = f"{_('预测')}·{label}·{timezone.localdate().isoformat()}"
    return _save_list(
        request,
        name=name[:100],
        expression=dict(expression),
        description=str(label),
        back=reverse("analytics:report", args=["predict"]),
    )


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def predict_refit(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Queue a refit of this brand's models now (the nightly beat does it too)."""
    analytics_tasks.predict_refit.delay(request.actor_obj.organization_id)
    messages.info(request, _("已开始重新拟合，通常一两分钟内完成，稍后刷新本页查看"))
    return redirect("analytics:report", "predict")


@console_view(OPERATOR_AND_MANAGER)
def order_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Orders (scoped to the actor's stores), with filters, and the POS/mall export import."""
    actor = request.actor_obj
    qs = actor.scope(Order.objects.select_related("customer", "store", "staff"))
    source = request.GET.get("source", "")
    status = request.GET.get("status", "")
    q = request.GET.get("q", "").strip()
    customer = request.GET.get("customer", "")
    if customer.isdigit():
        qs = qs.filter(customer_id=int(customer))
    if source in OrderSource.values:
        qs = qs.filter(source=source)
    if status in OrderStatus.values:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(external_ref__icontains=q)
    page = Paginator(qs.order_by("-paid_at", "-id"), 50).get_page(request.GET.get("page"))
    names = campaign_names(actor.organization_id, {o.campaign_id for o in page.object_list if o.campaign_id})
    for order in page.object_list:
        order.campaign_name = names.get(order.campaign_id) if order.campaign_id else None  # type: ignore[attr-defined]
    imports_qs = actor.scope(OrderImport.objects.all())[:10]
    return render(
        request,
        "analytics/orders.html",
        {
            "page_obj": page,
            "orders": page.object_list,
            "imports": imports_qs,
            "sources": OrderSource.choices,
            "statuses": OrderStatus.choices,
            "tabs": _tabs(actor, ""),
            "query": urlencode(
                {k: v for k, v in (("q", q), ("source", source), ("status", status), ("customer", customer)) if v}
            ),
            "template_headers": imports.TEMPLATE_HEADERS,
            "zero": Decimal(0),
        },
    )


@require_POST
@console_view(OPERATOR_AND_MANAGER)
def order_import(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("请选择要导入的 CSV 或 .xlsx 文件"))
        return redirect("analytics:order_list")
    try:
        job = imports.order_import_start(actor=actor, upload=upload)
    except imports.ImportFileError as exc:
        messages.error(request, str(exc))
        return redirect("analytics:order_list")
    if job.status == "done":
        messages.success(
            request,
            _("导入完成：新增 %(c)s 单，重复跳过 %(d)s 单，错误 %(e)s 行")
            % {"c": job.created_rows, "d": job.duplicate_rows, "e": job.error_rows},
        )
    else:
        messages.info(request, _("文件较大，已在后台导入，稍后刷新查看结果"))
    return redirect("analytics:order_list")
