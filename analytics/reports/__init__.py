"""Reports: set-based SQL over the rollups, a fixed number of queries each.

* ``filters``: the :class:`ReportFilter` (built only from an actor, which scopes it).
* ``view_model``: what a report is made of (stats, charts, tables).
* one module per report (``overview``, ``ltv``, ``repurchase``, ``cohorts``, ``rfm``, ``funnel``,
  ``staff``, ``churn``, ``predict``), sharing the SQL helpers in ``sql``; ``exports`` writes any report as CSV or .xlsx.

Definitions (shown on the pages too):
* GMV is net of refunds unless labelled otherwise; refunds count on the day the order was paid.
* Private-domain (私域) GMV: orders paid while the customer was a WeCom friend of a staff member.
* Repurchase within N days: among first-time buyers whose first order is at least N days old, the
  share whose second order came within N days of the first.
* Cohort: the month of a customer's first order; retention = customers with an order in month k.
"""

from __future__ import annotations

from collections.abc import Callable

from analytics.reports import churn, cohorts, funnel, ltv, overview, predict, repurchase, rfm, staff
from analytics.reports.filters import ReportFilter, report_filter
from analytics.reports.sql import channel_label
from analytics.reports.view_model import Report

__all__ = [
    "REPORTS",
    "Report",
    "ReportFilter",
    "channel_label",
    "churn",
    "cohorts",
    "funnel",
    "ltv",
    "overview",
    "predict",
    "report_filter",
    "repurchase",
    "rfm",
    "staff",
]

REPORTS: dict[str, Callable[[ReportFilter], Report]] = {
    "overview": overview.overview,
    "ltv": ltv.ltv,
    "repurchase": repurchase.repurchase,
    "cohorts": cohorts.cohorts,
    "rfm": rfm.rfm,
    "funnel": funnel.funnel,
    "staff": staff.staff,
    "churn": churn.churn,
    "predict": predict.predict,
}
