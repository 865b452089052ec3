"""Every report page as JSON: ``GET /api/v1/reports/<name>/`` (overview, ltv, repurchase, cohorts, rfm,
funnel, staff, predict).

The same report as the page and its export, built by the same code (``analytics.reports``: the
filter from the actor, the report's view-model and SQL): stats, charts and tables with their labels.
The same roles per report (``analytics.views.ROLES``), the same filters and defaults; a store or
staff member outside the caller's scope is a 403, as on the page. Store staff are pinned to their
own figures, as on the page. Values are encoded as the page encodes its charts (Django's JSON
encoder: money as decimal strings, dates as ISO strings).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import reports
from analytics.views import DEFAULT_DAYS, ROLES
from contacts.access import ALL_ROLES, AuthenticatedRequest
from contacts.models import SourceChannel
from contacts.serializers import INT4_MAX
from scrm.fields import BoundedDateField


class ReportQuery(serializers.Serializer):  # type: ignore[type-arg]
    start = BoundedDateField(required=False, help_text="开始日期（北京时间，含）；默认按报表（如概览为最近 90 天）")
    end = BoundedDateField(required=False, help_text="结束日期（北京时间，含）；默认今天")
    store = serializers.IntegerField(required=False, min_value=1, max_value=INT4_MAX, help_text="门店 ID")
    channel = serializers.ChoiceField(choices=SourceChannel.choices, required=False, help_text="来源渠道")
    staff = serializers.IntegerField(required=False, min_value=1, max_value=INT4_MAX, help_text="员工 ID")


# ``label`` fields carry ``type: ignore[assignment]``: DRF collects them from the class, mypy sees Field.label.
class ColumnOut(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    kind = serializers.ChoiceField(choices=["text", "int", "money", "pct", "num"])


class TableOut(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField()
    title = serializers.CharField()
    note = serializers.CharField()
    columns = ColumnOut(many=True)
    rows = serializers.ListField(child=serializers.ListField(), help_text="每行的值与 columns 一一对应")


class StatOut(serializers.Serializer):  # type: ignore[type-arg]
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.JSONField()
    kind = serializers.CharField()
    hint = serializers.CharField()


class ReportFilterOut(serializers.Serializer):  # type: ignore[type-arg]
    start = serializers.DateField()
    end = serializers.DateField()
    store_ids = serializers.ListField(child=serializers.IntegerField(), allow_null=True, help_text="null 为全部门店")
    channel = serializers.CharField()
    staff_id = serializers.IntegerField(allow_null=True)


class ReportOut(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    title = serializers.CharField()
    filter = ReportFilterOut()
    stats = StatOut(many=True)
    charts = serializers.ListField(child=serializers.DictField(), help_text="图表：id、title、kind、x、y、series")
    tables = TableOut(many=True)
    notes = serializers.ListField(child=serializers.CharField())


def report_json(rep: reports.Report, f: reports.ReportFilter) -> dict[str, Any]:
    """The report as the page has it, in plain JSON types."""
    payload = {
        "name": rep.name,
        "title": rep.title,
        "filter": {
            "start": f.start,
            "end": f.end,
            "store_ids": sorted(f.store_ids) if f.store_ids is not None else None,
            "channel": f.channel,
            "staff_id": f.staff_id,
        },
        "stats": [{"label": s.label, "value": s.value, "kind": s.kind, "hint": s.hint} for s in rep.stats],
        "charts": [c.as_dict() for c in rep.charts],
        "tables": [
            {
                "key": t.key,
                "title": t.title,
                "note": t.note,
                "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in t.columns],
                "rows": t.rows,
            }
            for t in rep.tables
        ],
        "notes": list(rep.notes),
    }
    # The page's own encoding of its chart data: Decimal → "12.30", dates → ISO, lazy labels → text.
    result: dict[str, Any] = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    return result


EXAMPLE = {
    "name": "overview",
    "title": "数据概览",
    "filter": {"start": "2026-09-04", "end": "2026-12-02", "store_ids": [3], "channel": "", "staff_id": None},
    "stats": [
        {"label": "客户总数", "value": 12840, "kind": "int", "hint": "截至结束日期"},
        {"label": "GMV（扣除退款）", "value": "1523400.00", "kind": "money", "hint": ""},
    ],
    "charts": [
        {
            "id": "trend_customers",
            "title": "新增与流失趋势",
            "kind": "line",
            "x": ["2026-12-01", "2026-12-02"],
            "y": [],
            "series": [{"name": "新增客户", "data": [52, 61]}, {"name": "流失好友", "data": [4, 7]}],
            "money": False,
            "pct": False,
        }
    ],
    "tables": [
        {
            "key": "daily",
            "title": "每日明细",
            "note": "仅列出有数据的日期，最新在前。",
            "columns": [
                {"key": "day", "label": "日期", "kind": "text"},
                {"key": "orders", "label": "订单数", "kind": "int"},
                {"key": "gmv", "label": "GMV（扣除退款）", "kind": "money"},
            ],
            "rows": [["2026-12-02", 31, "20110.50"], ["2026-12-01", 27, "18230.00"]],
        }
    ],
    "notes": [],
}


def _example(name: str, title: str, stats: list[tuple[str, Any, str]], table: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "filter": {"start": "2025-12-03", "end": "2026-12-02", "store_ids": None, "channel": "", "staff_id": None},
        "stats": [{"label": label, "value": value, "kind": kind, "hint": ""} for label, value, kind in stats],
        "charts": [],
        "tables": [table],
        "notes": [],
    }


def _table(key: str, title: str, columns: list[tuple[str, str, str]], rows: list[list[Any]]) -> dict[str, Any]:
    return {
        "key": key,
        "title": title,
        "note": "",
        "columns": [{"key": k, "label": label, "kind": kind} for k, label, kind in columns],
        "rows": rows,
    }


# One illustration per report (the shapes the report modules build; figures made up).
EXAMPLES: dict[str, dict[str, Any]] = {
    "overview": EXAMPLE,
    "ltv": _example(
        "ltv",
        "客户终身价值（LTV）",
        [("平均 LTV", "812.40", "money")],
        _table(
            "distribution",
            "LTV 分布",
            [("bucket", "LTV 区间", "text"), ("customers", "购买客户", "int")],
            [["0–200", 1204], ["200–500", 860]],
        ),
    ),
    "repurchase": _example(
        "repurchase",
        "复购分析",
        [("首购客户", 3120, "int"), ("已复购", 841, "int"), ("30 天复购率", 12.4, "pct")],
        _table(
            "repurchase",
            "复购率（按首购月份）",
            [("cohort", "首购月份", "text"), ("buyers", "首购客户", "int"), ("repeaters", "已复购", "int")],
            [["2026-10", 402, 57]],
        ),
    ),
    "cohorts": _example(
        "cohorts",
        "同期群留存",
        [],
        _table(
            "customers",
            "留存率（按客户，%）",
            [("cohort", "首购月份", "text"), ("size", "首购客户", "int"), ("m1", "第1月", "pct")],
            [["2026-09", 388, 18.3]],
        ),
    ),
    "rfm": _example(
        "rfm",
        "RFM 客户分层",
        [],
        _table(
            "segments",
            "RFM 分层",
            [("segment", "分层", "text"), ("customers", "客户数", "int"), ("share", "占比", "pct")],
            [["重要价值客户", 412, 9.8]],
        ),
    ),
    "funnel": _example(
        "funnel",
        "转化漏斗",
        [("加企微率", 63.5, "pct")],
        _table(
            "funnel",
            "按渠道",
            [("channel", "渠道", "text"), ("leads", "线索/新客", "int"), ("add_rate", "加企微率", "pct")],
            [["巨量引擎", 1520, 61.2]],
        ),
    ),
    "staff": _example(
        "staff",
        "员工业绩与服务",
        [],
        _table(
            "staff",
            "员工明细",
            [("staff", "员工", "text"), ("store", "门店", "text"), ("gmv", "业绩 GMV", "money")],
            [["王敏", "静安嘉里店", "86230.00"]],
        ),
    ),
    "churn": _example(
        "churn",
        "流失明细",
        [("流失好友", 37, "int"), ("客户删除了员工", 21, "int"), ("员工删除了客户", 9, "int")],
        _table(
            "churn_staff",
            "按员工",
            [("staff", "员工", "text"), ("by_customer", "客户删除了员工", "int"), ("max_day", "单日删客最多", "int")],
            [["王敏", 4, 2]],
        ),
    ),
    "predict": _example(
        "predict",
        "预测：复购与未来价值",
        [("模型状态", "可用", "text"), ("高流失风险", 236, "int"), ("预测12个月价值合计", "412380.00", "money")],
        _table(
            "lists",
            "可保存为分群的名单",
            [("list", "名单", "text"), ("customers", "客户数", "int")],
            [["高价值流失风险（累计消费 ≥ ¥1,000 且流失风险高）", 41]],
        ),
    ),
}
RESPONSES: dict[int, Any] = {
    200: ReportOut,
    400: OpenApiResponse(description="筛选参数有误（字段与原因）"),
    403: OpenApiResponse(description="你的角色不能查看该报表，或门店 / 员工不在你的范围内"),
}
SUMMARIES = {
    "overview": "数据概览（新增、流失、订单、GMV、私域 GMV）",
    "ltv": "LTV 报表（按渠道、门店、员工、获客月）",
    "repurchase": "复购报表（N 天复购率）",
    "cohorts": "同期群（首单月留存）",
    "rfm": "RFM 分层",
    "funnel": "转化漏斗",
    "staff": "员工业绩",
    "churn": "流失明细（按原因、员工与单日删客）",
    "predict": "预测（购买与价值模型、留出期验证、流失风险名单）",
}


class ReportView(APIView):
    allowed_roles = ALL_ROLES  # each report's view narrows it to the page's role set (report_view)
    report_name = "overview"

    def report(self, request: AuthenticatedRequest) -> Response:
        actor = request.actor_obj
        actor.require_role(ROLES[self.report_name])  # the page's check (analytics.views._load)
        query = ReportQuery(data=request.query_params)
        if not query.is_valid():
            raise ValidationError(query.errors)
        params = {k: v.isoformat() if hasattr(v, "isoformat") else str(v) for k, v in query.validated_data.items()}
        f = reports.report_filter(actor=actor, params=params, default_days=DEFAULT_DAYS[self.report_name])
        return Response(report_json(reports.REPORTS[self.report_name](f), f))


def report_view(name: str) -> Any:
    """The view of one report (its own path, summary and operation in the schema)."""

    def get(self: ReportView, request: AuthenticatedRequest) -> Response:
        return self.report(request)

    get = extend_schema(
        summary=SUMMARIES[name],
        operation_id=f"reports_{name}_retrieve",
        parameters=[ReportQuery],
        responses=RESPONSES,
        examples=[OpenApiExample(SUMMARIES[name], value=EXAMPLES[name], response_only=True, status_codes=["200"])],
    )(get)
    view: type[ReportView] = type(
        f"{name.title()}ReportView", (ReportView,), {"report_name": name, "allowed_roles": ROLES[name], "get": get}
    )
    return view.as_view()
