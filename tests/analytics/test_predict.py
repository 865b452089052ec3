"""Predictive value: the BG/NBD and Gamma-Gamma fits against the papers' CDNOW estimates, recovery of
known parameters from simulated customers, the product's own pass from orders, and the holdout."""

from __future__ import annotations

import csv
import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy import special

from analytics.models import FitStatus, Order, OrderSource, PredictionFit
from analytics.predict import btyd, data, services
from contacts import services as contact_services
from contacts.models import ChurnRisk, Customer, Organization
from tests.factories import OrganizationFactory

CDNOW = Path(__file__).parent / "fixtures" / "cdnow"
SH = ZoneInfo("Asia/Shanghai")
PUBLISHED_BGNBD = btyd.BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
PUBLISHED_GG = btyd.GammaGamma(p=6.25, q=3.74, gamma=15.44)


def _summary_csv() -> dict[str, np.ndarray]:
    with (CDNOW / "cdnow_customers_summary_with_transactions.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k: np.asarray([float(r[k]) for r in rows]) for k in ("ID", "x", "t_x", "T", "zbar")}


def _transactions() -> list[tuple[int, dt.date, Decimal]]:
    out = []
    for line in (CDNOW / "CDNOW_sample.txt").read_text().splitlines():
        _, sample_id, day, _cds, value = line.split()
        out.append((int(sample_id), dt.datetime.strptime(day, "%Y%m%d").date(), Decimal(value)))
    return out


def _close(fitted: object, published: object, rel: float) -> None:
    for name, want in vars(published).items():
        got = getattr(fitted, name)
        assert got == pytest.approx(want, rel=rel), f"{name}: {got} vs published {want}"


def test_bgnbd_recovers_the_published_cdnow_estimates_from_the_papers_summary() -> None:
    s = _summary_csv()
    fit = btyd.bgnbd_fit(s["x"], s["t_x"], s["T"])
    _close(fit.params, PUBLISHED_BGNBD, 0.02)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    assert fit.n == 2357


def test_gamma_gamma_recovers_the_published_cdnow_estimates() -> None:
    s = _summary_csv()
    fit = btyd.gamma_gamma_fit(s["x"], s["zbar"])
    _close(fit.params, PUBLISHED_GG, 0.02)
    assert fit.n == 946  # the customers with a repeat purchase


def test_conditional_expectation_and_p_alive_match_the_papers_worked_example() -> None:
    # Fader, Hardie & Lee (2005), section 5: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases
    # in the next 39 weeks.
    expected = btyd.bgnbd_expected_purchases(PUBLISHED_BGNBD, 39, [2], [30.43], [38.86])[0]
    assert expected == pytest.approx(1.226, abs=0.002)
    # Eq. 13 by hand for the same customer, and a first-time buyer is alive for sure.
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    by_hand = 1 / (1 + a / (b + 2 - 1) * ((alpha + 38.86) / (alpha + 30.43)) ** (r + 2))
    assert btyd.bgnbd_p_alive(PUBLISHED_BGNBD, [2, 0], [30.43, 0], [38.86, 38.86]) == pytest.approx([by_hand, 1.0])


def test_gamma_gamma_expected_spend_weights_the_population_and_the_customer() -> None:
    p, q, g = 6.25, 3.74, 15.44
    population = p * g / (q - 1)
    got = btyd.gamma_gamma_expected_value(PUBLISHED_GG, [0, 4], [0, 40.0])
    weight = (q - 1) / (p * 4 + q - 1)
    assert got[0] == pytest.approx(population)
    assert got[1] == pytest.approx(weight * population + (1 - weight) * 40.0)


def _simulate(
    params: btyd.BgNbd, spend: btyd.GammaGamma, n: int, seed: int, T_range: tuple[float, float] = (26, 78)
) -> dict[str, np.ndarray]:
    """Customers drawn from the models' stories: rate λ ~ Gamma(r, α), drop-out p ~ Beta(a, b) after
    each repeat purchase (MBG/NBD: after the first too), each purchase's value ~ Gamma(p, ν) with
    ν ~ Gamma(q, γ)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1 / params.alpha, n)
    drop = rng.beta(params.a, params.b, n)
    nu = rng.gamma(spend.q, 1 / spend.gamma, n)
    T = rng.uniform(*T_range, n)
    x, t_x, total, t = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    active = ~(rng.random(n) < drop) if params.modified else np.ones(n, dtype=bool)
    while active.any():  # one repeat purchase per round, for everyone still buying
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1 / lam[idx])
        within = idx[t[idx] <= T[idx]]
        active[idx[t[idx] > T[idx]]] = False
        x[within] += 1
        t_x[within] = t[within]
        total[within] += rng.gamma(spend.p, 1 / nu[within])
        active[within[rng.random(len(within)) < drop[within]]] = False
    m = np.where(x > 0, total / np.maximum(x, 1), 0.0)
    return {"x": x, "t_x": t_x, "T": T, "m": m}


@pytest.mark.parametrize("modified", [False, True], ids=["BG/NBD", "MBG/NBD"])
def test_known_parameters_are_recovered_from_simulated_customers(modified: bool) -> None:
    truth = btyd.BgNbd(r=0.6, alpha=5.0, a=1.2, b=3.5, modified=modified)
    spend = btyd.GammaGamma(p=4.0, q=5.0, gamma=60.0)
    s = _simulate(truth, spend, 50_000, seed=1, T_range=(52, 104))
    fitted = btyd.bgnbd_fit(s["x"], s["t_x"], s["T"], modified=modified)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted.params, name) == pytest.approx(getattr(truth, name), rel=0.1), name
    # Gamma-Gamma's three parameters trade off strongly: recovered on its own larger sample below.
    # The data favour the model they came from.
    assert btyd.purchases_fit(s["x"], s["t_x"], s["T"]).params.modified is modified


def test_gamma_gamma_parameters_are_recovered_from_simulated_spend() -> None:
    spend = btyd.GammaGamma(p=4.0, q=5.0, gamma=60.0)
    s = _simulate(btyd.BgNbd(r=2.0, alpha=5.0, a=1.0, b=6.0), spend, 40_000, seed=5)
    assert (s["x"] > 0).sum() > 25_000
    _close(btyd.gamma_gamma_fit(s["x"], s["m"]).params, spend, 0.1)


@pytest.mark.parametrize("modified", [False, True], ids=["BG/NBD", "MBG/NBD"])
def test_expected_purchases_of_a_new_customer_match_simulation(modified: bool) -> None:
    params = btyd.BgNbd(r=0.7, alpha=4.0, a=1.5, b=3.0, modified=modified)
    s = _simulate(params, btyd.GammaGamma(2, 3, 10), 20_000, seed=11, T_range=(20, 20))
    expected = btyd.bgnbd_expected_new_customer(params, [20.0])[0]
    standard_error = s["x"].std() / np.sqrt(len(s["x"]))
    assert abs(s["x"].mean() - expected) < 4 * standard_error
    # At T = 0 the conditional expectation is the unconditional one.
    assert btyd.bgnbd_expected_purchases(params, 20.0, [0], [0], [0])[0] == pytest.approx(expected)


# --- the product's pass over its own orders -----------------------------------------------------------


def _load_cdnow(org: Organization) -> dict[int, int]:
    """The raw CDNOW transactions as this organization's orders (paid at noon Shanghai time)."""
    ids = sorted({sample for sample, _, _ in _transactions()})
    customers = Customer.objects.bulk_create(
        [Customer(organization=org, name=f"CDNOW {i}", marketing_consent=True) for i in ids]
    )
    by_sample = dict(zip(ids, (c.pk for c in customers), strict=True))
    Order.objects.bulk_create(
        [
            Order(
                organization=org,
                customer_id=by_sample[sample],
                amount=value,
                paid_at=dt.datetime.combine(day, dt.time(12), tzinfo=SH),
                source=OrderSource.POS_IMPORT,
                external_ref=f"cdnow-{n}",
            )
            for n, (sample, day, value) in enumerate(_transactions())
        ]
    )
    return by_sample


@pytest.mark.django_db
def test_the_products_summary_of_cdnow_orders_is_the_papers_and_fits_within_5_percent() -> None:
    org = OrganizationFactory()
    by_sample = _load_cdnow(org)
    summary = data.summary(organization_id=org.pk, end=dt.date(1997, 9, 30))
    paid = {s for s, _, v in _transactions() if v > 0}
    # Eight customers' only purchase was $0: nothing was paid, so for us they are not buyers.
    assert len(summary) == len(paid) == 2349
    paper = _summary_csv()
    zero_customers = {by_sample[s] for s, _, v in _transactions() if v <= 0}
    row = {int(c): i for i, c in enumerate(summary.customer_id)}
    checked = 0
    for k, sample in enumerate(paper["ID"].astype(int)):
        if by_sample[sample] in zero_customers:
            continue  # a $0 day is no purchase for us (refunds netted, nothing paid)
        i = row[by_sample[sample]]
        assert summary.x[i] == paper["x"][k]
        assert summary.t_x[i] / 7 == pytest.approx(paper["t_x"][k], abs=0.01)
        assert summary.T[i] / 7 == pytest.approx(paper["T"][k], abs=0.01)
        checked += 1
    assert checked > 2340
    fit = btyd.bgnbd_fit(summary.x, summary.t_x / 7, summary.T / 7)
    _close(fit.params, PUBLISHED_BGNBD, 0.05)
    _close(btyd.gamma_gamma_fit(summary.x, summary.m).params, PUBLISHED_GG, 0.05)


def _expected_by_hand(p: dict[str, object], t: float, x: int, t_x: float, T: float) -> float:
    """BG/NBD eq. 10, or MBG/NBD's (Batislam et al. 2007, eq. 12), written out for one customer,
    independently of the vectorised module."""
    r, alpha, a, b = (float(p[k]) for k in ("r", "alpha", "a", "b"))  # type: ignore[arg-type]
    if p["model"] == "MBG/NBD":
        hyper = special.hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
        numerator = (a + b + x) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyper)
        return float(numerator / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + x)))
    hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    numerator = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyper)
    odds = a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x) if x > 0 else 0.0
    return float(numerator / (1 + odds))


@pytest.mark.django_db
def test_the_holdout_on_cdnow_agrees_with_an_independent_computation() -> None:
    org = OrganizationFactory()
    _load_cdnow(org)
    fit = services.organization_predict(organization_id=org.pk, end=dt.date(1998, 6, 30))
    held = fit.validation
    assert held["cut"] == "1997-09-30" and held["holdout_days"] == 273
    # Independent: purchase days per customer from the raw file, split at the cut.
    cut = dt.date(1997, 9, 30)
    days: dict[int, set[dt.date]] = {}
    for sample, day, value in _transactions():
        if value > 0:
            days.setdefault(sample, set()).add(day)
    p = held["params"]
    groups: dict[str, list[tuple[float, int]]] = {}
    for purchase_days in days.values():
        before = sorted(d for d in purchase_days if d <= cut)
        if not before:
            continue
        x, after = len(before) - 1, sum(1 for d in purchase_days if d > cut)
        t_x, T = (before[-1] - before[0]).days / 7, (cut - before[0]).days / 7
        predicted = _expected_by_hand(p, 273 / 7, x, t_x, T)
        groups.setdefault(f"{min(x, 7)}+" if x >= 7 else str(x), []).append((predicted, after))
    for row in held["groups"]:
        mine = groups[row["repeat_purchases"]]
        assert row["customers"] == len(mine)
        assert row["actual"] == pytest.approx(sum(a for _, a in mine) / len(mine))
        assert row["predicted"] == pytest.approx(sum(q for q, _ in mine) / len(mine), rel=1e-6)
    total_actual = sum(a for rows in groups.values() for _, a in rows)
    assert held["errors"]["actual_total"] == total_actual
    # The 39-week holdout total is forecast 12% short (measured: 0.879 of the actual); well inside the
    # product's bar for showing scores as truth.
    assert -0.2 < held["errors"]["total_error"] < 0
    weekly = held["weekly"]
    assert len(weekly) == 78 and weekly[-1]["actual"] == sum(len(d) - 1 for d in days.values())
    assert [w["holdout"] for w in weekly].index(True) == 39
    assert fit.status == FitStatus.OK


@pytest.mark.django_db
def test_scores_are_written_for_every_buyer_and_banded_by_the_brands_thresholds() -> None:
    org = OrganizationFactory()
    by_sample = _load_cdnow(org)
    fit = services.organization_predict(organization_id=org.pk, end=dt.date(1998, 6, 30))
    assert fit.status == FitStatus.OK and fit.scored == 2349
    assert fit.bgnbd["r"] > 0 and fit.gamma_gamma["q"] > 1 and fit.fit_seconds > 0
    one = Customer.objects.get(pk=by_sample[1])
    assert 0 < one.p_alive <= 1
    assert one.expected_orders_30 <= one.expected_orders_90 <= one.expected_orders_365
    assert one.predicted_value_12m is not None and one.predicted_value_12m >= 0
    band = "high" if one.p_alive < 0.3 else "medium" if one.p_alive < 0.7 else "low"
    assert one.churn_risk == band
    # The brand moves the thresholds: everyone is re-banded in SQL.
    Organization.objects.filter(pk=org.pk).update(churn_high_below=0.99, churn_medium_below=0.995)
    contact_services.customer_churn_risk_refresh(organization_id=org.pk)
    risks = Customer.objects.filter(organization=org, p_alive__lt=0.99)
    assert set(risks.values_list("churn_risk", flat=True)) == {ChurnRisk.HIGH}
    assert Customer.objects.filter(organization=org, p_alive__isnull=True).count() == 8
    # Expected purchases by hand for the first customer.
    s = data.summary(organization_id=org.pk, end=dt.date(1998, 6, 30))
    i = list(s.customer_id).index(one.pk)
    want = _expected_by_hand(fit.bgnbd, 90 / 7, int(s.x[i]), s.t_x[i] / 7, s.T[i] / 7)
    assert one.expected_orders_90 == pytest.approx(want, rel=1e-9)


@pytest.mark.django_db
def test_a_brand_with_too_few_repeat_buyers_gets_no_scores_and_earlier_ones_are_cleared() -> None:
    org = OrganizationFactory()
    customer = Customer.objects.create(
        organization=org, name="一次", p_alive=0.5, predicted_at=dt.datetime(2026, 1, 1, tzinfo=SH)
    )
    Order.objects.create(
        organization=org,
        customer=customer,
        amount=Decimal("99"),
        paid_at=dt.datetime(2026, 3, 1, 12, tzinfo=SH),
        external_ref="one",
    )
    fit = services.organization_predict(organization_id=org.pk, end=dt.date(2026, 6, 1))
    assert fit.status == FitStatus.TOO_FEW and fit.customers == 1 and fit.repeat_customers == 0
    customer.refresh_from_db()
    assert customer.p_alive is None and customer.churn_risk == "" and customer.predicted_at is None
    assert PredictionFit.objects.filter(organization=org).count() == 1


@pytest.mark.django_db
def test_refunded_orders_and_same_day_orders_are_netted_into_purchase_days() -> None:
    org = OrganizationFactory()
    c = Customer.objects.create(organization=org, name="退款")
    noon = dt.datetime(2026, 3, 1, 12, tzinfo=SH)
    rows = [
        ("a", noon, "100", "0", "paid"),
        ("b", noon + dt.timedelta(hours=3), "50", "0", "paid"),  # same Shanghai day: one purchase
        ("c", noon + dt.timedelta(days=10), "80", "80", "refunded"),  # fully refunded: none
        ("d", noon + dt.timedelta(days=20), "60", "20", "partially_refunded"),  # net 40
        ("e", dt.datetime(2026, 3, 31, 23, 30, tzinfo=SH), "30", "0", "paid"),  # 15:30 UTC, still 31 March
    ]
    for ref, paid_at, amount, refunded, status in rows:
        Order.objects.create(
            organization=org,
            customer=c,
            amount=Decimal(amount),
            refunded_amount=Decimal(refunded),
            status=status,
            paid_at=paid_at,
            external_ref=ref,
        )
    s = data.summary(organization_id=org.pk, end=dt.date(2026, 3, 31))
    assert (s.x[0], s.t_x[0], s.T[0]) == (2, 30, 30)
    assert s.m[0] == pytest.approx((40 + 30) / 2)
    assert math.isclose(data.summary(organization_id=org.pk, end=dt.date(2026, 3, 30)).x[0], 1)


def test_the_refit_runs_nightly_in_the_beat() -> None:
    from scrm.schedule import BEAT_SCHEDULE

    assert any(entry["task"] == "analytics.predict.refit_all" for entry in BEAT_SCHEDULE.values())
