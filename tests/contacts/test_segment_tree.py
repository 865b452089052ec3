"""contacts.segments rule trees: random trees (depth ≤ 4, every condition kind — behaviour windows,
coupons and journeys included) compiled to SQL and to a queryset, against a brute-force Python evaluation, for the operator,
a manager and a store staff member's scope; plus the tree's validation limits and its sentence.

One dataset is built once for the hypothesis test; each example only runs queries.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.models import Order
from campaigns.models import Campaign, Delivery
from contacts import segments, services
from contacts.access import Actor
from contacts.models import Customer, CustomerGroupMember, CustomerTag, CustomField, Follow, Role
from journeys.models import Enrollment, Journey, JourneyStep, StepRun
from offers.models import CouponTemplate, IssuedCoupon, Redemption
from tests.factories import (
    CustomerFactory,
    CustomerGroupFactory,
    OrganizationFactory,
    StaffFactory,
    StoreFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db
SH = segments.SHANGHAI
NOW = dt.datetime(2026, 3, 20, 15, 0, tzinfo=SH)
TODAY = NOW.date()
CHANNELS = ["wecom", "douyin", "meituan"]
STAGES = ["lead", "customer", "repeat"]
RISKS = ["", "high", "low"]
CATEGORIES = ["母婴", "护肤"]
N_TAGS, N_STORES = 6, 3
# Two journeys of two steps each: step i belongs to journey i // 2.
N_JOURNEYS, STEPS_PER_JOURNEY = 2, 2
COUPON_KINDS = ["unused", "redeemed", "reverted", "void"]
ENROLLMENT_STATES = ["waiting", "holdout", "done", "exited"]


def ago(days: int, minutes: int = 0) -> dt.datetime:
    """``days`` Beijing days before today, ``minutes`` after that day's midnight."""
    return dt.datetime.combine(TODAY - dt.timedelta(days=days), dt.time.min, tzinfo=SH) + dt.timedelta(minutes=minutes)


def near_midnight(rng: random.Random, max_days: int) -> dt.datetime:
    return ago(rng.randint(0, max_days), rng.choice([0, 1, 600, 1439]))


def make_rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    rows = []
    for _ in range(n):
        orders = [
            {
                "at": near_midnight(rng, 90),
                "amount": Decimal(rng.choice(["30.00", "100.00", "250.50"])),
                "category": rng.choice([None, *CATEGORIES]),
                "store": rng.choice([0, 1, 2]),
                "refunded": rng.random() < 0.15,
            }
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))
        ]
        rows.append(
            {
                "tags": rng.sample(range(N_TAGS), rng.randint(0, 3)),
                "store": rng.choice([0, 1, 2, None]),
                "channel": rng.choice(CHANNELS),
                "stage": rng.choice(STAGES),
                "risk": rng.choice(RISKS),
                "consent": rng.random() < 0.6,
                "opted_out": rng.random() < 0.15,
                "created": near_midnight(rng, 6),
                "last_order": None if rng.random() < 0.3 else near_midnight(rng, 6),
                "ltv": Decimal(rng.choice(["0", "50", "100.50", "200"])),
                "order_count": rng.randint(0, 3),
                "p_alive": rng.choice([None, 0.2, 0.8]),
                "value": rng.choice([None, Decimal("100"), Decimal("900")]),
                "city": rng.choice([None, "上海", "杭州"]),
                "follows": [(s, rng.random() < 0.3) for s in rng.sample(range(2), rng.randint(0, 2))],
                "groups": [
                    (g, near_midnight(rng, 20), near_midnight(rng, 5) if rng.random() < 0.4 else None)
                    for g in rng.sample(range(2), rng.randint(0, 2))
                ],
                "orders": orders,
                "deliveries": [(k, near_midnight(rng, 14)) for k in rng.sample(range(2), rng.randint(0, 2))],
                "coupons": [make_coupon(rng, k) for k in rng.sample(range(2), rng.choice([0, 1, 1, 2]))],
                "enrollments": [make_enrollment(rng, j) for j in rng.sample(range(N_JOURNEYS), rng.randint(0, 2))],
            }
        )
        kept = [o["at"] for o in orders if not o["refunded"]]
        rows[-1]["first_order"] = min(kept) if kept else None
    return rows


def make_coupon(rng: random.Random, template: int) -> dict[str, Any]:
    """A coupon of template 0 or 1: unused, redeemed, redeemed then given back by a refund, or void;
    valid from a few days ago (or tomorrow) for 1–15 days, so some are expired and some not yet valid."""
    start = NOW + dt.timedelta(days=1) if rng.random() < 0.1 else near_midnight(rng, 10)
    kind = rng.choice(COUPON_KINDS)
    redeemed = (
        {"at": near_midnight(rng, 20), "store": rng.choice([0, 1, 2])} if kind in ("redeemed", "reverted") else None
    )
    return {
        "template": template,
        "kind": kind,
        "valid_from": start,
        "valid_until": start + dt.timedelta(days=rng.randint(1, 15), minutes=rng.choice([0, 1, 900])),
        "redeemed": redeemed,
    }


def make_enrollment(rng: random.Random, journey: int) -> dict[str, Any]:
    state = rng.choice(ENROLLMENT_STATES)
    # A holdout enrollment that ran its course is "done" but still in the holdout.
    in_holdout = state == "holdout" or (state == "done" and rng.random() < 0.2)
    steps = [] if in_holdout else rng.sample(range(STEPS_PER_JOURNEY), rng.randint(0, 2))
    return {
        "journey": journey,
        "state": state,
        "in_holdout": in_holdout,
        "entered": near_midnight(rng, 20),
        "exited": near_midnight(rng, 5) if state in ("done", "exited") else None,
        "runs": [(journey * STEPS_PER_JOURNEY + k, near_midnight(rng, 10)) for k in steps],
    }


# --- the meaning, written the obvious way ----------------------------------------------------------


def local_day(moment: dt.datetime) -> str:
    return moment.astimezone(SH).date().isoformat()


def in_window(moment: dt.datetime | None, window: dict[str, Any]) -> bool:
    if moment is None:
        return False
    day = local_day(moment)
    if "within_days" in window:
        return day >= (TODAY - dt.timedelta(days=window["within_days"] - 1)).isoformat()
    return ("from" not in window or day >= window["from"]) and ("to" not in window or day <= window["to"])


def in_range(value: Any, span: dict[str, Any]) -> bool:
    if value is None:
        return False
    if span.get("min") is not None and Decimal(str(value)) < Decimal(str(span["min"])):
        return False
    return not (span.get("max") is not None and Decimal(str(value)) > Decimal(str(span["max"])))


def leaf_match(row: dict[str, Any], e: dict[str, Any]) -> bool:
    tags = set(row["tags"])
    t = e.get("tags", {})
    if (
        not set(t.get("all", [])) <= tags
        or (t.get("any") and not tags & set(t["any"]))
        or tags & set(t.get("none", []))
    ):
        return False
    checks = [
        ("stores", row["store"]),
        ("source_channels", row["channel"]),
        ("lifecycle", row["stage"]),
        ("churn_risk", row["risk"]),
    ]
    for key, value in checks:
        if e.get(key) and value not in e[key]:
            return False
    if e.get("follower_staff") and not any(s in e["follower_staff"] and not gone for s, gone in row["follows"]):
        return False
    if e.get("groups") and not any(g in e["groups"] and left is None for g, _joined, left in row["groups"]):
        return False
    for key in ("created", "last_order"):
        span = e.get(key)
        if span and (row[key] is None or not in_window(row[key], span)):
            return False
    for key, value in (
        ("ltv", row["ltv"]),
        ("order_count", row["order_count"]),
        ("p_alive", row["p_alive"]),
        ("predicted_value_12m", row["value"]),
    ):
        if e.get(key) and not in_range(value, e[key]):
            return False
    city = e.get("custom", {}).get("city")
    if city:
        if "set" in city and (row["city"] is not None) != city["set"]:
            return False
        if "equals" in city and row["city"] != city["equals"]:
            return False
    consent = e.get("consent", "any")
    if consent == "granted" and not (row["consent"] and not row["opted_out"]):
        return False
    if consent == "not_granted" and not (not row["consent"] and not row["opted_out"]):
        return False
    if consent == "opted_out" and not row["opted_out"]:
        return False
    kept = [o for o in row["orders"] if not o["refunded"]]
    if "orders" in e:
        o_e = e["orders"]
        if not any(
            (not {"within_days", "from", "to"} & set(o_e) or in_window(o["at"], o_e))
            and ("amount_min" not in o_e or o["amount"] >= Decimal(str(o_e["amount_min"])))
            and ("amount_max" not in o_e or o["amount"] <= Decimal(str(o_e["amount_max"])))
            and ("category" not in o_e or o["category"] == o_e["category"])
            and ("store_ids" not in o_e or o["store"] in o_e["store_ids"])
            for o in kept
        ):
            return False
    if "no_repeat" in e:
        span = dt.timedelta(days=e["no_repeat"]["days"])
        if not kept:
            return False
        first = min(o["at"] for o in kept)
        if first > NOW - span or any(first < o["at"] <= first + span for o in kept):
            return False
    if "broadcast" in e:
        b = e["broadcast"]
        if not any(
            in_window(at, b) and ("campaign_ids" not in b or k in b["campaign_ids"]) for k, at in row["deliveries"]
        ):
            return False
    if "first_order" in e and not in_window(row["first_order"], e["first_order"]):
        return False
    if "coupon_redeemed" in e:
        c_e = e["coupon_redeemed"]
        if not any(
            c["kind"] == "redeemed"
            and (not {"within_days", "from", "to"} & set(c_e) or in_window(c["redeemed"]["at"], c_e))
            and ("template_ids" not in c_e or c["template"] in c_e["template_ids"])
            and ("store_ids" not in c_e or c["redeemed"]["store"] in c_e["store_ids"])
            for c in row["coupons"]
        ):
            return False
    if "coupon_valid" in e:
        v_e = e["coupon_valid"]
        horizon = None
        if "expires_within_days" in v_e:
            horizon = dt.datetime.combine(TODAY + dt.timedelta(days=v_e["expires_within_days"]), dt.time.min, tzinfo=SH)
        if not any(
            c["kind"] in ("unused", "reverted")
            and c["valid_from"] <= NOW < c["valid_until"]
            and ("template_ids" not in v_e or c["template"] in v_e["template_ids"])
            and (horizon is None or c["valid_until"] < horizon)
            for c in row["coupons"]
        ):
            return False
    if "journey" in e:
        j_e = e["journey"]
        timed = bool({"within_days", "from", "to"} & set(j_e))
        outcome = j_e.get("outcome", "reached")

        def walked(en: dict[str, Any]) -> bool:
            if en["in_holdout"] or ("journey_ids" in j_e and en["journey"] not in j_e["journey_ids"]):
                return False
            if "step_ids" in j_e:
                return any(s in j_e["step_ids"] and (not timed or in_window(at, j_e)) for s, at in en["runs"])
            if outcome == "reached":
                return not timed or in_window(en["entered"], j_e)
            wanted = "done" if outcome == "completed" else "exited"
            return en["state"] == wanted and (not timed or in_window(en["exited"], j_e))

        if not any(walked(en) for en in row["enrollments"]):
            return False
    for key, column in (("group_joined", 1), ("group_left", 2)):
        if key in e:
            g_e = e[key]
            if not any(
                in_window(m[column], g_e) and ("group_ids" not in g_e or m[0] in g_e["group_ids"])
                for m in row["groups"]
            ):
                return False
    return True


def tree_match(row: dict[str, Any], node: dict[str, Any]) -> bool:
    if set(node) == {"all"}:
        return all(tree_match(row, child) for child in node["all"])
    if set(node) == {"any"}:
        return any(tree_match(row, child) for child in node["any"])
    if set(node) == {"not"}:
        return not tree_match(row, node["not"])
    return leaf_match(row, node)


# --- random trees (indices; remapped to the dataset's ids) -----------------------------------------


def window() -> st.SearchStrategy[dict[str, Any]]:
    days = st.integers(0, 20).map(lambda n: (TODAY - dt.timedelta(days=n)).isoformat())
    return st.one_of(
        st.builds(lambda n: {"within_days": n}, st.sampled_from([1, 2, 7, 30])),
        st.tuples(days, days).map(lambda p: {"from": min(p), "to": max(p)}),
        days.map(lambda d: {"from": d}),
    )


def sub(values: list[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True)


def range_of(values: list[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(st.sampled_from(values), st.sampled_from(values), st.booleans(), st.booleans()).map(
        lambda p: (
            {k: v for k, v, keep in (("min", min(p[:2]), p[2]), ("max", max(p[:2]), p[3])) if keep}
            or {"min": min(p[:2])}
        )
    )


def tag_part() -> st.SearchStrategy[dict[str, Any]]:
    ids = st.lists(st.integers(0, N_TAGS - 1), max_size=2, unique=True)
    return st.tuples(ids, ids, ids).map(
        lambda p: {"all": p[0], "any": p[1], "none": [i for i in p[2] if i not in p[0] and i not in p[1]]}
    )


CONDITION = {
    "tags": tag_part(),
    "stores": sub([0, 1, 2]),
    "source_channels": sub(CHANNELS),
    "lifecycle": sub(STAGES),
    "churn_risk": sub(["high", "medium", "low"]),
    "follower_staff": sub([0, 1]),
    "groups": sub([0, 1]),
    "created": window().filter(lambda w: "within_days" not in w),
    "last_order": window().filter(lambda w: "within_days" not in w),
    "ltv": range_of([0, 50, 100.5, 200]),
    "order_count": range_of([0, 1, 2, 3]),
    "p_alive": range_of([0, 0.5, 1]),
    "predicted_value_12m": range_of([0, 100, 500]),
    "custom": st.one_of(
        st.sampled_from(["上海", "杭州"]).map(lambda c: {"city": {"equals": c}}),
        st.booleans().map(lambda b: {"city": {"set": b}}),
    ),
    "consent": st.sampled_from(["granted", "not_granted", "opted_out"]),
    "orders": st.tuples(
        window() | st.just({}),
        st.sampled_from([None, 50, 100]),
        st.sampled_from([None, 100, 250.5]),
        st.sampled_from([None, *CATEGORIES]),
        st.none() | sub([0, 1, 2]),
    ).map(
        lambda p: {
            **p[0],
            **({"amount_min": p[1]} if p[1] is not None else {}),
            **({"amount_max": p[2]} if p[2] is not None and (p[1] is None or p[2] >= p[1]) else {}),
            **({"category": p[3]} if p[3] else {}),
            **({"store_ids": p[4]} if p[4] else {}),
        }
    ),
    "no_repeat": st.sampled_from([1, 7, 30, 60]).map(lambda n: {"days": n}),
    "broadcast": st.tuples(window(), st.none() | sub([0, 1])).map(
        lambda p: {**p[0], **({"campaign_ids": p[1]} if p[1] else {})}
    ),
    "group_joined": st.tuples(window(), st.none() | sub([0, 1])).map(
        lambda p: {**p[0], **({"group_ids": p[1]} if p[1] else {})}
    ),
    "group_left": st.tuples(window(), st.none() | sub([0, 1])).map(
        lambda p: {**p[0], **({"group_ids": p[1]} if p[1] else {})}
    ),
    "first_order": window(),
    "coupon_redeemed": st.tuples(window() | st.just({}), st.none() | sub([0, 1]), st.none() | sub([0, 1, 2])).map(
        lambda p: {
            **p[0],
            **({"template_ids": p[1]} if p[1] else {}),
            **({"store_ids": p[2]} if p[2] else {}),
        }
    ),
    "coupon_valid": st.tuples(st.none() | sub([0, 1]), st.sampled_from([None, 1, 3, 7])).map(
        lambda p: {
            **({"template_ids": p[0]} if p[0] else {}),
            **({"expires_within_days": p[1]} if p[1] else {}),
        }
    ),
    "journey": st.tuples(
        window() | st.just({}),
        st.sampled_from(["reached", "reached", "completed", "exited"]),
        st.none() | sub(list(range(N_JOURNEYS))),
        st.none() | sub(list(range(N_JOURNEYS * STEPS_PER_JOURNEY))),
    ).map(lambda p: journey_condition(*p)),
}


D3, D9 = (TODAY - dt.timedelta(days=3)).isoformat(), (TODAY - dt.timedelta(days=9)).isoformat()
SWEEP: list[dict[str, Any]] = [
    {"first_order": {"within_days": 30}},
    {"first_order": {"from": D9, "to": D3}},
    {"coupon_redeemed": {}},
    {"coupon_redeemed": {"within_days": 7}},
    {"coupon_redeemed": {"template_ids": [0]}},
    {"coupon_redeemed": {"store_ids": [1]}},
    {"coupon_redeemed": {"from": D9, "to": D3, "template_ids": [1], "store_ids": [0, 2]}},
    {"coupon_valid": {}},
    {"coupon_valid": {"template_ids": [1]}},
    {"coupon_valid": {"expires_within_days": 3}},
    {"coupon_valid": {"expires_within_days": 7, "template_ids": [0]}},
    {"journey": {}},
    {"journey": {"journey_ids": [0]}},
    {"journey": {"within_days": 7}},
    {"journey": {"outcome": "completed"}},
    {"journey": {"outcome": "exited", "within_days": 3}},
    {"journey": {"outcome": "completed", "journey_ids": [1], "from": D9}},
    {"journey": {"step_ids": [1]}},
    {"journey": {"journey_ids": [1], "step_ids": [2, 3], "within_days": 7}},
    {"broadcast": {"within_days": 7, "campaign_ids": [1]}},
]


def journey_condition(
    window_: dict[str, Any], outcome: str, journeys: list[int] | None, steps: list[int] | None
) -> dict[str, Any]:
    """Steps only with "reached", and only steps of the chosen journeys (else the tree is a 400)."""
    steps = [s for s in steps or [] if outcome == "reached" and (not journeys or s // STEPS_PER_JOURNEY in journeys)]
    return {
        **window_,
        **({"outcome": outcome} if outcome != "reached" else {}),
        **({"journey_ids": journeys} if journeys else {}),
        **({"step_ids": steps} if steps else {}),
    }


@st.composite
def leaf(draw: Any) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(CONDITION)), min_size=0, max_size=2, unique=True))
    return {key: draw(CONDITION[key]) for key in keys}


def tree(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    if depth == 1:
        return leaf()
    inner = tree(depth - 1)
    return st.one_of(
        leaf(),
        st.lists(inner, min_size=1, max_size=3).map(lambda c: {"all": c}),
        st.lists(inner, min_size=1, max_size=3).map(lambda c: {"any": c}),
        inner.map(lambda c: {"not": c}),
    )


def remap(node: Any, ids: dict[str, list[int]]) -> Any:
    if isinstance(node, dict) and set(node) & {"all", "any"} and len(node) == 1:
        ((key, children),) = node.items()
        return {key: [remap(c, ids) for c in children]}
    if isinstance(node, dict) and set(node) == {"not"}:
        return {"not": remap(node["not"], ids)}
    out = dict(node)
    if "tags" in out:
        out["tags"] = {k: [ids["tags"][i] for i in v] for k, v in out["tags"].items()}
    for key, kind in (("stores", "stores"), ("follower_staff", "staff"), ("groups", "groups")):
        if key in out:
            out[key] = [ids[kind][i] for i in out[key]]
    for key, field, kind in (
        ("orders", "store_ids", "stores"),
        ("broadcast", "campaign_ids", "campaigns"),
        ("group_joined", "group_ids", "groups"),
        ("group_left", "group_ids", "groups"),
        ("coupon_redeemed", "template_ids", "templates"),
        ("coupon_redeemed", "store_ids", "stores"),
        ("coupon_valid", "template_ids", "templates"),
        ("journey", "journey_ids", "journeys"),
        ("journey", "step_ids", "steps"),
    ):
        if key in out and field in out[key]:
            out[key] = {**out[key], field: [ids[kind][i] for i in out[key][field]]}
    return out


def build(org: Any, rows: list[dict[str, Any]]) -> tuple[list[Customer], dict[str, list[int]]]:
    ids = {
        "stores": [StoreFactory(organization=org).pk for _ in range(N_STORES)],
        "staff": [StaffFactory(organization=org).pk for _ in range(2)],
        "groups": [CustomerGroupFactory(organization=org).pk for _ in range(2)],
        "tags": [TagFactory(group__organization=org).pk for _ in range(N_TAGS)],
    }
    ids["campaigns"] = [Campaign.objects.create(organization=org, name=f"群发{i}").pk for i in range(2)]
    ids["templates"] = [
        CouponTemplate.objects.create(
            organization=org, name=f"券{i}", amount_off=5, validity="relative", valid_days=30, stock=10_000
        ).pk
        for i in range(2)
    ]
    journeys = [Journey.objects.create(organization=org, name=f"旅程{i}", trigger="manual") for i in range(N_JOURNEYS)]
    ids["journeys"] = [j.pk for j in journeys]
    ids["steps"] = [
        JourneyStep.objects.create(journey=j, position=k + 1, kind="wait_days", days=1).pk
        for j in journeys
        for k in range(STEPS_PER_JOURNEY)
    ]
    CustomField.objects.create(organization=org, key="city", label="城市", kind="text")
    customers = Customer.objects.bulk_create(
        Customer(
            organization=org,
            name=f"c{i}",
            home_store_id=ids["stores"][r["store"]] if r["store"] is not None else None,
            source_channel=r["channel"],
            lifecycle=r["stage"],
            churn_risk=r["risk"],
            marketing_consent=r["consent"],
            opted_out_at=ago(30) if r["opted_out"] else None,
            created_at=r["created"],
            last_order_at=r["last_order"],
            first_order_at=r["first_order"],
            ltv=r["ltv"],
            order_count=r["order_count"],
            p_alive=r["p_alive"],
            predicted_value_12m=r["value"],
            attributes={"city": r["city"]} if r["city"] else {},
        )
        for i, r in enumerate(rows)
    )
    pairs = list(zip(customers, rows, strict=True))
    CustomerTag.objects.bulk_create(
        CustomerTag(organization=org, customer=c, tag_id=ids["tags"][t]) for c, r in pairs for t in r["tags"]
    )
    services.customer_tag_ids_rebuild(organization_id=org.pk)
    Follow.objects.bulk_create(
        Follow(organization=org, customer=c, staff_id=ids["staff"][s], deleted_at=ago(3) if gone else None)
        for c, r in pairs
        for s, gone in r["follows"]
    )
    CustomerGroupMember.objects.bulk_create(
        CustomerGroupMember(
            organization=org,
            customer=c,
            group_id=ids["groups"][g],
            member_id=f"m{c.pk}",
            joined_at=joined,
            left_at=left,
        )
        for c, r in pairs
        for g, joined, left in r["groups"]
    )
    Order.objects.bulk_create(
        Order(
            organization=org,
            customer=c,
            store_id=ids["stores"][o["store"]],
            amount=o["amount"],
            refunded_amount=o["amount"] if o["refunded"] else 0,
            status="refunded" if o["refunded"] else "paid",
            paid_at=o["at"],
            source="api",
            external_ref=f"{c.pk}-{n}",
            items=[{"name": "商品", **({"category": o["category"]} if o["category"] else {})}],
        )
        for c, r in pairs
        for n, o in enumerate(r["orders"])
    )
    Delivery.objects.bulk_create(
        Delivery(organization=org, campaign_id=ids["campaigns"][k], customer=c, status="delivered", delivered_at=at)
        for c, r in pairs
        for k, at in r["deliveries"]
    )
    coupons = IssuedCoupon.objects.bulk_create(
        IssuedCoupon(
            organization=org,
            template_id=ids["templates"][k["template"]],
            customer=c,
            code=f"C{c.pk}T{k['template']}",
            token=f"t{c.pk}-{k['template']}",
            status={"redeemed": "redeemed", "void": "void"}.get(k["kind"], "issued"),
            valid_from=k["valid_from"],
            valid_until=k["valid_until"],
            redeemed_at=k["redeemed"]["at"] if k["kind"] == "redeemed" else None,
        )
        for c, r in pairs
        for k in r["coupons"]
    )
    plans = [k for _c, r in pairs for k in r["coupons"]]
    Redemption.objects.bulk_create(
        Redemption(
            organization=org,
            coupon=coupon,
            store_id=ids["stores"][k["redeemed"]["store"]],
            external_ref=f"r{coupon.pk}",
            amount=Decimal("50.00"),
            redeemed_at=k["redeemed"]["at"],
            reverted_at=NOW if k["kind"] == "reverted" else None,
        )
        for coupon, k in zip(coupons, plans, strict=True)
        if k["redeemed"]
    )
    enrollments = Enrollment.objects.bulk_create(
        Enrollment(
            organization=org,
            journey_id=ids["journeys"][en["journey"]],
            customer=c,
            state=en["state"],
            in_holdout=en["in_holdout"],
            entered_at=en["entered"],
            exited_at=en["exited"],
        )
        for c, r in pairs
        for en in r["enrollments"]
    )
    runs = [en for _c, r in pairs for en in r["enrollments"]]
    StepRun.objects.bulk_create(
        StepRun(enrollment=enrollment, step_id=ids["steps"][s], visit=1, claimed_at=at, outcome="waited")
        for enrollment, en in zip(enrollments, runs, strict=True)
        for s, at in en["runs"]
    )
    return customers, ids


def test_the_random_trees_draw_every_condition_kind() -> None:
    # A condition registered without a strategy and a brute force here would go untested.
    assert set(CONDITION) == segments.known_keys()


def test_random_trees_match_brute_force_for_every_role(db: Any) -> None:
    org = OrganizationFactory()
    noise = CustomerFactory()  # another organization never leaks in
    Order.objects.create(
        organization=noise.organization, customer=noise, amount=1, paid_at=NOW, source="api", external_ref="x"
    )
    rows = make_rows(random.Random(15), 60)
    customers, ids = build(org, rows)
    pairs = list(zip(customers, rows, strict=True))
    home = {c.pk: c.home_store_id for c in customers}
    scopes = {
        Role.OPERATOR: None,
        Role.MANAGER: frozenset(ids["stores"][:2]),
        Role.STORE_STAFF: frozenset(ids["stores"][2:]),
    }
    actors = {
        role: Actor(user_id=0, organization=org, staff=None, role=role, store_ids=store_ids)  # type: ignore[arg-type]
        for role, store_ids in scopes.items()
    }
    seen_nonempty = []

    def compare(expression: dict[str, Any], *, every_form: bool = True) -> set[int]:
        """The SQL ids (and, with ``every_form``, the count, the queryset and the sentence) for every
        role equal the brute force; returns the matches."""
        real = remap(expression, ids)
        normalized = segments.validate(real, organization_id=org.pk)
        assert segments.depth(normalized) <= 4
        matching = {c.pk for c, r in pairs if tree_match(r, expression)}
        for role, actor in actors.items():
            scope = scopes[role]
            expected = {pk for pk in matching if scope is None or home[pk] in scope}
            sql, params = segments.compile_sql(
                organization_id=org.pk, expression=real, store_ids=actor.store_ids, now=NOW
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                got = {row[0] for row in cursor.fetchall()}
            assert got == expected, (role, real, sql)
            if not every_form:
                continue
            assert segments.segment_count(actor=actor, expression=real, now=NOW) == len(expected)
            queryset = segments.segment_queryset(actor=actor, expression=real, now=NOW)
            assert set(queryset.values_list("pk", flat=True)) == expected, (role, real)
            assert noise.pk not in got
        if every_form:
            assert segments.describe(real, organization_id=org.pk).endswith("。")
        return matching

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(expression=tree(4))
    def check(expression: dict[str, Any]) -> None:
        matching = compare(expression)
        seen_nonempty.append(0 < len(matching) < len(rows))

    check()
    # The trees were not all trivially everyone or nobody.
    assert sum(seen_nonempty) >= 10
    # The newest conditions' every option, alone and negated: few random trees single one of them out.
    # (The SQL and the queryset share one compiler; the random trees compare every form.)
    for expression in SWEEP:
        matching = compare(expression, every_form=False)
        assert 0 < len(matching) < len(rows), expression


# --- validation limits, null, the sentence ---------------------------------------------------------


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"tags": {"all": [1]}}
    for _ in range(levels - 1):
        node = {"not": node}
    return node


def test_tree_limits_name_the_problem() -> None:
    segments.validate(_deep(8))
    with pytest.raises(segments.SegmentError, match="最多嵌套 8 层"):
        segments.validate(_deep(9))
    with pytest.raises(segments.SegmentError, match="最多 200 个节点"):
        segments.validate({"any": [{"tags": {"all": [i + 1]}} for i in range(200)]})
    with pytest.raises(segments.SegmentError, match="至少一个条件"):
        segments.validate({"all": []})
    with pytest.raises(segments.SegmentError, match="只能有这一个键"):
        segments.validate({"all": [{}], "tags": {"all": [1]}})
    with pytest.raises(segments.SegmentError, match=r"\$\.any\[1\]：.*营销授权"):
        segments.validate({"any": [{}, {"consent": "maybe"}]})
    with pytest.raises(segments.SegmentError, match="下单（最近天数）"):
        segments.validate({"orders": {"within_days": 0}})
    with pytest.raises(segments.SegmentError, match="时间范围"):
        segments.validate({"broadcast": {"campaign_ids": [1]}})
    assert segments.validate(None) == {} and segments.validate({"all": [{}]}) == {}
    # {} (everyone) drops out of an AND and makes an OR everyone.
    assert segments.validate({"all": [{}, {"tags": {"all": [1]}}]}) == {"tags": {"all": [1]}}
    assert segments.validate({"any": [{}, {"tags": {"all": [1]}}]}) == {}
    # A stored flat expression is a leaf; a one-child group collapses to its child.
    assert segments.validate({"all": [{"tags": {"all": ["2"]}}]}) == {"tags": {"all": [2]}}


def test_references_are_checked_in_every_leaf_and_behaviour_condition() -> None:
    org = OrganizationFactory()
    tag = TagFactory(group__organization=org)
    foreign_store = StoreFactory()
    ok = {"any": [{"tags": {"all": [tag.pk]}}, {"not": {"orders": {"within_days": 7}}}]}
    assert segments.validate(ok, organization_id=org.pk)
    with pytest.raises(segments.SegmentError, match="门店"):
        segments.validate({"all": [ok, {"orders": {"store_ids": [foreign_store.pk]}}]}, organization_id=org.pk)
    with pytest.raises(segments.SegmentError, match="群发活动"):
        segments.validate({"not": {"broadcast": {"within_days": 3, "campaign_ids": [999999]}}}, organization_id=org.pk)


def test_describe_reads_the_rule_in_one_sentence() -> None:
    org = OrganizationFactory()
    names = {n: TagFactory(group__organization=org, name=n).pk for n in ("护肤", "彩妆", "金卡", "黑金", "勿扰")}
    tree_ = {
        "all": [
            {"any": [{"tags": {"any": [names["护肤"]]}}, {"tags": {"any": [names["彩妆"]]}}]},
            {"tags": {"any": [names["金卡"], names["黑金"]]}},
            {"not": {"tags": {"all": [names["勿扰"]]}}},
            {"orders": {"within_days": 30}},
        ]
    }
    assert segments.describe(tree_, organization_id=org.pk) == (
        "（有标签“护肤”，或有标签“彩妆”），且有标签“金卡”或“黑金”，且不满足（有标签“勿扰”），且最近 30 天下过单。"
    )
    assert segments.describe({}) == "全部客户。"
    # The tag-only part is one query_int, served by the composite GIN.
    sql, _params = segments.count_sql(organization_id=org.pk, expression=tree_, now=NOW)
    assert sql.count("@@") == 1 and "EXISTS (SELECT 1 FROM analytics_order" in sql


def test_the_api_saves_and_previews_a_tree_with_its_sentence(world: Any) -> None:
    skincare = TagFactory(group__organization=world.org, name="护肤")
    dnd = TagFactory(group__organization=world.org, name="勿扰")
    mine = CustomerFactory(organization=world.org, home_store=world.store_a)
    theirs = CustomerFactory(organization=world.org, home_store=world.store_b)
    for customer in (mine, theirs):
        services.customer_tag_add(customer=customer, tag=skincare)
    services.customer_tag_add(customer=theirs, tag=dnd)
    Order.objects.create(
        organization=world.org,
        customer=mine,
        store=world.store_a,
        amount=88,
        paid_at=dt.datetime.now(SH),
        source="api",
        external_ref="t1",
    )
    tree_ = {"all": [{"tags": {"any": [skincare.pk]}}, {"not": {"tags": {"any": [dnd.pk]}}}, {"orders": {}}]}
    client = world.client_for(world.operator)
    preview = client.post("/api/v1/segments/preview/", {"expression": tree_}, content_type="application/json")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["count"] == 1 and [c["id"] for c in body["sample"]] == [mine.pk]
    assert body["description"] == "有标签“护肤”，且不满足（有标签“勿扰”），且曾经下过单。"
    # null is everyone, in preview and save alike.
    everyone = client.post("/api/v1/segments/preview/", {"expression": None}, content_type="application/json")
    assert everyone.status_code == 200 and everyone.json()["count"] == 2
    saved = client.post(
        "/api/v1/segments/", {"name": "护肤非勿扰", "expression": tree_}, content_type="application/json"
    )
    assert saved.status_code == 201 and saved.json()["last_count"] == 1
    # The store staff member's preview counts inside their store only.
    either = {"any": [{"tags": {"any": [skincare.pk]}}, {"orders": {}}]}
    counts = {
        who: world.client_for(who)
        .post("/api/v1/segments/preview/", {"expression": either}, content_type="application/json")
        .json()["count"]
        for who in (world.operator, world.store_staff)
    }
    assert counts == {world.operator: 2, world.store_staff: 1}
    console = world.client_for(world.manager).post(
        "/segments/preview/", json.dumps({"expression": tree_}), content_type="application/json"
    )
    assert console.json()["description"] == body["description"]
    too_deep = client.post("/api/v1/segments/preview/", {"expression": _deep(9)}, content_type="application/json")
    assert too_deep.status_code == 400 and "最多嵌套 8 层" in too_deep.json()["detail"]


def test_an_expression_that_is_not_an_object_is_a_400_naming_it(world: Any) -> None:
    client = world.client_for(world.operator)
    for body in ({"expression": [1]}, {"expression": "tags"}):
        response = client.post("/api/v1/segments/preview/", body, content_type="application/json")
        assert response.status_code == 400 and "JSON 对象" in json.dumps(response.json(), ensure_ascii=False)


def test_first_order_reads_as_a_sentence() -> None:
    assert segments.describe({"first_order": {"within_days": 30}}) == "最近 30 天首次下单。"
    assert segments.describe({"first_order": {"from": "2026-01-01", "to": "2026-01-31"}}) == (
        "2026-01-01 至 2026-01-31首次下单。"
    )
    with pytest.raises(segments.SegmentError, match="时间范围"):
        segments.validate({"first_order": {}})


def test_the_builder_offers_the_brands_campaigns_coupons_and_journeys(world: Any) -> None:
    from django.utils import timezone

    from journeys.models import Journey, JourneyStep
    from tests.offers.helpers import template

    sent = Campaign.objects.create(organization=world.org, name="三八节群发", planned_at=timezone.now())
    Campaign.objects.create(organization=world.org, name="草稿群发")  # never sent: no deliveries to ask about
    Campaign.objects.create(organization=world.other_org, name="对手群发", planned_at=timezone.now())
    coupon = template(world.org, name="立减5元")
    template(world.other_org, name="对手券")
    journey = Journey.objects.create(organization=world.org, name="新客关怀", trigger="manual")
    step = JourneyStep.objects.create(journey=journey, position=1, kind="wait_days", days=2)
    Journey.objects.create(organization=world.other_org, name="对手旅程", trigger="manual")

    for who in (world.operator, world.manager):
        response = world.client_for(who).get("/segments/new/")
        assert response.status_code == 200
        offered = response.context["options"]["conditions"]
        assert offered["broadcast"] == {"campaigns": [{"id": sent.pk, "name": "三八节群发"}]}
        assert (
            offered["coupon_redeemed"]
            == offered["coupon_valid"]
            == {"templates": [{"id": coupon.pk, "name": "立减5元"}]}
        )
        assert offered["journey"] == {
            "journeys": [{"id": journey.pk, "name": "新客关怀"}],
            "steps": [{"id": step.pk, "journey": journey.pk, "name": "新客关怀 · 1. 等待 N 天"}],
        }
        # The pickers are rendered for the page's script (no inline JS), with the labels it shows.
        page = response.content.decode()
        assert 'id="segment-options"' in page and "到达旅程步骤" in page and "限定群发活动" in page
    outsider = world.client_for(world.outsider).get("/segments/new/").context["options"]["conditions"]
    assert outsider["broadcast"]["campaigns"] == [
        {"id": c.pk, "name": "对手群发"} for c in Campaign.objects.filter(organization=world.other_org)
    ]
    assert [t["name"] for t in outsider["coupon_valid"]["templates"]] == ["对手券"]
    assert world.client_for(world.store_staff).get("/segments/new/").status_code == 403


def test_the_published_schema_types_every_condition_with_a_valid_example() -> None:
    import jsonschema

    from contacts.segment_schema import components

    leaf = components()["SegmentLeaf"]
    assert set(leaf["properties"]) == segments.known_keys()
    for key in segments.conditions():
        schema = leaf["properties"][key]
        assert schema["description"] and "example" in schema, key
        jsonschema.validate(schema["example"], schema)
        segments.validate({key: schema["example"]})  # the engine reads the example as the schema does
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**schema["example"], "no_such_part": 1}, schema)
    for key in ("coupon_redeemed", "coupon_valid", "journey", "first_order"):
        assert key in segments.conditions()
