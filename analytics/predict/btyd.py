"""The "buy till you die" models for non-contractual repeat buying, as closed formulas on arrays.

- **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing Science
  24(2)): while alive a customer buys at a Poisson rate λ ~ Gamma(r, α); after each purchase they die
  with probability p ~ Beta(a, b). A customer is summarised by ``x`` (repeat purchases: purchase days
  after the first), ``t_x`` (time from the first to the last purchase) and ``T`` (time from the first
  purchase to the end of the data), all in the same unit (this module does not care which).
- **MBG/NBD** (Batislam, Denizel & Filiztekin 2007): the same with a possible drop-out right after the
  first purchase as well; the product fits both and keeps the one with the higher likelihood.
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
    modified: bool = False  # MBG/NBD

    @property
    def name(self) -> str:
        return "MBG/NBD" if self.modified else "BG/NBD"

    def as_dict(self) -> dict[str, float | str]:
        return {"model": self.name, "r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


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
    """Minimise a negative log-likelihood over log-parameters: L-BFGS-B (a few hundred evaluations), and
    Nelder-Mead from there only if it did not converge; the parameters, the log-likelihood and whether
    the search converged."""
    best = optimize.minimize(negative, start, method="L-BFGS-B", options={"maxiter": 500})
    if not best.success:
        slow = optimize.minimize(
            negative, best.x, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-9}
        )
        best = slow if slow.fun <= best.fun else best
    return [float(v) for v in np.exp(best.x)], -float(best.fun), bool(best.success)


# --- BG/NBD and MBG/NBD -------------------------------------------------------------------------------
#
# MBG/NBD (Batislam, Denizel & Filiztekin 2007) lets a customer drop out right after the first purchase
# too, so a one-time buyer of long ago is no longer alive for sure (BG/NBD gives them P(alive) = 1). The
# formulas differ by one shift, ``m`` = 0 (BG/NBD) or 1 (MBG/NBD): b + x − 1 + m where BG/NBD has b + x − 1.


def _shift(params: BgNbd) -> float:
    return 1.0 if params.modified else 0.0


def _dropped_term(params: BgNbd, x: Array) -> Array:
    """Where the "dropped out after the last purchase" term of the likelihood applies."""
    return np.asarray(x > 0 if not params.modified else np.ones_like(x, dtype=bool))


def bgnbd_log_likelihood(params: BgNbd, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """Each customer's log-likelihood (BG/NBD paper eq. 6 in logs; MBG/NBD eq. 5)."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b, m = params.r, params.alpha, params.a, params.b, _shift(params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x + m) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    dropped = _dropped_term(params, x)
    a3 = np.full_like(x, -np.inf)
    xd = x[dropped]
    a3[dropped] = special.betaln(a + 1, b + xd - 1 + m) - special.betaln(a, b) - (r + xd) * np.log(alpha + t_x[dropped])
    return np.asarray(a1 + np.logaddexp(a2, a3), dtype=np.float64)


def bgnbd_fit(x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, modified: bool = False) -> Fit[BgNbd]:
    (fx, ft, fT), weight = _fold(_arrays(x, t_x, T))

    def negative(log_params: Array) -> float:
        r, alpha, a, b = (float(v) for v in np.exp(log_params))
        params = BgNbd(r, alpha, a, b, modified=modified)
        return float(-(weight * bgnbd_log_likelihood(params, fx, ft, fT)).sum())

    # Start from a mean rate of purchases per unit of time and an even chance of dropping out.
    rate = max(float((weight * fx).sum() / max((weight * fT).sum(), 1e-9)), 1e-3)
    start = np.log([1.0, 1.0 / rate, 1.0, 1.0])
    best, log_likelihood, converged = _maximize(negative, start)
    r, alpha, a, b = best
    return Fit(BgNbd(r, alpha, a, b, modified=modified), log_likelihood, int(weight.sum()), converged)


def bgnbd_p_alive(params: BgNbd, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """P(still alive at T | x, t_x, T) (BG/NBD: 1 for x = 0)."""
    x, t_x, T = _arrays(x, t_x, T)
    return 1.0 / (1.0 + _dead_odds(params, x, t_x, T))


def _dead_odds(params: BgNbd, x: Array, t_x: Array, T: Array) -> Array:
    r, alpha, a, b, m = params.r, params.alpha, params.a, params.b, _shift(params)
    odds = np.zeros_like(x)
    dropped = _dropped_term(params, x)
    xd = x[dropped]
    odds[dropped] = np.exp(
        np.log(a) - np.log(b + xd - 1 + m) + (r + xd) * (np.log(alpha + T[dropped]) - np.log(alpha + t_x[dropped]))
    )
    return odds


def bgnbd_expected_purchases(params: BgNbd, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """Expected purchases in the next ``t`` units after T, given the customer's history (BG/NBD eq. 10)."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b, m = params.r, params.alpha, params.a, params.b, _shift(params)
    z = t / (alpha + T + t)
    hyper = special.hyp2f1(r + x, b + x + m, a + b + x - 1 + m, z)
    first = (a + b + x - 1 + m) / (a - 1)
    second = 1.0 - np.power((alpha + T) / (alpha + T + t), r + x) * hyper
    return np.asarray(first * second / (1.0 + _dead_odds(params, x, t_x, T)), dtype=np.float64)


def bgnbd_expected_new_customer(params: BgNbd, t: ArrayLike) -> Array:
    """E[X(t)]: expected repeat purchases in a period of length t after the first purchase (BG/NBD eq. 9;
    for MBG/NBD the same conditional expectation at x = t_x = T = 0)."""
    (t,) = _arrays(t)
    r, alpha, a, b, m = params.r, params.alpha, params.a, params.b, _shift(params)
    hyper = special.hyp2f1(r, b + m, a + b - 1 + m, t / (alpha + t))
    scale = (a + b - 1 + m) / (a - 1) / (1.0 + m * a / b)
    return np.asarray(scale * (1.0 - np.power(alpha / (alpha + t), r) * hyper), dtype=np.float64)


def purchases_fit(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Fit[BgNbd]:
    """BG/NBD and MBG/NBD both fitted; the one the data favour (same number of parameters, so the higher
    log-likelihood is also the lower AIC/BIC)."""
    plain, modified = bgnbd_fit(x, t_x, T), bgnbd_fit(x, t_x, T, modified=True)
    return modified if modified.log_likelihood > plain.log_likelihood else plain


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
