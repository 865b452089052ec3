"""Group SOP (群SOP) writes and the tick.

The tick (beat ``journeys.group_sop_tick``, or :func:`group_sop_tick` with an injected ``now``):

1. **Claim** in one statement: every (active SOP's step, targeted group) whose occurrence falls due
   today (Beijing) by ``now`` — daily, weekly on the step's weekdays, N days after the group was
   created or after the SOP started — and not before the SOP was last switched on, inserted as a
   ``GroupSopRun`` with ``ON CONFLICT (step, group, occurrence) DO NOTHING``. What was inserted is
   ours; a doubled tick inserts nothing and so delivers nothing. A missed day is not sent late.
2. **Deliver** per step, in the claim's transaction (so a crash rolls back claim and delivery together):
   - broadcast: one ``broadcast_group`` campaign over the step's claimed groups, created and planned
     through campaigns' services (quota ledger, quiet hours — the batches wait for the end of the quiet
     window — and owner as sender), then started: the dispatcher sends after commit;
   - to-do: one ``todos`` to-do per group for its owner (source key per step, group and day), the
     text to paste in its body; overdue ones are reminded by the existing to-do reminders.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.content import validate_content
from campaigns.models import CampaignKind, CampaignStatus
from campaigns.planner import campaign_plan
from campaigns.services import campaign_create, campaign_start
from contacts.access import Actor
from contacts.models import CustomerGroup, Organization, Staff, Store
from contacts.services import ContactsError
from journeys.group_models import (
    GroupSop,
    GroupSopDelivery,
    GroupSopRun,
    GroupSopSchedule,
    GroupSopStatus,
    GroupSopStep,
    GroupSopTarget,
)
from todos.models import TodoKind
from todos.services import TodoSpec, todos_close, todos_create

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
# How long an owner has to post a to-do SOP before the to-do reminders call it overdue.
TODO_DUE = dt.timedelta(hours=3)
MAX_STEPS = 20


class GroupSopError(ContactsError):
    """A group SOP that cannot be saved as asked; the message (Chinese) names what to fix."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class GroupStepSpec:
    schedule: str
    at_time: dt.time
    weekdays: tuple[int, ...] = ()
    days: int = 0
    text: str = ""
    attachments: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class GroupSopTemplate:
    key: str
    name: str
    description: str
    steps: tuple[GroupStepSpec, ...]


def templates() -> list[GroupSopTemplate]:
    return [
        GroupSopTemplate(
            key="daily_morning",
            name=_("每日早安群发"),
            description=_("每天 08:30 给群里道一声早安，附当天的小贴士。"),
            steps=(
                GroupStepSpec(
                    schedule=GroupSopSchedule.DAILY,
                    at_time=dt.time(8, 30),
                    text=_("早上好！今天也要元气满满，有任何问题随时在群里问我们哦～"),
                ),
            ),
        ),
        GroupSopTemplate(
            key="weekly_new_arrivals",
            name=_("每周新品上新"),
            description=_("每周二、周五 19:30 推送本周新品，周日 10:00 提醒会员日。"),
            steps=(
                GroupStepSpec(
                    schedule=GroupSopSchedule.WEEKLY,
                    at_time=dt.time(19, 30),
                    weekdays=(2, 5),
                    text=_("本周新品上架啦！点击小程序查看新品，群内成员专享首单优惠。"),
                ),
                GroupStepSpec(
                    schedule=GroupSopSchedule.WEEKLY,
                    at_time=dt.time(10, 0),
                    weekdays=(7,),
                    text=_("今天是会员日，到店或线上下单均可享会员价。"),
                ),
            ),
        ),
        GroupSopTemplate(
            key="new_group_welcome",
            name=_("新群暖场"),
            description=_("建群当天 20:00 发群规，第 3 天 20:00 发福利。"),
            steps=(
                GroupStepSpec(
                    schedule=GroupSopSchedule.AFTER_GROUP_CREATED,
                    at_time=dt.time(20, 0),
                    days=0,
                    text=_("欢迎加入！群规：不发广告、友善交流。每周会有新品和福利在这里第一时间发布。"),
                ),
                GroupStepSpec(
                    schedule=GroupSopSchedule.AFTER_GROUP_CREATED,
                    at_time=dt.time(20, 0),
                    days=3,
                    text=_("入群福利来啦：回复“福利”领取新人专享券。"),
                ),
            ),
        ),
    ]


# --- writes ----------------------------------------------------------------------------------------


def _check_targets(*, actor: Actor, target: str, target_ids: list[int], store_id: int | None) -> list[int]:
    """The target ids, each this brand's and inside the actor's (and the SOP's store's) scope."""
    if target not in GroupSopTarget.values:
        raise GroupSopError(_("请选择目标客户群的方式"), "target")
    ids = sorted({int(i) for i in target_ids})
    if not ids:
        raise GroupSopError(_("请至少选择一个目标（群主、门店或客户群）"), "target_ids")
    found: Any
    if target == GroupSopTarget.OWNER:
        found = actor.scope(Staff.objects.filter(pk__in=ids)).values_list("pk", flat=True)
    elif target == GroupSopTarget.STORE:
        found = actor.scope(Store.objects.filter(pk__in=ids)).values_list("pk", flat=True)
        if store_id is not None and set(ids) != {store_id}:
            raise GroupSopError(_("门店的群SOP只能面向本门店的客户群"), "target_ids")
    else:
        groups = actor.scope(CustomerGroup.objects.filter(pk__in=ids, dismissed_at__isnull=True))
        if store_id is not None:
            groups = groups.filter(store_id=store_id)
        found = groups.values_list("pk", flat=True)
    if set(found) != set(ids):
        raise GroupSopError(_("所选目标不存在或不在你的范围内，请重新选择"), "target_ids")
    return ids


def _check_store(*, actor: Actor, store_id: int | None) -> int | None:
    """A manager's SOP belongs to one of their stores; an operator's may be brand-wide."""
    if store_id is None:
        if actor.store_ids is not None:
            raise GroupSopError(_("请选择所属门店"), "store")
        return None
    if not actor.scope(Store.objects.filter(pk=store_id)).exists():
        raise GroupSopError(_("所选门店不存在或不在你的范围内"), "store")
    return store_id


def _check_steps(*, organization_id: int, steps: list[GroupStepSpec], delivery: str) -> list[GroupStepSpec]:
    if len(steps) > MAX_STEPS:
        raise GroupSopError(_("一个群SOP最多 %(n)d 步") % {"n": MAX_STEPS}, "steps")
    out = []
    for i, spec in enumerate(steps, start=1):
        if spec.schedule not in GroupSopSchedule.values:
            raise GroupSopError(_("第 %(i)d 步：请选择发送时间") % {"i": i}, "schedule")
        weekdays = tuple(sorted({int(d) for d in spec.weekdays}))
        if spec.schedule == GroupSopSchedule.WEEKLY and not weekdays:
            raise GroupSopError(_("第 %(i)d 步：每周发送请至少选择一天") % {"i": i}, "weekdays")
        if any(d < 1 or d > 7 for d in weekdays):
            raise GroupSopError(_("第 %(i)d 步：星期须在周一到周日之间") % {"i": i}, "weekdays")
        if not 0 <= spec.days <= 365:
            raise GroupSopError(_("第 %(i)d 步：天数须在 0–365 之间") % {"i": i}, "days")
        try:
            attachments = validate_content(
                kind=CampaignKind.BROADCAST_GROUP,
                text=spec.text,
                attachments=list(spec.attachments),
                organization_id=organization_id,
            )
        except ValidationError as exc:
            raise GroupSopError(_("第 %(i)d 步：") % {"i": i} + "；".join(exc.messages), "text") from None
        if delivery == GroupSopDelivery.TODO and not spec.text.strip():
            raise GroupSopError(_("第 %(i)d 步：群主待办需要填写要发送的文字") % {"i": i}, "text")
        out.append(
            GroupStepSpec(
                schedule=spec.schedule,
                at_time=spec.at_time,
                weekdays=weekdays if spec.schedule == GroupSopSchedule.WEEKLY else (),
                days=spec.days
                if spec.schedule in (GroupSopSchedule.AFTER_GROUP_CREATED, GroupSopSchedule.AFTER_SOP_STARTED)
                else 0,
                text=spec.text.strip(),
                attachments=tuple(attachments),
            )
        )
    return out


def _write_steps(sop: GroupSop, steps: list[GroupStepSpec]) -> None:
    """Steps in order: the step at each position is updated in place (its delivery history stays),
    new positions are added and those past the end are deleted."""
    existing = {s.position: s for s in sop.steps.all()}
    for position, spec in enumerate(steps, start=1):
        values = {
            "schedule": spec.schedule,
            "at_time": spec.at_time,
            "weekdays": list(spec.weekdays),
            "days": spec.days,
            "text": spec.text,
            "attachments": list(spec.attachments),
        }
        if position in existing:
            GroupSopStep.objects.filter(pk=existing[position].pk).update(**values)
        else:
            GroupSopStep.objects.create(sop=sop, position=position, **values)
    sop.steps.filter(position__gt=len(steps)).delete()


@transaction.atomic
def group_sop_create(
    *,
    actor: Actor,
    name: str,
    delivery: str = GroupSopDelivery.BROADCAST,
    target: str = GroupSopTarget.OWNER,
    target_ids: list[int] | None = None,
    store_id: int | None = None,
    steps: list[GroupStepSpec] | None = None,
    template: str = "",
) -> GroupSop:
    """A draft SOP. Without targets (a template just picked) it targets the actor's own groups."""
    name = name.strip()
    if not name:
        raise GroupSopError(_("请填写 SOP 名称"), "name")
    if delivery not in GroupSopDelivery.values:
        raise GroupSopError(_("请选择发送方式"), "delivery")
    store_id = _check_store(actor=actor, store_id=store_id)
    ids = _check_targets(actor=actor, target=target, target_ids=target_ids or [actor.staff.pk], store_id=store_id)
    checked = _check_steps(organization_id=actor.organization_id, steps=list(steps or []), delivery=delivery)
    sop = GroupSop.objects.create(
        organization_id=actor.organization_id,
        store_id=store_id,
        name=name[:100],
        delivery=delivery,
        target=target,
        target_ids=ids,
        template=template,
        created_by=actor.staff,
    )
    _write_steps(sop, checked)
    return sop


def group_sop_from_template(*, actor: Actor, key: str, name: str = "", store_id: int | None = None) -> GroupSop:
    found = {t.key: t for t in templates()}.get(key)
    if found is None:
        raise GroupSopError(_("模板不存在"), "template")
    if store_id is None and actor.store_ids:
        store_id = min(actor.store_ids)
    return group_sop_create(
        actor=actor, name=name or found.name, steps=list(found.steps), template=key, store_id=store_id
    )


@transaction.atomic
def group_sop_update(
    *,
    actor: Actor,
    sop: GroupSop,
    name: str,
    delivery: str,
    target: str,
    target_ids: list[int],
    store_id: int | None,
    steps: list[GroupStepSpec],
) -> GroupSop:
    """Save the builder: settings and every step at once (all or nothing)."""
    sop = GroupSop.objects.select_for_update().get(pk=sop.pk)
    if sop.status == GroupSopStatus.ARCHIVED:
        raise GroupSopError(_("已归档的群SOP不能修改"), "status")
    name = name.strip()
    if not name:
        raise GroupSopError(_("请填写 SOP 名称"), "name")
    if delivery not in GroupSopDelivery.values:
        raise GroupSopError(_("请选择发送方式"), "delivery")
    store_id = _check_store(actor=actor, store_id=store_id)
    ids = _check_targets(actor=actor, target=target, target_ids=target_ids, store_id=store_id)
    checked = _check_steps(organization_id=actor.organization_id, steps=steps, delivery=delivery)
    if sop.status == GroupSopStatus.ACTIVE and not checked:
        raise GroupSopError(_("运行中的群SOP至少要有一步"), "steps")
    sop.name, sop.delivery, sop.target, sop.target_ids, sop.store_id = name[:100], delivery, target, ids, store_id
    sop.save(update_fields=["name", "delivery", "target", "target_ids", "store_id", "updated_at"])
    _write_steps(sop, checked)
    return sop


ALLOWED_MOVES = {
    GroupSopStatus.DRAFT: {GroupSopStatus.ACTIVE, GroupSopStatus.ARCHIVED},
    GroupSopStatus.ACTIVE: {GroupSopStatus.PAUSED, GroupSopStatus.ARCHIVED},
    GroupSopStatus.PAUSED: {GroupSopStatus.ACTIVE, GroupSopStatus.ARCHIVED},
    GroupSopStatus.ARCHIVED: set(),
}


@transaction.atomic
def group_sop_set_status(*, actor: Actor, sop: GroupSop, status: str, now: dt.datetime | None = None) -> GroupSop:
    """Start, pause, resume or archive. Switching on records when: occurrences due before it are skipped
    (a resumed SOP does not post this morning's message in the afternoon)."""
    now = now or timezone.now()
    sop = GroupSop.objects.select_for_update().get(pk=sop.pk)
    if status not in ALLOWED_MOVES.get(GroupSopStatus(sop.status), set()):
        raise GroupSopError(_("当前状态不能执行该操作"), "status")
    if status == GroupSopStatus.ACTIVE and not sop.steps.exists():
        raise GroupSopError(_("请先添加至少一步再启用"), "steps")
    sop.status = status
    fields = ["status", "updated_at"]
    if status == GroupSopStatus.ACTIVE:
        if sop.activated_at is None:
            sop.activated_at = now
            fields.append("activated_at")
        sop.resumed_at = now
        fields.append("resumed_at")
    sop.save(update_fields=fields)
    if status == GroupSopStatus.ARCHIVED:
        # An archived SOP's posts no longer apply: its owners' open to-dos are cancelled (broadcasts
        # already planned belong to campaigns and are cancelled there).
        keys = list(GroupSopRun.objects.filter(sop=sop, outcome="todo").values_list("todo_key", flat=True))
        todos_close(organization_id=sop.organization_id, source_keys=keys)
    return sop


# --- the tick --------------------------------------------------------------------------------------


CLAIM_SQL = """
    INSERT INTO journeys_groupsoprun (sop_id, step_id, group_id, occurrence, owner_id, claimed_at, outcome, todo_key)
    SELECT s.id, st.id, g.id, %(today)s, g.owner_id, %(now)s, 'claimed', ''
      FROM journeys_groupsop s
      JOIN journeys_groupsopstep st ON st.sop_id = s.id
      JOIN contacts_customergroup g
        ON g.organization_id = s.organization_id AND g.dismissed_at IS NULL
       AND (s.store_id IS NULL OR g.store_id = s.store_id)
       AND CASE s.target WHEN 'owner' THEN g.owner_id = ANY(s.target_ids)
                         WHEN 'store' THEN g.store_id = ANY(s.target_ids)
                         ELSE g.id = ANY(s.target_ids) END
     WHERE s.status = 'active'
       AND %(today)s + st.at_time <= %(local_now)s
       AND %(today)s + st.at_time >= (s.resumed_at AT TIME ZONE 'Asia/Shanghai')
       AND CASE st.schedule
             WHEN 'daily' THEN TRUE
             WHEN 'weekly' THEN %(isodow)s = ANY(st.weekdays)
             WHEN 'after_group' THEN (g.created_at AT TIME ZONE 'Asia/Shanghai')::date + st.days = %(today)s
             WHEN 'after_start' THEN (s.activated_at AT TIME ZONE 'Asia/Shanghai')::date + st.days = %(today)s
             ELSE FALSE END
    ON CONFLICT (step_id, group_id, occurrence) DO NOTHING
    RETURNING id, step_id, group_id, owner_id
"""


@dataclass
class GroupTickResult:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    campaign_ids: list[int] = field(default_factory=list)


@dataclass
class _Claimed:
    run_id: int
    group_id: int
    owner_id: int | None


def group_sop_tick(*, now: dt.datetime | None = None) -> GroupTickResult:
    """Claim every due (step, group, day) and deliver it (see the module docstring). One transaction."""
    now = now or timezone.now()
    local = now.astimezone(SHANGHAI)
    result = GroupTickResult()
    outcomes: dict[str, int] = defaultdict(int)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                CLAIM_SQL,
                {
                    "today": local.date(),
                    "now": now,
                    "local_now": local.replace(tzinfo=None),
                    "isodow": local.isoweekday(),
                },
            )
            rows = cursor.fetchall()
        if not rows:
            return result
        result.claimed = len(rows)
        by_step: dict[int, list[_Claimed]] = defaultdict(list)
        for run_id, step_id, group_id, owner_id in rows:
            by_step[step_id].append(_Claimed(run_id, group_id, owner_id))
        steps = GroupSopStep.objects.filter(pk__in=by_step).select_related("sop", "sop__created_by", "sop__store")
        for step in steps:
            for outcome, n in _deliver(step, by_step[step.pk], now, local.date()).items():
                outcomes[outcome] += n
            if step.sop.delivery == GroupSopDelivery.BROADCAST:
                cid = GroupSopRun.objects.filter(pk=by_step[step.pk][0].run_id).values_list("campaign_id", flat=True)
                result.campaign_ids.extend(c for c in cid if c)
    result.outcomes = dict(outcomes)
    return result


def _deliver(step: GroupSopStep, claimed: list[_Claimed], now: dt.datetime, day: dt.date) -> dict[str, int]:
    run_ids = [c.run_id for c in claimed]
    try:
        with transaction.atomic():
            if step.sop.delivery == GroupSopDelivery.BROADCAST:
                return _broadcast(step, claimed, now, day)
            return _todos(step, claimed, now, day)
    except Exception:
        # Refused as a whole (content no longer valid, a material deleted): recorded on the runs and
        # shown on the SOP page, not retried every minute.
        logger.exception("group sop %s step %s failed for %s groups", step.sop_id, step.pk, len(claimed))
        GroupSopRun.objects.filter(pk__in=run_ids).update(outcome="failed")
        return {"failed": len(claimed)}


def _broadcast(step: GroupSopStep, claimed: list[_Claimed], now: dt.datetime, day: dt.date) -> dict[str, int]:
    """One group broadcast over the step's groups of the day, planned by the campaigns planner."""
    sop = step.sop
    campaign = campaign_create(
        organization=Organization.objects.get(pk=sop.organization_id),
        name=f"群SOP·{sop.name}·第{step.position}步·{day:%m-%d}",
        kind=CampaignKind.BROADCAST_GROUP,
        text=step.text,
        attachments=list(step.attachments or []),
        group_ids=[c.group_id for c in claimed],
        store=sop.store,
        audience_store_ids=frozenset({sop.store_id}) if sop.store_id else None,
        created_by=sop.created_by,
        due_at=now,
    )
    campaign.status = CampaignStatus.SCHEDULED
    campaign.stats = {"audience": len(claimed), "group_sop_id": sop.pk, "group_sop_step_id": step.pk}
    campaign.save(update_fields=["status", "stats", "updated_at"])
    planned = campaign_plan(campaign_id=campaign.pk, now=now)
    campaign_start(campaign=campaign, now=now)
    GroupSopRun.objects.filter(pk__in=[c.run_id for c in claimed]).update(outcome="broadcast", campaign_id=campaign.pk)
    return {"broadcast": planned.planned, "broadcast_excluded": len(claimed) - planned.planned}


def todo_key(step_id: int, group_id: int, day: dt.date) -> str:
    return f"group_sop:{step_id}:{group_id}:{day.isoformat()}"


def _todos(step: GroupSopStep, claimed: list[_Claimed], now: dt.datetime, day: dt.date) -> dict[str, int]:
    """A to-do per group for its (active) owner, with the text to paste."""
    sop = step.sop
    groups = {
        g.pk: g for g in CustomerGroup.objects.filter(pk__in=[c.group_id for c in claimed]).select_related("owner")
    }
    active_owner = {pk for pk, g in groups.items() if g.owner is not None and g.owner.is_active}
    with_owner = [c for c in claimed if c.owner_id and c.group_id in active_owner]
    without = [c.run_id for c in claimed if c not in with_owner]
    links = [a["link"] for a in step.attachments or [] if a.get("msgtype") == "link"]
    body = "\n".join([step.text, *(f"{link['title']} {link['url']}" for link in links)]).strip()
    todos_create(
        organization_id=sop.organization_id,
        specs=[
            TodoSpec(
                assignee_id=int(c.owner_id or 0),
                kind=TodoKind.GROUP_POST,
                title=_("群SOP：在「%(group)s」发送 %(sop)s")
                % {"group": groups[c.group_id].name or _("未命名群"), "sop": sop.name},
                body=body,
                due_at=now + TODO_DUE,
                source_key=todo_key(step.pk, c.group_id, day),
                store_id=groups[c.group_id].store_id,
                payload={
                    "group_sop_id": sop.pk,
                    "step_id": step.pk,
                    "group_id": c.group_id,
                    "chat_id": groups[c.group_id].wecom_chat_id,
                    "run_id": c.run_id,
                    "attachments": list(step.attachments or []),
                },
            )
            for c in with_owner
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE journeys_groupsoprun SET outcome = 'todo',"
            " todo_key = 'group_sop:' || step_id || ':' || group_id || ':' || to_char(occurrence, 'YYYY-MM-DD')"
            " WHERE id = ANY(%s)",
            [[c.run_id for c in with_owner]],
        )
    GroupSopRun.objects.filter(pk__in=without).update(outcome="no_owner")
    return {"todo": len(with_owner), "no_owner": len(without)}
