"""Fit an organization's models, validate them on a time holdout and score every buyer.

``organization_predict`` is what the beat (nightly) and the 预测 page's "refit now" run. It stores a
``PredictionFit`` whatever happens; only a fit whose status is ``ok`` writes scores, so a brand with
too few repeat buyers or a model that failed its holdout shows no number as truth (and the scores of
an earlier fit are cleared).
"""

from __future__ import annotations

import datetime as dt
import math
import time

import numpy as np
from django.utils import timezone

from analytics.models import FitStatus, PredictionFit
from analytics.predict import btyd, data, validation
from contacts import services as contact_services

WEEK = 7.0
MIN_REPEAT_CUSTOMERS = 30
# The holdout's total predicted purchases may be off by this share of the actual total at most.
MAX_HOLDOUT_ERROR = 0.5
HORIZONS_DAYS = (30, 90, 365)


def organization_predict(*, organization_id: int, end: dt.date | None = None) -> PredictionFit:
    end = end or timezone.localdate()
    start = data.first_purchase_day(organization_id=organization_id)
    fit = PredictionFit(organization_id=organization_id, data_start=start, data_end=end)
    began = time.perf_counter()
    summary = data.summary(organization_id=organization_id, end=end)
    fit.customers = len(summary)
    fit.repeat_customers = int((summary.x > 0).sum())
    if fit.repeat_customers < MIN_REPEAT_CUSTOMERS:
        fit.status = FitStatus.TOO_FEW
        fit.message = f"repeat_customers<{MIN_REPEAT_CUSTOMERS}"
        return _finish(fit, None, began)
    purchases = btyd.purchases_fit(summary.x, summary.t_x / WEEK, summary.T / WEEK)
    spend = btyd.gamma_gamma_fit(summary.x, summary.m)
    fit.bgnbd = purchases.params.as_dict()
    fit.gamma_gamma = {"p": spend.params.p, "q": spend.params.q, "gamma": spend.params.gamma}
    fit.log_likelihood = purchases.log_likelihood
    fit.gamma_gamma_log_likelihood = spend.log_likelihood
    fit.validation = validation.holdout_validate(organization_id=organization_id, start=start, end=end) if start else {}
    fit.fit_seconds = time.perf_counter() - began
    fit.status, fit.message = _judge(purchases, spend, fit.validation)
    if fit.status != FitStatus.OK:
        return _finish(fit, None, began)
    scoring = time.perf_counter()
    predictions = scores_compute(summary, purchases.params, spend.params)
    fit.score_seconds = time.perf_counter() - scoring
    return _finish(fit, predictions, began)


def _judge(
    purchases: btyd.Fit[btyd.BgNbd], spend: btyd.Fit[btyd.GammaGamma], held: dict[str, object]
) -> tuple[str, str]:
    p, g = purchases.params, spend.params
    values = [p.r, p.alpha, p.a, p.b, g.p, g.q, g.gamma, purchases.log_likelihood]
    if not all(math.isfinite(v) and v != 0 for v in values):
        return FitStatus.BAD_FIT, "not_finite"
    if spend.params.q <= 1:
        return FitStatus.BAD_FIT, "gamma_gamma_q<=1"  # the mean spend would be infinite
    errors = held.get("errors") if held else None
    if (
        isinstance(errors, dict)
        and errors.get("actual_total")
        and abs(float(errors["total_error"])) > MAX_HOLDOUT_ERROR
    ):
        return FitStatus.BAD_FIT, "holdout_error"
    return FitStatus.OK, ""


def scores_compute(
    summary: data.Summary, purchases: btyd.BgNbd, spend: btyd.GammaGamma
) -> contact_services.Predictions:
    t_x, T = summary.t_x / WEEK, summary.T / WEEK
    expected = {
        days: np.clip(btyd.bgnbd_expected_purchases(purchases, days / WEEK, summary.x, t_x, T), 0, None)
        for days in HORIZONS_DAYS
    }
    value = expected[365] * btyd.gamma_gamma_expected_value(spend, summary.x, summary.m)
    return contact_services.Predictions(
        customer_ids=summary.customer_id.tolist(),
        p_alive=btyd.bgnbd_p_alive(purchases, summary.x, t_x, T).tolist(),
        expected_30=expected[30].tolist(),
        expected_90=expected[90].tolist(),
        expected_365=expected[365].tolist(),
        value_12m=np.minimum(value, 1e11).tolist(),
    )


def _finish(fit: PredictionFit, predictions: contact_services.Predictions | None, began: float) -> PredictionFit:
    fit.scored = contact_services.customer_predictions_set(organization_id=fit.organization_id, predictions=predictions)
    if not fit.fit_seconds:
        fit.fit_seconds = time.perf_counter() - began
    fit.save()
    return fit


def latest_fit(*, organization_id: int) -> PredictionFit | None:
    return PredictionFit.objects.filter(organization_id=organization_id).first()
