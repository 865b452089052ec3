"""Predictive-value benchmark (issue 18): scoring every buyer and refitting the models, next to a raw
SQL pass over the same orders.

* scoring = the summary query (purchase days per customer) + the closed formulas + the set-based write
  of every buyer's scores, vs. one raw aggregate over the same orders (count, first and last day and
  total per customer, nothing written) — target within 5×;
* refit = the whole nightly job (``organization_predict``: both purchase models and Gamma-Gamma fitted,
  the time holdout refitted and compared, scores written), reported with its parts.

    python -m bench.predict --customers 1000000 --orders 10000000 [--json PATH]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import common, datagen_orders

TARGETS = {"scoring_vs_raw_pass": 5.0}
RAW_AGGREGATE = """
    SELECT customer_id, COUNT(DISTINCT (paid_at AT TIME ZONE 'Asia/Shanghai')::date),
           MIN(paid_at), MAX(paid_at), SUM(amount - refunded_amount)
      FROM analytics_order
     WHERE organization_id = %s AND status <> 'refunded'
  GROUP BY customer_id
"""


def _timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn()
    return out, round((time.perf_counter() - started) * 1000, 1)


def run(*, customers: int, orders: int, json_path: str | None) -> dict[str, Any]:
    ds, n_orders = datagen_orders.generate(customers=customers, orders=orders)
    from django.db import connection
    from django.utils import timezone

    from analytics.predict import btyd, data, services

    org_id = ds.organization_id
    end = timezone.localdate()

    def raw() -> None:
        with connection.cursor() as cursor:
            cursor.execute(RAW_AGGREGATE, [org_id])
            cursor.fetchall()

    raw()  # warm the cache the same way for both
    _, raw_ms = _timed(raw)
    summary, summary_ms = _timed(lambda: data.summary(organization_id=org_id, end=end))
    week = 7.0
    purchases, purchases_ms = _timed(lambda: btyd.purchases_fit(summary.x, summary.t_x / week, summary.T / week))
    spend, spend_ms = _timed(lambda: btyd.gamma_gamma_fit(summary.x, summary.m))
    predictions, formulas_ms = _timed(lambda: services.scores_compute(summary, purchases.params, spend.params))
    from contacts import services as contact_services

    _, write_ms = _timed(
        lambda: contact_services.customer_predictions_set(organization_id=org_id, predictions=predictions)
    )
    fit, refit_ms = _timed(lambda: services.organization_predict(organization_id=org_id, end=end))
    scoring_ms = round(summary_ms + formulas_ms + write_ms, 1)
    metrics = {
        "scoring_ms": scoring_ms,
        "summary_query_ms": summary_ms,
        "formulas_ms": formulas_ms,
        "write_ms": write_ms,
        "purchase_models_fit_ms": purchases_ms,
        "gamma_gamma_fit_ms": spend_ms,
        "refit_total_ms": refit_ms,
        "buyers": len(summary),
        "scored": fit.scored,
        "status": fit.status,
        "model": fit.bgnbd.get("model", ""),
    }
    ratios = {"scoring_vs_raw_pass": common.ratio(scoring_ms, raw_ms)}
    ok = ratios["scoring_vs_raw_pass"] <= TARGETS["scoring_vs_raw_pass"]
    path = common.write_result(
        name="predict",
        scale={"customers": ds.customers, "orders": n_orders},
        metrics=metrics,
        baseline={"raw_pass_ms": raw_ms},
        ratios=ratios,
        targets=TARGETS,
        ok=ok,
        path=json_path,
    )
    print(f"\npredict @ {ds.customers:,} customers / {n_orders:,} orders (ms)\n")
    common.print_table(
        [
            [
                "scoring (summary + formulas + write)",
                scoring_ms,
                "raw pass over the orders",
                raw_ms,
                ratios["scoring_vs_raw_pass"],
            ],
            ["  summary query", summary_ms, "", "", ""],
            ["  formulas", formulas_ms, "", "", ""],
            ["  write scores", write_ms, "", "", ""],
            ["fit BG/NBD + MBG/NBD", purchases_ms, "", "", ""],
            ["fit Gamma-Gamma", spend_ms, "", "", ""],
            ["refit, whole nightly job", refit_ms, "", "", ""],
        ],
        ["figure", "ms", "baseline", "ms", "ratio"],
    )
    print(f"\n{len(summary):,} buyers, model {metrics['model']}, status {fit.status}; ok: {ok}\n→ {path}")
    return {"metrics": metrics, "ratios": ratios, "ok": ok}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, help="default: 10 per customer")
    parser.add_argument("--db", default="scrm_bench_reports", help="scratch database (created and reused)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    common.setup_django(args.db)
    run(customers=args.customers, orders=args.orders or args.customers * 10, json_path=args.json)


if __name__ == "__main__":
    main()
