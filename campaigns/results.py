"""Results: orders attributed to a campaign (last touch within the brand's window), GMV, lift vs holdout.

Read from the analytics app's orders (a lower layer) with set-based SQL; the attribution is written
back through ``analytics.services.order_attribute_campaign`` (docs/architecture.md#layers).

* **Attribution** — an order belongs to the campaign whose *delivered* message was the customer's
  latest before the order, at most ``attribution_days`` earlier (last touch across all campaigns).
* **Lift** — intention to treat: customers planned for the send (whatever WeCom then did) against the
  random holdout, conversion = any paid order within the window after the send. The difference of
  the two rates with a 95% normal-approximation confidence interval; ``significant`` when it
  excludes zero.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from analytics.services import order_attribute_campaign
from campaigns.models import Campaign, CampaignStatus, DeliveryStatus, ExclusionReason
from campaigns.quota import policy_for

Z95 = 1.96
TREATED = (DeliveryStatus.PLANNED, DeliveryStatus.TASK_CREATED, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)


def lift_interval(conv_t: int, n_t: int, conv_c: int, n_c: int) -> dict[str, Any]:
    """Difference of conversion rates (treated − holdout) with a 95% confidence interval."""
    if not n_t or not n_c:
        return {"rate_treated": conv_t / n_t if n_t else None, "rate_holdout": None, "lift": None, "ci": None}
    p1, p0 = conv_t / n_t, conv_c / n_c
    se = math.sqrt(p1 * (1 - p1) / n_t + p0 * (1 - p0) / n_c)
    diff = p1 - p0
    lo, hi = diff - Z95 * se, diff + Z95 * se
    return {
        "rate_treated": p1,
        "rate_holdout": p0,
        "lift": diff,
        "relative_lift": (diff / p0) if p0 else None,
        "ci": [lo, hi],
        "significant": lo > 0 or hi < 0,
    }


def campaign_results_compute(*, campaign_id: int) -> dict[str, Any]:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.planned_at is None:
        return {}
    policy = policy_for(organization_id=campaign.organization_id, channel_account_id=campaign.channel_account_id)
    window = timedelta(days=policy.attribution_days)
    start = campaign.send_after or campaign.planned_at
    with connection.cursor() as cursor:
        params: list[Any] = [
            DeliveryStatus.DELIVERED,
            window,
            campaign.organization_id,
            campaign.pk,
            campaign.pk,
            DeliveryStatus.DELIVERED,
        ]
        cursor.execute(
            """
            SELECT o.id FROM analytics_order o
              JOIN LATERAL (
                    SELECT d.campaign_id FROM campaigns_delivery d
                     WHERE d.customer_id = o.customer_id AND d.status = %s
                       AND d.delivered_at <= o.paid_at AND d.delivered_at >= o.paid_at - %s
                  ORDER BY d.delivered_at DESC, d.id DESC LIMIT 1
              ) lt ON true
             WHERE o.organization_id = %s AND lt.campaign_id = %s
               AND o.customer_id IN (SELECT customer_id FROM campaigns_delivery WHERE campaign_id = %s AND status = %s)
            """,
            params,
        )
        order_ids = [r[0] for r in cursor.fetchall()]
        if order_ids:
            order_attribute_campaign(order_ids=order_ids, campaign_id=campaign.pk)
        cursor.execute(
            "SELECT count(*), COALESCE(sum(amount - refunded_amount), 0), count(DISTINCT customer_id)"
            " FROM analytics_order WHERE campaign_id = %s",
            [campaign.pk],
        )
        n_orders, gmv, buyers = cursor.fetchone()
        # Conversion of the treated group vs the holdout, both measured from the send time.
        cursor.execute(
            """
            SELECT (d.reason = %s) AS held, count(*),
                   count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM analytics_order o WHERE o.customer_id = d.customer_id
                          AND o.paid_at >= %s AND o.paid_at < %s)),
                   COALESCE(sum((SELECT sum(o.amount - o.refunded_amount) FROM analytics_order o
                                  WHERE o.customer_id = d.customer_id AND o.paid_at >= %s AND o.paid_at < %s)), 0)
              FROM campaigns_delivery d
             WHERE d.campaign_id = %s AND d.customer_id IS NOT NULL
               AND (d.status = ANY(%s) OR d.reason = %s)
          GROUP BY 1
            """,
            [
                ExclusionReason.HOLDOUT,
                start,
                start + window,
                start,
                start + window,
                campaign.pk,
                list(TREATED),
                ExclusionReason.HOLDOUT,
            ],
        )
        groups = {bool(held): (int(n), int(conv), Decimal(g)) for held, n, conv, g in cursor.fetchall()}
    n_t, conv_t, gmv_t = groups.get(False, (0, 0, Decimal(0)))
    n_c, conv_c, gmv_c = groups.get(True, (0, 0, Decimal(0)))
    results = {
        "computed_at": timezone.now().isoformat(),
        "window_days": policy.attribution_days,
        "orders": int(n_orders),
        "buyers": int(buyers),
        "gmv": str(Decimal(gmv).quantize(Decimal("0.01"))),
        "treated": {"customers": n_t, "converted": conv_t, "gmv": str(gmv_t)},
        "holdout": {"customers": n_c, "converted": conv_c, "gmv": str(gmv_c)},
        **lift_interval(conv_t, n_t, conv_c, n_c),
    }
    Campaign.objects.filter(pk=campaign.pk).update(results=results)
    campaign.results = results
    return results


def campaigns_results_compute_all(*, days: int = 30) -> int:
    since = timezone.now() - timedelta(days=days)
    ids = list(
        Campaign.objects.filter(
            status__in=[CampaignStatus.SENDING, CampaignStatus.DONE], planned_at__gte=since
        ).values_list("pk", flat=True)
    )
    for campaign_id in ids:
        campaign_results_compute(campaign_id=campaign_id)
    return len(ids)


# The response rate assumed for a segment no past campaign has measured: a Beta(2, 98) prior (2%,
# worth 100 customers of evidence), which measured results then outweigh as they accumulate.
PRIOR_RATE = 0.02
PRIOR_WEIGHT = 100


def segment_response_rates(*, organization_id: int, segment_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per segment, the response rate learned from past campaigns' measured results.

    The rate is the treated group's conversion (a paid order within the attribution window after the
    send, :func:`campaign_results_compute`), pooled over the segment's campaigns whose results were
    measured against a holdout, and shrunk towards :data:`PRIOR_RATE`:
    ``(converted + PRIOR_RATE·PRIOR_WEIGHT) / (customers + PRIOR_WEIGHT)``. A segment without any
    measured campaign gets the prior itself (``source`` ``prior``).
    """
    out: dict[int, dict[str, Any]] = {
        sid: {"rate": PRIOR_RATE, "customers": 0, "converted": 0, "source": "prior"} for sid in segment_ids
    }
    if not segment_ids:
        return out
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT segment_id, sum((results->'treated'->>'customers')::int),
                   sum((results->'treated'->>'converted')::int), count(*)
              FROM campaigns_campaign
             WHERE organization_id = %s AND segment_id = ANY(%s::bigint[])
               AND results ? 'treated' AND COALESCE((results->'holdout'->>'customers')::int, 0) > 0
          GROUP BY segment_id
            """,
            [organization_id, list(segment_ids)],
        )
        for sid, n, conv, campaigns in cursor.fetchall():
            n, conv = int(n or 0), int(conv or 0)
            out[int(sid)] = {
                "rate": (conv + PRIOR_RATE * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT),
                "customers": n,
                "converted": conv,
                "campaigns": int(campaigns),
                "source": "segment" if n else "prior",
            }
    return out
