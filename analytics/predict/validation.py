"""The time holdout shown to managers: fit on the orders up to a cut date, predict the period after,
compare with what happened (the papers' calibration plots and their error figures).

- per group of customers by their number of repeat purchases before the cut: mean predicted and
  mean actual purchases in the holdout (the papers' "conditional expectations" plot);
- weekly tracking: cumulative repeat purchases of the customers who had bought by the cut, actual
  against the model's expectation, over the whole window (the "aggregate tracking" plot);
- errors over the holdout: total predicted against total actual, mean absolute error per customer,
  root mean square error and the correlation of predicted with actual purchases.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from analytics.predict import btyd, data

WEEK = 7.0
MIN_SPAN_DAYS = 56  # a window shorter than 8 weeks has nothing to hold out
GROUPS = 7  # 0, 1, …, 6 repeat purchases, then "7+"


def holdout_days(span_days: int) -> int:
    """Half of the window, between 4 weeks and a year."""
    return int(min(365, max(28, (span_days + 1) // 2)))


def holdout_validate(*, organization_id: int, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The holdout figures for an organization whose orders run from ``start`` to ``end``; ``{}`` when
    the window is too short or nobody repeated before the cut."""
    span = (end - start).days
    if span < MIN_SPAN_DAYS:
        return {}
    days = holdout_days(span)
    cut = end - dt.timedelta(days=days)
    calibration = data.summary(organization_id=organization_id, end=cut)
    if not len(calibration) or not (calibration.x > 0).any():
        return {}
    fit = btyd.purchases_fit(calibration.x, calibration.t_x / WEEK, calibration.T / WEEK)
    predicted = btyd.bgnbd_expected_purchases(
        fit.params, days / WEEK, calibration.x, calibration.t_x / WEEK, calibration.T / WEEK
    )
    happened = data.purchases_between(organization_id=organization_id, after=cut, end=end)
    actual = np.asarray([happened.get(int(c), 0) for c in calibration.customer_id], dtype=np.float64)
    return {
        "cut": cut.isoformat(),
        "end": end.isoformat(),
        "holdout_days": days,
        "customers": len(calibration),
        "params": fit.params.as_dict(),
        "groups": _groups(calibration.x, predicted, actual),
        "weekly": _weekly(organization_id, start, cut, end, calibration, fit.params),
        "errors": _errors(predicted, actual),
    }


def _groups(x: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> list[dict[str, Any]]:
    bucket = np.minimum(x, GROUPS).astype(int)
    rows = []
    for k in range(GROUPS + 1):
        members = bucket == k
        if not members.any():
            continue
        rows.append(
            {
                "repeat_purchases": f"{k}+" if k == GROUPS else str(k),
                "customers": int(members.sum()),
                "predicted": float(predicted[members].mean()),
                "actual": float(actual[members].mean()),
            }
        )
    return rows


def _weekly(
    organization_id: int, start: dt.date, cut: dt.date, end: dt.date, calibration: data.Summary, params: btyd.BgNbd
) -> list[dict[str, Any]]:
    epoch = dt.date(1970, 1, 1)
    first_days, counts = np.unique(calibration.first_day, return_counts=True)
    by_day = data.repeat_purchases_by_day(organization_id=organization_id, end=end, first_by=cut)
    actual_cum, rows = 0, []
    weeks = (end - start).days // 7 + 1
    day_keys = sorted(by_day)
    pointer = 0
    for w in range(1, weeks + 1):
        edge = min(start + dt.timedelta(days=7 * w), end + dt.timedelta(days=1))  # exclusive
        while pointer < len(day_keys) and day_keys[pointer] < edge:
            actual_cum += by_day[day_keys[pointer]]
            pointer += 1
        # Days each cohort had for repeat purchases by the week's end (purchases on later days).
        elapsed = ((edge - epoch).days - 1 - first_days) / WEEK
        alive = elapsed > 0
        expected = float((counts[alive] * btyd.bgnbd_expected_new_customer(params, elapsed[alive])).sum())
        rows.append(
            {
                "week_end": (edge - dt.timedelta(days=1)).isoformat(),
                "actual": int(actual_cum),
                "predicted": expected,
                "holdout": edge - dt.timedelta(days=1) > cut,
            }
        )
    return rows


def _errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    total_actual = float(actual.sum())
    correlation = float(np.corrcoef(predicted, actual)[0, 1]) if actual.std() > 0 and predicted.std() > 0 else 0.0
    return {
        "predicted_total": float(predicted.sum()),
        "actual_total": total_actual,
        "total_error": float((predicted.sum() - total_actual) / total_actual) if total_actual else 0.0,
        "mae": float(np.abs(predicted - actual).mean()),
        "rmse": float(np.sqrt(((predicted - actual) ** 2).mean())),
        "correlation": correlation,
    }
