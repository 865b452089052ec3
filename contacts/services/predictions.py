"""Predicted figures on ``contacts.Customer`` (P(alive), expected purchases, 12-month value, churn
risk), computed by analytics.predict and handed in as aligned arrays; contacts is the only writer.

Set-based: one UPDATE per chunk from ``unnest`` of the arrays, then one UPDATE that clears the
customers this run did not score (their orders were refunded, or the model stopped being trusted).
The churn-risk band is derived here, in SQL, from the brand's thresholds on the organization.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

PREDICTION_FIELDS = (
    "p_alive",
    "expected_orders_30",
    "expected_orders_90",
    "expected_orders_365",
    "predicted_value_12m",
    "churn_risk",
    "predicted_at",
)
CHUNK = 50_000

_RISK = "CASE WHEN {p} < o.churn_high_below THEN 'high' WHEN {p} < o.churn_medium_below THEN 'medium' ELSE 'low' END"


@dataclass(frozen=True)
class Predictions:
    """Aligned columns, one entry per customer."""

    customer_ids: Sequence[int]
    p_alive: Sequence[float]
    expected_30: Sequence[float]
    expected_90: Sequence[float]
    expected_365: Sequence[float]
    value_12m: Sequence[float]


def customer_predictions_set(*, organization_id: int, predictions: Predictions | None) -> int:
    """Write these customers' predictions and clear everyone else's in the organization (``None``:
    clear all — the brand has no model worth showing). Returns the rows scored."""
    now = timezone.now()
    scored = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if predictions is not None:
            for start in range(0, len(predictions.customer_ids), CHUNK):
                part = slice(start, start + CHUNK)
                cursor.execute(
                    f"""
                    UPDATE contacts_customer c
                       SET p_alive = s.p, expected_orders_30 = s.e30, expected_orders_90 = s.e90,
                           expected_orders_365 = s.e365, predicted_value_12m = round(s.v::numeric, 2),
                           churn_risk = {_RISK.format(p="s.p")}, predicted_at = %(now)s
                      FROM unnest(%(ids)s::bigint[], %(p)s::float8[], %(e30)s::float8[], %(e90)s::float8[],
                                  %(e365)s::float8[], %(v)s::float8[]) AS s(id, p, e30, e90, e365, v),
                           contacts_organization o
                     WHERE c.id = s.id AND c.organization_id = %(org)s AND o.id = c.organization_id
                    """,
                    {
                        "now": now,
                        "org": organization_id,
                        "ids": list(predictions.customer_ids[part]),
                        "p": list(predictions.p_alive[part]),
                        "e30": list(predictions.expected_30[part]),
                        "e90": list(predictions.expected_90[part]),
                        "e365": list(predictions.expected_365[part]),
                        "v": list(predictions.value_12m[part]),
                    },
                )
                scored += cursor.rowcount
        cursor.execute(
            """
            UPDATE contacts_customer
               SET p_alive = NULL, expected_orders_30 = NULL, expected_orders_90 = NULL,
                   expected_orders_365 = NULL, predicted_value_12m = NULL, churn_risk = '', predicted_at = NULL
             WHERE organization_id = %s AND predicted_at IS NOT NULL AND predicted_at < %s
            """,
            [organization_id, now],
        )
    return scored


def customer_churn_risk_refresh(*, organization_id: int) -> int:
    """Re-band every scored customer after the brand changed its thresholds; rows changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE contacts_customer c SET churn_risk = {_RISK.format(p="c.p_alive")}
              FROM contacts_organization o
             WHERE o.id = c.organization_id AND c.organization_id = %s AND c.p_alive IS NOT NULL
               AND c.churn_risk IS DISTINCT FROM ({_RISK.format(p="c.p_alive")})
            """,
            [organization_id],
        )
        return int(cursor.rowcount)
