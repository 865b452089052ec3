"""The 预测 page, its save-as-segment lists, predicted figures as segment conditions, the profile and
the brand's churn thresholds — on customers whose predictions are set directly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from analytics.models import FitStatus, PredictionFit
from contacts import segments
from contacts import services as contact_services
from contacts.access import Actor, actor_for_user
from contacts.models import ChurnRisk, Customer, Organization, Segment
from tests.conftest import World
from tests.factories import CustomerFactory

# (store, ltv, p_alive, predicted 12-month value) → bands with the default thresholds 0.3 / 0.7
PEOPLE = [
    ("a", "2500", 0.10, 50.0),  # high value, high risk
    ("a", "300", 0.20, 10.0),  # high risk
    ("b", "1800", 0.25, 40.0),  # high value, high risk, other store
    ("a", "900", 0.50, 300.0),  # medium
    ("b", "120", 0.90, 800.0),  # low
]


@pytest.fixture
def scored(world: World) -> dict[str, Any]:
    store = {"a": world.store_a, "b": world.store_b}
    people = [
        CustomerFactory(organization=world.org, home_store=store[s], ltv=Decimal(ltv), order_count=2)
        for s, ltv, _p, _v in PEOPLE
    ]
    unscored = CustomerFactory(organization=world.org, home_store=world.store_a, ltv=Decimal("5000"))
    contact_services.customer_predictions_set(
        organization_id=world.org.pk,
        predictions=contact_services.Predictions(
            customer_ids=[c.pk for c in people],
            p_alive=[p for *_x, p, _v in PEOPLE],
            expected_30=[0.1] * len(PEOPLE),
            expected_90=[0.3] * len(PEOPLE),
            expected_365=[1.2] * len(PEOPLE),
            value_12m=[v for *_x, v in PEOPLE],
        ),
    )
    PredictionFit.objects.create(
        organization=world.org,
        status=FitStatus.OK,
        data_start=dt.date(2025, 1, 1),
        data_end=dt.date(2026, 12, 1),
        customers=5,
        repeat_customers=5,
        bgnbd={"model": "MBG/NBD", "r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6},
        gamma_gamma={"p": 6.0, "q": 3.7, "gamma": 15.0},
        log_likelihood=-123.4,
        validation={
            "cut": "2026-06-01",
            "holdout_days": 183,
            "groups": [{"repeat_purchases": "0", "customers": 3, "predicted": 0.4, "actual": 0.33}],
            "weekly": [{"week_end": "2026-06-07", "actual": 3, "predicted": 2.5, "holdout": True}],
            "errors": {
                "predicted_total": 1.2,
                "actual_total": 1.0,
                "total_error": 0.2,
                "mae": 0.3,
                "rmse": 0.4,
                "correlation": 0.5,
            },
        },
    )
    return {"people": people, "unscored": unscored}


def test_bands_follow_the_default_thresholds_and_an_unscored_customer_has_none(
    world: World, scored: dict[str, Any]
) -> None:
    bands = [Customer.objects.get(pk=c.pk).churn_risk for c in scored["people"]]
    assert bands == ["high", "high", "high", "medium", "low"]
    assert Customer.objects.get(pk=scored["unscored"].pk).churn_risk == ""


def test_predicted_conditions_in_segments_agree_on_facts_and_customers(world: World, scored: dict[str, Any]) -> None:
    operator = world.operator
    actor = _actor(operator)
    cases = [
        ({"churn_risk": ["high"]}, 3),
        ({"churn_risk": ["high"], "ltv": {"min": 1000}}, 2),
        ({"p_alive": {"max": 0.3}}, 3),
        ({"predicted_value_12m": {"min": 100}}, 2),
        ({"churn_risk": ["medium", "low"], "p_alive": {"min": 0.6}}, 1),
    ]
    for expression, want in cases:
        assert segments.segment_count(actor=actor, expression=expression) == want, expression
        assert segments.segment_queryset(actor=actor, expression=expression).count() == want, expression
    # The manager of store A sees their store only.
    assert segments.segment_count(actor=_actor(world.manager), expression={"churn_risk": ["high"]}) == 2
    with pytest.raises(segments.SegmentError, match="0 到 1"):
        segments.validate({"p_alive": {"max": 1.5}})
    with pytest.raises(segments.SegmentError, match="流失风险"):
        segments.validate({"churn_risk": ["doomed"]})


def _actor(staff: Any) -> Actor:
    actor = actor_for_user(staff.user)
    assert actor is not None
    return actor


def test_the_predict_page_shows_the_fit_the_holdout_and_the_scoped_lists(world: World, scored: dict[str, Any]) -> None:
    url = reverse("analytics:report", args=["predict"])
    page = world.client_for(world.operator).get(url)
    assert page.status_code == 200
    body = page.content.decode()
    for text in ("预测：复购与未来价值", "MBG/NBD", "留出期", "高价值流失风险", "流失风险分布", "+20.0%"):
        assert text in body, text
    rows = {r[0]: r[1] for r in page.context["report"].tables[0].rows}
    assert list(rows.values()) == [2, 3, 1]
    # The manager's lists count their store only; store staff may not open the page.
    manager = world.client_for(world.manager).get(url)
    assert [r[1] for r in manager.context["report"].tables[0].rows] == [1, 2, 1]
    assert world.client_for(world.store_staff).get(url).status_code == 403
    # Another brand has no fit: the page says so instead of showing numbers.
    outsider = world.client_for(world.outsider).get(url)
    assert outsider.status_code == 200 and "还没有拟合过模型" in outsider.content.decode()


def test_a_brand_whose_model_failed_sees_why_and_no_scores(world: World, scored: dict[str, Any]) -> None:
    PredictionFit.objects.create(
        organization=world.org, status=FitStatus.TOO_FEW, message="repeat_customers<30", data_end=dt.date(2026, 12, 2)
    )
    body = world.client_for(world.operator).get(reverse("analytics:report", args=["predict"])).content.decode()
    assert "暂时不适合预测" in body and "复购过的客户不足 30 人" in body


def test_saving_high_value_at_risk_makes_a_segment_scoped_to_the_manager(world: World, scored: dict[str, Any]) -> None:
    response = world.client_for(world.manager).post(reverse("analytics:predict_save"), {"code": "high_value_at_risk"})
    assert response.status_code == 302
    segment = Segment.objects.get(organization=world.org)
    assert segment.expression["churn_risk"] == ["high"] and segment.expression["stores"] == [world.store_a.pk]
    assert segments.segment_count(actor=_actor(world.manager), expression=segment.expression) == 1
    assert world.client_for(world.operator).post(reverse("analytics:predict_save"), {"code": "nope"}).status_code == 404
    assert (
        world.client_for(world.store_staff).post(reverse("analytics:predict_save"), {"code": "at_risk"}).status_code
        == 403
    )


def test_refit_now_queues_the_refit(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from analytics import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.predict_refit, "delay", lambda org_id: queued.append(org_id))
    response = world.client_for(world.operator).post(reverse("analytics:predict_refit"))
    assert response.status_code == 302 and queued == [world.org.pk]
    assert world.client_for(world.store_staff).post(reverse("analytics:predict_refit")).status_code == 403


def test_the_profile_shows_the_predicted_figures_with_labels(world: World, scored: dict[str, Any]) -> None:
    customer = scored["people"][0]
    body = (
        world.client_for(world.operator).get(reverse("contacts:customer_detail", args=[customer.pk])).content.decode()
    )
    assert 'data-testid="predictions"' in body and "流失风险" in body and "高" in body and "10%" in body
    unscored = world.client_for(world.operator).get(reverse("contacts:customer_detail", args=[scored["unscored"].pk]))
    assert 'data-testid="predictions"' not in unscored.content.decode()


def test_brand_thresholds_rebands_everyone_and_refuses_an_inverted_pair(world: World, scored: dict[str, Any]) -> None:
    org = Organization.objects.get(pk=world.org.pk)
    contact_services.brand_settings_update(organization=org, by=None, churn_high_below=0.6, churn_medium_below=0.95)
    contact_services.customer_churn_risk_refresh(organization_id=org.pk)  # what the queued task runs
    bands = [Customer.objects.get(pk=c.pk).churn_risk for c in scored["people"]]
    assert bands == [ChurnRisk.HIGH, ChurnRisk.HIGH, ChurnRisk.HIGH, ChurnRisk.HIGH, ChurnRisk.MEDIUM]
    with pytest.raises(contact_services.ContactsError):
        contact_services.brand_settings_update(organization=org, by=None, churn_high_below=0.9, churn_medium_below=0.5)
