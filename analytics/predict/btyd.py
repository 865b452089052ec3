"""The "buy till you die" models for non-contractual repeat buying, as closed formulas on arrays.

- **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing Science
  24(2)): while alive a customer buys at a Poisson rate λ ~ Gamma(r, α); after each purchase they die
  with probability p ~ Beta(a, b). A customer is summarised by ``x`` (repeat purchases: purchase days
  after the first), ``t_x`` (time from the first to the last purchase) and ``T`` (time from the first
  purchase to the end of the data), all in the same unit (this module does not care which).
- **Gamma-Gamma** (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"): the mean value
  ``m`` of a customer's ``x`` repeat purchases, with the transaction values ~ Gamma(p, ν) and
  ν ~ Gamma(q, γ) across customers, independent of the purchase process.

Fitting is maximum likelihood with scipy over log-parameters; customers with the same summary are
folded into one weighted row, so a million customers cost as much as their distinct summaries.
Equation numbers refer to the papers; the tests check them against the published CDNOW estimates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

Array = NDArray[np.float64]
P = TypeVar("P")


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float


@dataclass(frozen=True)
class Fit(Generic[P]):
    params: P
    log_likelihood: float  # summed over the customers (weights included)
    n: int  # customers in the fit
    converged: bool


def _arrays(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def _fold(columns: list[Array]) -> tuple[list[Array], Array]:
    """Identical rows folded into one with a weight (the likelihood is a sum over customers)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(np.float64)


def _maximize(negative: Callable[[Array], float], start: Array) -> tuple[list[float], float, bool]:
    """Minimise a negative log-likelihood over log-parameters: Nelder-Mead (robust far from the
    optimum), then L-BFGS-B to polish; the parameters, the log-likelihood and whether either converged."""
    coarse = optimize.minimize(
        negative, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-9}
    )
    fine = optimize.minimize(negative, coarse.x, method="L-BFGS-B")
    best = fine if fine.fun <= coarse.fun else coarse
    return [float(v) for v in np.exp(best.x)], -float(best.fun), bool(coarse.success or fine.success)


# --- BG/NBD ------------------------------------------------------------------------------------------


def bgnbd_log_likelihood(params: BgNbd, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """Each customer's log-likelihood (paper eq. 6, in logs)."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    a3 = np.full_like(x, -np.inf)
    a3[repeat] = (
        special.betaln(a + 1, b + x[repeat] - 1) - special.betaln(a, b) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    )
    return np.asarray(a1 + np.logaddexp(a2, a3), dtype=np.float64)


def bgnbd_fit(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Fit[BgNbd]:
    (fx, ft, fT), weight = _fold(_arrays(x, t_x, T))

    def negative(log_params: Array) -> float:
        params = BgNbd(*np.exp(log_params))
        return float(-(weight * bgnbd_log_likelihood(params, fx, ft, fT)).sum())

    # Start from a mean rate of purchases per unit of time and an even chance of dropping out.
    rate = max(float((weight * fx).sum() / max((weight * fT).sum(), 1e-9)), 1e-3)
    start = np.log([1.0, 1.0 / rate, 1.0, 1.0])
    best, log_likelihood, converged = _maximize(negative, start)
    return Fit(BgNbd(*best), log_likelihood, int(weight.sum()), converged)


def bgnbd_p_alive(params: BgNbd, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """P(still alive at T | x, t_x, T) (paper eq. 13 of the technical note; 1 for x = 0)."""
    x, t_x, T = _arrays(x, t_x, T)
    return 1.0 / (1.0 + _dead_odds(params, x, t_x, T))


def _dead_odds(params: BgNbd, x: Array, t_x: Array, T: Array) -> Array:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    odds = np.zeros_like(x)
    repeat = x > 0
    xr = x[repeat]
    odds[repeat] = np.exp(
        np.log(a) - np.log(b + xr - 1) + (r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat]))
    )
    return odds


def bgnbd_expected_purchases(params: BgNbd, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """Expected purchases in the next ``t`` units after T, given the customer's history (paper eq. 10)."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    first = (a + b + x - 1) / (a - 1)
    second = 1.0 - np.power((alpha + T) / (alpha + T + t), r + x) * hyper
    return np.asarray(first * second / (1.0 + _dead_odds(params, x, t_x, T)), dtype=np.float64)


def bgnbd_expected_new_customer(params: BgNbd, t: ArrayLike) -> Array:
    """E[X(t)]: expected purchases of a customer in a period of length t after their first (eq. 9)."""
    (t,) = _arrays(t)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    hyper = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return np.asarray((a + b - 1) / (a - 1) * (1.0 - np.power(alpha / (alpha + t), r) * hyper), dtype=np.float64)


# --- Gamma-Gamma -------------------------------------------------------------------------------------


def gamma_gamma_log_likelihood(params: GammaGamma, x: ArrayLike, m: ArrayLike) -> Array:
    """Each repeat customer's log-density of their mean transaction value m over x transactions."""
    x, m = _arrays(x, m)
    p, q, g = params.p, params.q, params.gamma
    return np.asarray(
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(g + m * x),
        dtype=np.float64,
    )


def gamma_gamma_fit(x: ArrayLike, m: ArrayLike) -> Fit[GammaGamma]:
    """Fitted on customers with at least one repeat purchase and a positive mean value."""
    x, m = _arrays(x, m)
    keep = (x > 0) & (m > 0)
    (fx, fm), weight = _fold([x[keep], m[keep]])

    def negative(log_params: Array) -> float:
        return float(-(weight * gamma_gamma_log_likelihood(GammaGamma(*np.exp(log_params)), fx, fm)).sum())

    start = np.log([1.0, 1.0, max(float(np.average(fm, weights=weight)), 1e-3)])
    best, log_likelihood, converged = _maximize(negative, start)
    return Fit(GammaGamma(*best), log_likelihood, int(weight.sum()), converged)


def gamma_gamma_expected_value(params: GammaGamma, x: ArrayLike, m: ArrayLike) -> Array:
    """E[value of a future purchase | x, m]: a weighted mean of the population mean and the customer's
    own (the note's eq. 5); for x = 0 the population mean p·γ/(q − 1)."""
    x, m = _arrays(x, m)
    p, q, g = params.p, params.q, params.gamma
    m = np.where(x > 0, m, 0.0)
    return np.asarray(p * (g + m * x) / (p * x + q - 1), dtype=np.float64)
