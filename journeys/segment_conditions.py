"""The "journey step reached" (到达旅程步骤) segment condition, registered into contacts (docs/segments.md).

``{"journey": {"journey_ids": [2], "step_ids": [7], "outcome": "reached", "within_days": 30}}``:

* ``outcome`` ``reached`` (the default): without ``step_ids``, entered one of the journeys (any
  journey without ``journey_ids``) within the window (``entered_at``); with ``step_ids``, one of those
  steps ran for the customer (its ``StepRun``, ``claimed_at`` in the window) — the journey funnel's
  "reached", so a wait step counts once its wait is over, not while the customer sits in it;
* ``completed`` / ``exited``: an enrollment of the journeys walked to the end (``done``) / left early
  (``exited``) with ``exited_at`` in the window.

Holdout (对照组) enrollments never count: those customers were deliberately not sent the journey,
and a segment that re-targeted them would spoil the comparison. The window is optional (``{}`` =
ever). One ``EXISTS`` on ``journeys_enrollment`` (index customer, journey), joined to
``journeys_steprun`` for steps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from contacts.access import Actor
from contacts.segments import SegmentError, register_segment_condition
from contacts.segments.behaviour import (
    ID_SCHEMA,
    WINDOW_KEYS,
    WINDOW_SCHEMA,
    check_ids,
    id_list_validate,
    names,
    window_describe,
    window_sql,
    window_validate,
)
from journeys.models import EnrollmentState, Journey, JourneyStep

LABEL = _l("到达旅程步骤")
OUTCOMES = ("reached", "completed", "exited")
KEYS = WINDOW_KEYS | {"journey_ids", "step_ids", "outcome"}
ID_ARRAY: dict[str, Any] = {"type": "array", "items": ID_SCHEMA}


def journey_validate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - KEYS:
        raise SegmentError(
            _('“%(field)s”只支持 %(keys)s，例如 {"journey_ids": [1], "within_days": 30}')
            % {"field": LABEL, "keys": ", ".join(sorted(KEYS))}
        )
    outcome = value.get("outcome") or "reached"
    if outcome not in OUTCOMES:
        raise SegmentError(
            _("“%(field)s”的 outcome 只能是 %(values)s，收到 %(value)r")
            % {"field": LABEL, "values": " / ".join(OUTCOMES), "value": outcome}
        )
    out = window_validate(value, LABEL, required=False)
    if value.get("journey_ids"):
        out["journey_ids"] = id_list_validate(value["journey_ids"], _("到达旅程步骤（旅程）"))
    if value.get("step_ids"):
        if outcome != "reached":
            raise SegmentError(_("“到达旅程步骤”选了步骤时只能用“到达”，走完或退出请只选旅程"))
        out["step_ids"] = id_list_validate(value["step_ids"], _("到达旅程步骤（步骤）"))
    if outcome != "reached":
        out["outcome"] = outcome
    return out


def journey_compile(value: dict[str, Any], customer: str, now: dt.datetime) -> tuple[str, list[Any]]:
    outcome = value.get("outcome", "reached")
    conds = [f"e.customer_id = {customer}", "NOT e.in_holdout"]
    params: list[Any] = []
    if value.get("journey_ids"):
        conds.append("e.journey_id = ANY(%s)")
        params.append(list(value["journey_ids"]))
    if outcome == "reached" and value.get("step_ids"):
        window, window_params = window_sql("r.claimed_at", value, now)
        conds += ["r.step_id = ANY(%s)", *window]
        params += [list(value["step_ids"]), *window_params]
        return (
            "EXISTS (SELECT 1 FROM journeys_enrollment e JOIN journeys_steprun r ON r.enrollment_id = e.id"
            f" WHERE {' AND '.join(conds)})",
            params,
        )
    if outcome == "reached":
        window, window_params = window_sql("e.entered_at", value, now)
    else:
        conds.append("e.state = %s")
        params.append(EnrollmentState.DONE if outcome == "completed" else EnrollmentState.EXITED)
        window, window_params = window_sql("e.exited_at", value, now)
    conds += window
    params += window_params
    return f"EXISTS (SELECT 1 FROM journeys_enrollment e WHERE {' AND '.join(conds)})", params


def _step_names(step_ids: list[int], organization_id: int | None) -> str:
    found: dict[int, str] = {}
    if organization_id is not None:
        found = {
            s.pk: _("“%(journey)s”第 %(n)s 步（%(kind)s）")
            % {"journey": s.journey.name, "n": s.position, "kind": s.get_kind_display()}
            for s in JourneyStep.objects.filter(journey__organization_id=organization_id, pk__in=step_ids)
            .select_related("journey")
            .order_by("journey__name", "position")
        }
    return "、".join(found.get(i) or f"#{i}" for i in step_ids)


def journey_describe(value: dict[str, Any], organization_id: int | None) -> str:
    window = window_describe(value) or _("曾经")
    which = names(Journey, value["journey_ids"], organization_id) if value.get("journey_ids") else _("客户旅程")
    outcome = value.get("outcome", "reached")
    if value.get("step_ids"):
        return _("%(window)s到达过旅程步骤%(steps)s") % {
            "window": window,
            "steps": _step_names(value["step_ids"], organization_id),
        }
    if outcome == "completed":
        return _("%(window)s走完过%(which)s") % {"window": window, "which": which}
    if outcome == "exited":
        return _("%(window)s中途退出过%(which)s") % {"window": window, "which": which}
    return _("%(window)s进入过%(which)s") % {"window": window, "which": which}


def journey_references(value: dict[str, Any], organization_id: int) -> None:
    journey_ids = value.get("journey_ids", [])
    check_ids(Journey, journey_ids, organization_id, _("客户旅程"))
    step_ids = value.get("step_ids", [])
    if not step_ids:
        return
    steps = dict(
        JourneyStep.objects.filter(journey__organization_id=organization_id, pk__in=step_ids).values_list(
            "pk", "journey_id"
        )
    )
    missing = sorted(set(step_ids) - set(steps))
    if missing:
        raise SegmentError(_("旅程步骤 %(ids)s 不存在或已删除，请从条件中移除") % {"ids": missing})
    outside = sorted(pk for pk, journey_id in steps.items() if journey_ids and journey_id not in journey_ids)
    if outside:
        raise SegmentError(_("旅程步骤 %(ids)s 不属于所选旅程，请调整旅程或步骤") % {"ids": outside})


def journey_options(actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """The builder's pickers: the brand's journeys and their steps (newest journeys first)."""
    journeys = list(actor.scope(Journey.objects.all()).order_by("-created_at", "-id").values_list("pk", "name")[:200])
    steps = (
        JourneyStep.objects.filter(journey_id__in=[pk for pk, _name in journeys])
        .select_related("journey")
        .order_by("journey__name", "position")
    )
    return {
        "journeys": [{"id": pk, "name": name} for pk, name in journeys],
        "steps": [
            {
                "id": s.pk,
                "journey": s.journey_id,
                "name": f"{s.journey.name} · {s.position}. {s.get_kind_display()}",
            }
            for s in steps
        ],
    }


def register() -> None:
    register_segment_condition(
        "journey",
        compile_fn=journey_compile,
        validate_fn=journey_validate,
        schema={
            "type": "object",
            "additionalProperties": False,
            "description": (
                "客户旅程：进入过（reached，默认）/ 到达过某步骤（reached + step_ids）/ 走完（completed）/"
                " 中途退出（exited），可限旅程与时间；对照组不计入"
            ),
            "properties": {
                **WINDOW_SCHEMA,
                "journey_ids": ID_ARRAY,
                "step_ids": ID_ARRAY,
                "outcome": {"type": "string", "enum": list(OUTCOMES), "default": "reached"},
            },
            "example": {"journey_ids": [2], "step_ids": [7], "within_days": 30},
        },
        label=LABEL,
        describe_fn=journey_describe,
        check_references=journey_references,
        options_fn=journey_options,
    )
