"""How customers enter journeys: listeners for events (a WeCom add through a 活码, a tag added) and
the scheduled, set-based triggers the tick runs (first order, N days since the last order, segment)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from channels.registry import ContactAdded
from contacts import services as contacts
from contacts.models import TimelineKind
from contacts.segments import SegmentError, compile_sql
from journeys.engine import enrol, enrol_ids
from journeys.models import Journey, JourneyStatus, TriggerKind
from todos.models import Todo

logger = logging.getLogger(__name__)


def _active(organization_id: int | None = None) -> QuerySet[Journey]:
    journeys = Journey.objects.filter(status=JourneyStatus.ACTIVE)
    if organization_id is not None:
        journeys = journeys.filter(organization_id=organization_id)
    return journeys


def on_contact_added(event: ContactAdded, *, now: dt.datetime | None = None) -> None:
    """A new WeCom friend enters every active journey triggered by the 活码 (渠道参数) they came by;
    a journey with no 渠道参数 takes every new friend."""
    for journey in _active(event.organization_id).filter(trigger=TriggerKind.CONTACT_WAY):
        if journey.trigger_state and journey.trigger_state != event.state:
            continue
        with transaction.atomic():
            enrol_ids(journey=journey, customer_ids=[event.customer_id], now=now or timezone.now())


def on_tags_changed(customer_id: int, added: list[int], removed: list[int], source: str) -> None:
    """A customer who got a tag enters the journeys that tag triggers."""
    if not added:
        return
    for journey in _active().filter(trigger=TriggerKind.TAG_ADDED, trigger_tag_id__in=added):
        with transaction.atomic():
            enrol_ids(journey=journey, customer_ids=[customer_id], now=timezone.now())


def on_task_done(todo: Todo) -> None:
    """A member sent a journey task: the customer's timeline says so."""
    if todo.customer_id is None:
        return
    contacts.timeline_add_bulk(
        organization_id=todo.organization_id,
        customer_ids=[todo.customer_id],
        kind=TimelineKind.JOURNEY,
        summary=f"导购已完成旅程任务：{todo.title}",
        data={"todo_id": todo.pk, **{k: v for k, v in (todo.payload or {}).items() if k.endswith("_id")}},
    )


def scheduled_enrol(*, now: dt.datetime) -> int:
    """The set-based triggers, one INSERT … SELECT per active journey."""
    entered = 0
    for journey in _active().exclude(trigger__in=[TriggerKind.CONTACT_WAY, TriggerKind.TAG_ADDED, TriggerKind.MANUAL]):
        try:
            with transaction.atomic():
                entered += _scheduled(journey, now)
        except SegmentError:
            logger.warning("journey %s: its segment no longer compiles", journey.pk)
    return entered


def _scheduled(journey: Journey, now: dt.datetime) -> int:
    org = journey.organization_id
    if journey.trigger == TriggerKind.FIRST_ORDER:
        sql = (
            "SELECT id FROM contacts_customer WHERE organization_id = %s"
            " AND first_order_at >= %s AND first_order_at <= %s"
        )
        return enrol(journey=journey, customer_sql=sql, params=[org, journey.activated_at or now, now], now=now)
    if journey.trigger == TriggerKind.DAYS_SINCE_ORDER:
        # Once per lapse: a customer enters when the last order is N days old and has not entered
        # since that order (a new order starts a new lapse).
        sql = (
            "SELECT c2.id FROM contacts_customer c2 WHERE c2.organization_id = %s AND c2.last_order_at <= %s"
            " AND NOT EXISTS (SELECT 1 FROM journeys_enrollment e2 WHERE e2.journey_id = %s"
            " AND e2.customer_id = c2.id AND e2.entered_at >= c2.last_order_at)"
        )
        params = [org, now - dt.timedelta(days=journey.trigger_days), journey.pk]
        return enrol(journey=journey, customer_sql=sql, params=params, now=now)
    if journey.trigger == TriggerKind.SEGMENT_ENTERED and journey.trigger_segment is not None:
        sql, params = compile_sql(organization_id=org, expression=journey.trigger_segment.expression)
        return enrol(journey=journey, customer_sql=sql, params=params, now=now)
    return 0
