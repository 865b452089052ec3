"""The demo brand's group SOP (群SOP): 每日早安群发 running over every store's groups, and a store's
每周新品上新 as owners' to-dos (a draft)."""

from __future__ import annotations

import random
from typing import Any

from django.utils import timezone

from journeys.group_models import GroupSop, GroupSopDelivery, GroupSopStatus, GroupSopStep, GroupSopTarget
from journeys.group_sop import templates


def load(*, context: dict[str, Any], rng: random.Random) -> None:
    org = context["organization"]
    stores = context.get("stores") or []
    staff = context.get("staff") or []
    if not stores:
        return
    now = timezone.now()
    by_key = {t.key: t for t in templates()}
    plans = [
        (by_key["daily_morning"], None, GroupSopDelivery.BROADCAST, GroupSopTarget.STORE, [s.pk for s in stores], True),
        (by_key["weekly_new_arrivals"], stores[0], GroupSopDelivery.TODO, GroupSopTarget.STORE, [stores[0].pk], False),
    ]
    for template, store, delivery, target, ids, active in plans:
        sop = GroupSop.objects.create(
            organization=org,
            store=store,
            name=str(template.name),
            template=template.key,
            delivery=delivery,
            target=target,
            target_ids=ids,
            status=GroupSopStatus.ACTIVE if active else GroupSopStatus.DRAFT,
            created_by=staff[0] if staff else None,
            activated_at=now if active else None,
            resumed_at=now if active else None,
        )
        GroupSopStep.objects.bulk_create(
            GroupSopStep(
                sop=sop,
                position=i,
                schedule=spec.schedule,
                at_time=spec.at_time,
                weekdays=list(spec.weekdays),
                days=spec.days,
                text=str(spec.text),
            )
            for i, spec in enumerate(template.steps, start=1)
        )
