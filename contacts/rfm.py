"""RFM: the fixed bands that score a customer's recency, frequency and money, and the eight classic
segments they fall into.

Fixed bands, not quantiles, so a customer's score depends only on their own orders (an incremental
update stays exact) and every RFM segment is expressible as a saved segment with the ``last_order`` /
``order_count`` / ``ltv`` ranges of the segment expression (``rfm_segment_expression``). The scores
are written with the order figures (``contacts.services.customer_order_figures_set``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# Days since the last order (Asia/Shanghai calendar days) → R score.
R_BANDS = [(30, 5), (90, 4), (180, 3), (365, 2)]  # else 1
# Order count → F score.
F_BANDS = [(1, 1), (2, 2), (3, 3), (5, 4)]  # else 5
# LTV in yuan (upper bound exclusive) → M score.
M_BANDS = [(200, 1), (500, 2), (1000, 3), (3000, 4)]  # else 5
# High/low split used by the eight classic segments.
R_HIGH_MAX_DAYS = 90  # R high: last order within 90 days (r ≥ 4)
F_HIGH_MIN_ORDERS = 2  # F high: two orders or more (f ≥ 2)
M_HIGH_MIN_LTV = 1000  # M high: LTV ≥ ¥1,000 (m ≥ 4)


@dataclass(frozen=True)
class RfmSegment:
    code: str
    label: str | Promise
    r_high: bool
    f_high: bool
    m_high: bool
    advice: str | Promise


RFM_SEGMENTS = [
    RfmSegment("important_value", _("重要价值客户"), True, True, True, _("最近买过、常买、花得多：专属服务与新品优先")),
    RfmSegment("important_develop", _("重要发展客户"), True, False, True, _("最近买过、花得多但次数少：促复购")),
    RfmSegment("important_keep", _("重要保持客户"), False, True, True, _("常买、花得多但最近没来：主动关怀召回")),
    RfmSegment("important_retain", _("重要挽留客户"), False, False, True, _("花得多但久未复购：重点挽留")),
    RfmSegment("general_value", _("一般价值客户"), True, True, False, _("最近常买但客单价低：提升客单")),
    RfmSegment("general_develop", _("一般发展客户"), True, False, False, _("新近首购：引导第二单")),
    RfmSegment("general_keep", _("一般保持客户"), False, True, False, _("曾常买、最近没来：优惠唤醒")),
    RfmSegment("general_retain", _("一般挽留客户"), False, False, False, _("低价值且久未购买：低成本触达")),
]
RFM_BY_CODE = {s.code: s for s in RFM_SEGMENTS}


def rfm_segment_expression(code: str, *, today: dt.date | None = None) -> dict[str, object]:
    """The segment expression (contacts.segments) selecting the customers of one RFM segment today."""
    seg = RFM_BY_CODE[code]
    today = today or timezone.localdate()
    boundary = today - dt.timedelta(days=R_HIGH_MAX_DAYS)
    expression: dict[str, object] = {
        "last_order": {"from": boundary.isoformat()}
        if seg.r_high
        else {"to": (boundary - dt.timedelta(days=1)).isoformat()},
        "order_count": {"min": F_HIGH_MIN_ORDERS, "max": None} if seg.f_high else {"min": 1, "max": 1},
        "ltv": {"min": M_HIGH_MIN_LTV, "max": None} if seg.m_high else {"min": None, "max": M_HIGH_MIN_LTV - 0.01},
    }
    return expression
