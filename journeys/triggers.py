"""How customers enter journeys: listeners for events (a WeCom add through a 活码, a tag added or
removed) and the scheduled, set-based triggers the tick runs (first order, N days since the last order
or since added, joined a group, a birthday / custom date, lifecycle stage, segment)."""

from __future__ import annotations

import calendar
import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from channels.registry import ContactAdded
from contacts import services as contacts
from contacts.models import CustomFieldKind, TimelineKind
from contacts.segments import SegmentError, compile_sql
from journeys.engine import SHANGHAI, enrol, enrol_ids
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


def on_tags_changed(
    customer_id: int, added: list[int], removed: list[int], source: str, *, now: dt.datetime | None = None
) -> None:
    """A customer who got a tag enters the journeys that tag triggers (标签被添加); one who lost a tag
    enters those its removal triggers (标签被移除)."""
    if not added and not removed:
        return
    journeys = _active().filter(
        Q(trigger=TriggerKind.TAG_ADDED, trigger_tag_id__in=added or [0])
        | Q(trigger=TriggerKind.TAG_REMOVED, trigger_tag_id__in=removed or [0])
    )
    for journey in journeys:
        with transaction.atomic():
            enrol_ids(journey=journey, customer_ids=[customer_id], now=now or timezone.now())


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
    event_triggers = [TriggerKind.CONTACT_WAY, TriggerKind.TAG_ADDED, TriggerKind.TAG_REMOVED, TriggerKind.MANUAL]
    for journey in _active().exclude(trigger__in=event_triggers).select_related("trigger_segment", "trigger_field"):
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
    if journey.trigger == TriggerKind.DAYS_SINCE_ADDED:
        # A friend enters when their first live follow turns N days old after the journey went live
        # (friends older than that on activation do not all enter at once), once per friendship.
        cutoff = now - dt.timedelta(days=journey.trigger_days)
        since = (journey.activated_at or now) - dt.timedelta(days=journey.trigger_days)
        sql = (
            "SELECT a.customer_id FROM (SELECT f.customer_id, min(f.added_at) AS added FROM contacts_follow f"
            " WHERE f.organization_id = %s AND f.deleted_at IS NULL GROUP BY f.customer_id) a"
            " WHERE a.added > %s AND a.added <= %s"
            " AND NOT EXISTS (SELECT 1 FROM journeys_enrollment e2 WHERE e2.journey_id = %s"
            " AND e2.customer_id = a.customer_id AND e2.entered_at >= a.added)"
        )
        return enrol(journey=journey, customer_sql=sql, params=[org, since, cutoff, journey.pk], now=now)
    if journey.trigger == TriggerKind.GROUP_JOINED:
        # Every join of a customer group recorded since the journey went live, once per join (a later
        # join can enter again by the entry rule).
        sql = (
            "SELECT m.customer_id FROM contacts_customergroupmember m WHERE m.organization_id = %s"
            " AND m.customer_id IS NOT NULL AND m.left_at IS NULL AND m.joined_at >= %s AND m.joined_at <= %s"
            " AND NOT EXISTS (SELECT 1 FROM journeys_enrollment e2 WHERE e2.journey_id = %s"
            " AND e2.customer_id = m.customer_id AND e2.entered_at >= m.joined_at)"
        )
        return enrol(
            journey=journey, customer_sql=sql, params=[org, journey.activated_at or now, now, journey.pk], now=now
        )
    if journey.trigger == TriggerKind.DATE_FIELD:
        return _date_field(journey, now)
    if journey.trigger == TriggerKind.LIFECYCLE_ENTERED and journey.trigger_lifecycle:
        # Checked on the schedule like a segment: customers at the stage enter by the entry rule.
        sql = "SELECT c2.id FROM contacts_customer c2 WHERE c2.organization_id = %s AND c2.lifecycle = %s"
        return enrol(journey=journey, customer_sql=sql, params=[org, journey.trigger_lifecycle], now=now)
    if journey.trigger == TriggerKind.SEGMENT_ENTERED and journey.trigger_segment is not None:
        sql, params = compile_sql(organization_id=org, expression=journey.trigger_segment.expression)
        return enrol(journey=journey, customer_sql=sql, params=params, now=now)
    return 0


def anniversary_month_days(day: dt.date) -> list[str]:
    """The stored ``MM-DD`` values whose anniversary falls on ``day``: 29 February is kept on
    28 February in the years without one."""
    out = [day.strftime("%m-%d")]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        out.append("02-29")
    return out


def _date_field(journey: Journey, now: dt.datetime) -> int:
    """生日/自定义日期: customers whose date field's month-day is ``trigger_days`` Beijing days from
    today enter, at most once per Beijing day (the entry rule decides the next year)."""
    field = journey.trigger_field
    if field is None or field.kind != CustomFieldKind.DATE:
        return 0
    today = now.astimezone(SHANGHAI).date()
    target = today + dt.timedelta(days=journey.trigger_days)
    start_of_day = dt.datetime.combine(today, dt.time(0), tzinfo=SHANGHAI)
    # Values are ISO dates (checked on write); the month-day is compared as text, so one odd value
    # can never break the statement with a failed cast.
    sql = (
        "SELECT c2.id FROM contacts_customer c2 WHERE c2.organization_id = %s"
        " AND c2.attributes ->> %s ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}'"
        " AND substr(c2.attributes ->> %s, 6, 5) = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM journeys_enrollment e2 WHERE e2.journey_id = %s"
        " AND e2.customer_id = c2.id AND e2.entered_at >= %s)"
    )
    params = [journey.organization_id, field.key, field.key, anniversary_month_days(target), journey.pk, start_of_day]
    return enrol(journey=journey, customer_sql=sql, params=params, now=now)
