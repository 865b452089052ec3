"""The 预测 report: the latest fit of the purchase and spend models, its time-holdout validation (the
papers' calibration plots), the churn-risk spread of the actor's customers, and the lists a manager
saves as segments. The fit is brand-wide; the counts and values are within the filter's scope."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.models import FitStatus, PredictionFit
from analytics.reports.filters import ReportFilter
from analytics.reports.sql import _customer_where, _money, _params, _rows
from analytics.reports.view_model import Chart, Column, Report, Stat, Table
from contacts.models import ChurnRisk
from contacts.rfm import M_HIGH_MIN_LTV

# The lists the page offers to save as segments: code → (label, segment expression).
LISTS: dict[str, tuple[Any, dict[str, Any]]] = {
    "high_value_at_risk": (
        gettext_lazy("高价值流失风险（累计消费 ≥ ¥1,000 且流失风险高）"),
        {"churn_risk": [ChurnRisk.HIGH.value], "ltv": {"min": M_HIGH_MIN_LTV}},
    ),
    "at_risk": (gettext_lazy("流失风险高"), {"churn_risk": [ChurnRisk.HIGH.value]}),
    "watch": (gettext_lazy("流失风险中（值得唤醒）"), {"churn_risk": [ChurnRisk.MEDIUM.value]}),
}
# Low first: the charts' palette starts green, then blue, then orange.
RISK_ORDER = (ChurnRisk.LOW, ChurnRisk.MEDIUM, ChurnRisk.HIGH)
REASONS = {
    "repeat_customers<30": gettext_lazy("复购过的客户不足 30 人，模型学不到复购规律。"),
    "not_finite": gettext_lazy("拟合没有收敛到有效参数。"),
    "gamma_gamma_q<=1": gettext_lazy("客单价的分布过于分散，预测消费额不可靠。"),
    "holdout_error": gettext_lazy("留出期验证中预测的购买总数与实际相差超过 50%。"),
}


def predict(f: ReportFilter) -> Report:
    """2 queries: the latest fit, and the risk bands of the scoped customers."""
    fit = PredictionFit.objects.filter(organization_id=f.organization_id).first()
    bands = {
        row[0]: row
        for row in _rows(
            f"""
            SELECT c.churn_risk, COUNT(*), COALESCE(SUM(c.predicted_value_12m), 0),
                   COUNT(*) FILTER (WHERE c.ltv >= {M_HIGH_MIN_LTV})
              FROM contacts_customer c
             WHERE {_customer_where(f)} AND c.p_alive IS NOT NULL
          GROUP BY c.churn_risk
            """,
            _params(f),
        )
    }
    # The scores are the latest fit's, whatever the dates: the page has no date filter.
    report = Report(name="predict", title=_("预测：复购与未来价值"), extra={"undated": True})
    if fit is None:
        report.notes.append(_("还没有拟合过模型。每晚自动拟合一次，也可以点“立即重新拟合”。"))
        return report
    ok = fit.status == FitStatus.OK
    held = fit.validation or {}
    errors = held.get("errors") or {}
    scored = sum(int(r[1]) for r in bands.values())
    report.stats = [
        Stat(_("模型状态"), fit.get_status_display(), "text"),
        Stat(_("购买客户"), fit.customers),
        Stat(_("复购客户"), fit.repeat_customers),
        Stat(_("留出期误差"), _error_pct(errors), "text", _("留出期内预测的购买总数相对实际的偏差")),
        Stat(_("已评分客户"), scored),
        Stat(_("高流失风险"), int(bands[ChurnRisk.HIGH][1]) if ChurnRisk.HIGH in bands else 0),
        Stat(
            _("预测12个月价值合计"),
            _money(sum(r[2] for r in bands.values())),
            "money",
            _("预计未来一年购买次数 × 预计每次消费"),
        ),
    ]
    if not ok:
        report.notes.append(
            _("这个品牌的数据暂时不适合预测：%(reason)s 页面不显示预测分数，积累更多复购后会自动重新评估。")
            % {"reason": REASONS.get(fit.message, fit.message)}
        )
    report.charts = _charts(held, bands)
    report.tables = _tables(fit, held, errors, bands)
    report.notes += [
        _(
            "方法：BG/NBD（Fader、Hardie、Lee 2005）或 MBG/NBD（Batislam 等 2007，按拟合优劣选用）"
            "预测每位客户的购买次数与仍然活跃的概率，Gamma-Gamma（Fader、Hardie 2013）预测每次消费；"
            "同一天的多笔订单算一次购买，退款已扣除。"
        ),
        _("留出期验证：用截止日之前的订单拟合，预测之后一段时间的购买，再和实际发生的比较。"),
    ]
    report.extra = {"codes": list(LISTS), "fit_id": fit.pk, "status": fit.status, "undated": True}
    return report


def _error_pct(errors: dict[str, Any]) -> str:
    if not errors.get("actual_total"):
        return "—"
    return f"{100 * float(errors['total_error']):+.1f}%"


def _charts(held: dict[str, Any], bands: dict[str, tuple[Any, ...]]) -> list[Chart]:
    charts = []
    groups = held.get("groups") or []
    if groups:
        charts.append(
            Chart(
                "holdout_groups",
                _("留出期：按截止前复购次数，人均购买（预测 vs 实际）"),
                "bar",
                [_("%(n)s 次") % {"n": g["repeat_purchases"]} for g in groups],
                [
                    {"name": _("预测"), "data": [round(g["predicted"], 3) for g in groups]},
                    {"name": _("实际"), "data": [round(g["actual"], 3) for g in groups]},
                ],
            )
        )
    weekly = held.get("weekly") or []
    if weekly:
        charts.append(
            Chart(
                "holdout_weekly",
                _("累计复购次数（按周，截止日 %(cut)s 之后为留出期）") % {"cut": held.get("cut", "")},
                "line",
                [w["week_end"] for w in weekly],
                [
                    {"name": _("实际"), "data": [w["actual"] for w in weekly]},
                    {"name": _("预测"), "data": [round(w["predicted"], 1) for w in weekly]},
                ],
            )
        )
    if bands:
        charts.append(
            Chart(
                "risk_bands",
                _("流失风险分布"),
                "pie",
                [str(ChurnRisk(v).label) for v in RISK_ORDER],
                [{"name": _("客户数"), "data": [int(bands[v][1]) if v in bands else 0 for v in RISK_ORDER]}],
            )
        )
    return charts


def _tables(
    fit: PredictionFit, held: dict[str, Any], errors: dict[str, Any], bands: dict[str, tuple[Any, ...]]
) -> list[Table]:
    tables = [
        Table(
            "lists",
            _("可保存为分群的名单"),
            [Column("list", _("名单")), Column("customers", _("客户数"), "int")],
            [[str(label), _list_count(code, bands)] for code, (label, _e) in LISTS.items()],
            note=_("保存后可在群发和朋友圈中选择；名单按最新一次评分实时计算。"),
        )
    ]
    if held.get("groups"):
        tables.append(
            Table(
                "holdout",
                _("留出期验证（%(cut)s 之后 %(days)s 天）") % {"cut": held["cut"], "days": held["holdout_days"]},
                [
                    Column("group", _("截止前复购次数")),
                    Column("customers", _("客户数"), "int"),
                    Column("predicted", _("预测人均购买"), "num"),
                    Column("actual", _("实际人均购买"), "num"),
                ],
                [
                    [g["repeat_purchases"], g["customers"], round(g["predicted"], 3), round(g["actual"], 3)]
                    for g in held["groups"]
                ],
                note=_(
                    "预测总数 %(p).0f，实际 %(a).0f；人均绝对误差 %(mae).3f，均方根误差 %(rmse).3f，相关系数 %(r).2f"
                )
                % {
                    "p": errors.get("predicted_total", 0),
                    "a": errors.get("actual_total", 0),
                    "mae": errors.get("mae", 0),
                    "rmse": errors.get("rmse", 0),
                    "r": errors.get("correlation", 0),
                },
            )
        )
    b, g = fit.bgnbd or {}, fit.gamma_gamma or {}
    params = [(label, b.get(k)) for label, k in (("r", "r"), ("α", "alpha"), ("a", "a"), ("b", "b"))] + [
        (_("消费 %(name)s") % {"name": label}, g.get(k)) for label, k in (("p", "p"), ("q", "q"), ("γ", "gamma"))
    ]
    tables.append(
        Table(
            "fit",
            _("模型参数（时间单位：周）"),
            [Column("name", _("参数")), Column("value", _("数值"))],
            [[_("购买模型"), str(b.get("model", "—"))]]
            + [[name, f"{value:.4f}" if isinstance(value, float) else "—"] for name, value in params]
            + [
                [_("数据区间"), f"{fit.data_start or '—'} ~ {fit.data_end}"],
                [_("样本（购买客户 / 复购客户）"), f"{fit.customers:,} / {fit.repeat_customers:,}"],
                [_("对数似然"), f"{fit.log_likelihood:,.1f}" if fit.log_likelihood is not None else "—"],
                [_("拟合 / 评分耗时"), f"{fit.fit_seconds:.1f} s / {fit.score_seconds:.1f} s"],
                [_("拟合时间"), timezone.localtime(fit.created_at).strftime("%Y-%m-%d %H:%M")],
            ],
        )
    )
    return tables


def _list_count(code: str, bands: dict[str, tuple[Any, ...]]) -> int:
    if code == "high_value_at_risk":
        return int(bands[ChurnRisk.HIGH][3]) if ChurnRisk.HIGH in bands else 0
    risk = LISTS[code][1]["churn_risk"][0]
    return int(bands[risk][1]) if risk in bands else 0
