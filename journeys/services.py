"""Writes for journeys: create (blank or from a template), edit the trigger and rules, add, change,
move and remove steps, activate / pause / archive, enrol by hand. Keyword-only, scoped by the actor."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.access import Actor
from contacts.models import Customer, CustomField, CustomFieldKind, Lifecycle, Segment, Staff, Tag
from contacts.services import ContactsError
from journeys.engine import COUPON_LINK, _close_tasks, enrol, enrol_ids
from journeys.models import (
    ConditionKind,
    EntryRule,
    Journey,
    JourneyStatus,
    JourneyStep,
    StepKind,
    TriggerKind,
    Weekday,
)
from offers.models import CouponTemplate

MAX_STEPS = 50
# Triggers that read ``trigger_days``.
DAY_TRIGGERS = (TriggerKind.DAYS_SINCE_ORDER, TriggerKind.DAYS_SINCE_ADDED, TriggerKind.DATE_FIELD)
MAX_MANUAL_IDS = 10_000


class JourneyError(ContactsError):
    """A journey change that cannot be made; the message (Chinese) says what to fix and names the field."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class StepSpec:
    kind: str
    days: int = 0
    hours: int = 0
    at_time: dt.time | None = None
    condition: str = ""
    no_goto: int | None = None
    tag_id: int | None = None
    text: str = ""
    notify_staff_id: int | None = None
    weekday: int | None = None
    segment_id: int | None = None
    coupon_template_id: int | None = None
    lifecycle: str = ""


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    description: str
    trigger: str
    steps: list[StepSpec] = field(default_factory=list)
    trigger_days: int = 0
    entry_rule: str = EntryRule.ONCE
    entry_days: int = 30
    exit_on_order: bool = False
    goal_days: int = 14


def templates() -> list[Template]:
    """The common journeys, ready to adjust (texts are the operator's to edit)."""
    return [
        Template(
            key="new_friend",
            name=_("新好友欢迎旅程"),
            description=_("添加好友当天发新人券、导购发欢迎语，第 3 天发内容，第 7 天邀请进门店群"),
            trigger=TriggerKind.CONTACT_WAY,
            steps=[
                StepSpec(kind=StepKind.COUPON),
                StepSpec(kind=StepKind.TASK, text=_("您好，欢迎关注！我是您的专属顾问，有任何问题随时找我。")),
                StepSpec(kind=StepKind.WAIT_DAYS, days=3),
                StepSpec(kind=StepKind.TASK, text=_("给您分享本周的新品和搭配指南，看看有没有喜欢的～")),
                StepSpec(kind=StepKind.WAIT_DAYS, days=4),
                StepSpec(kind=StepKind.TASK, text=_("邀请您加入门店福利群，群内每周有会员专享活动。")),
            ],
        ),
        Template(
            key="repurchase",
            name=_("首单复购旅程"),
            description=_("首单后第 7 天关怀，第 21 天仍未复购则群发复购优惠"),
            trigger=TriggerKind.FIRST_ORDER,
            goal_days=30,
            steps=[
                StepSpec(kind=StepKind.WAIT_DAYS, days=7),
                StepSpec(kind=StepKind.TASK, text=_("感谢您的首单！使用上有任何问题都可以问我。")),
                StepSpec(kind=StepKind.WAIT_DAYS, days=14),
                StepSpec(kind=StepKind.CONDITION, condition=ConditionKind.ORDERED_SINCE_ENTRY, no_goto=5),
                StepSpec(kind=StepKind.END),
                StepSpec(kind=StepKind.BROADCAST, text=_("老客专享：本周复购享会员价，到店或线上下单均可。")),
            ],
        ),
        Template(
            key="win_back",
            name=_("60 天未下单召回"),
            description=_("最近一次下单满 60 天的客户：导购一对一问候，7 天后仍未下单再通知店长"),
            trigger=TriggerKind.DAYS_SINCE_ORDER,
            trigger_days=60,
            entry_rule=EntryRule.AFTER_EXIT,
            exit_on_order=True,
            goal_days=14,
            steps=[
                StepSpec(kind=StepKind.WAIT_UNTIL, at_time=dt.time(10, 0)),
                StepSpec(kind=StepKind.TASK, text=_("好久不见！最近店里上了新品，给您留了一份回店礼。")),
                StepSpec(kind=StepKind.WAIT_DAYS, days=7),
                StepSpec(kind=StepKind.NOTIFY, text=_("这些客户召回 7 天后仍未下单，请关注。")),
            ],
        ),
        Template(
            key="birthday",
            name=_("生日祝福"),
            description=_("客户资料“生日”当天进入：上午 10 点导购发送祝福"),
            trigger=TriggerKind.DATE_FIELD,
            entry_rule=EntryRule.ONCE_PER_DAYS,
            entry_days=300,
            steps=[
                StepSpec(kind=StepKind.WAIT_UNTIL, at_time=dt.time(10, 0)),
                StepSpec(kind=StepKind.TASK, text=_("生日快乐！送您一份生日专属礼遇，到店即可领取。")),
            ],
        ),
    ]


def birthday_field_id(organization_id: int) -> int | None:
    """The brand's 生日 date field (by label, else key ``birthday``, else its first date field)."""
    fields = list(
        CustomField.objects.filter(organization_id=organization_id, kind=CustomFieldKind.DATE).order_by("order", "pk")
    )
    for match in (lambda f: f.label == "生日", lambda f: f.key == "birthday", lambda f: True):
        for candidate in fields:
            if match(candidate):
                return candidate.pk
    return None


def _template_coupon(organization_id: int) -> CouponTemplate | None:
    """The coupon a template's 发优惠券 step issues: the brand's newest active one that can still issue."""
    now = timezone.now()
    for coupon in CouponTemplate.objects.filter(organization_id=organization_id, is_active=True).order_by("-pk"):
        if coupon.issued < coupon.stock and (coupon.valid_to is None or coupon.valid_to > now):
            return coupon
    return None


def template_by_key(key: str) -> Template:
    for template in templates():
        if template.key == key:
            return template
    raise JourneyError(_("没有这个旅程模板：%(key)s") % {"key": key}, "template")


def _editable(journey: Journey) -> None:
    if journey.status == JourneyStatus.ARCHIVED:
        raise JourneyError(_("旅程已归档，不能再修改；请新建一个旅程"))


def _clean_step(actor: Actor, spec: StepSpec) -> dict[str, Any]:
    """The step's columns, or a JourneyError naming the field."""
    if spec.kind not in StepKind.values:
        raise JourneyError(_("请选择步骤类型"), "kind")
    values: dict[str, Any] = {"kind": spec.kind, "text": (spec.text or "").strip()}
    if spec.kind == StepKind.WAIT_DAYS:
        if not 1 <= spec.days <= 365:
            raise JourneyError(_("等待天数须在 1–365 之间"), "days")
        values["days"] = spec.days
    elif spec.kind == StepKind.WAIT_HOURS:
        if not 1 <= spec.hours <= 720:
            raise JourneyError(_("等待小时数须在 1–720 之间"), "hours")
        values["hours"] = spec.hours
    elif spec.kind == StepKind.WAIT_UNTIL:
        if spec.at_time is None:
            raise JourneyError(_("请填写等到的时刻（北京时间，如 10:00）"), "at_time")
        values["at_time"] = spec.at_time
    elif spec.kind == StepKind.WAIT_WEEKDAY:
        if spec.weekday not in Weekday.values:
            raise JourneyError(_("请选择星期几"), "weekday")
        values["weekday"] = spec.weekday
        values["at_time"] = spec.at_time or dt.time(10, 0)
    elif spec.kind == StepKind.CONDITION:
        if spec.condition not in ConditionKind.values:
            raise JourneyError(_("请选择条件"), "condition")
        values["condition"] = spec.condition
        values["no_goto"] = spec.no_goto
        if spec.condition == ConditionKind.IN_SEGMENT:
            segment = actor.scope(Segment.objects.all()).filter(pk=spec.segment_id or 0).first()
            if segment is None:
                raise JourneyError(_("请选择一个分群（在你的范围内）"), "segment")
            values["segment"] = segment
    elif spec.kind == StepKind.COUPON:
        coupon = CouponTemplate.objects.filter(
            organization_id=actor.organization_id, is_active=True, pk=spec.coupon_template_id or 0
        ).first()
        if coupon is None:
            raise JourneyError(_("请选择一张本品牌已启用的优惠券"), "coupon_template")
        values["coupon_template"] = coupon
    elif spec.kind == StepKind.LIFECYCLE:
        if spec.lifecycle not in Lifecycle.values:
            raise JourneyError(_("请选择生命周期阶段"), "lifecycle")
        values["lifecycle"] = spec.lifecycle
    elif spec.kind in (StepKind.TASK, StepKind.BROADCAST, StepKind.MOMENT) and not values["text"]:
        raise JourneyError(_("请填写要发送的内容"), "text")
    if spec.kind in (StepKind.BROADCAST, StepKind.MOMENT):
        from campaigns.content import validate_content
        from campaigns.models import CampaignKind

        try:
            validate_content(
                kind=CampaignKind.MOMENT if spec.kind == StepKind.MOMENT else CampaignKind.BROADCAST_SINGLE,
                text=values["text"],
                attachments=[],
                organization_id=actor.organization_id,
            )
        except ValidationError as exc:
            raise JourneyError("；".join(exc.messages), "text") from exc
    if spec.kind in (StepKind.TAG, StepKind.UNTAG) or (
        spec.kind == StepKind.CONDITION and spec.condition == ConditionKind.HAS_TAG
    ):
        tag = Tag.objects.filter(organization_id=actor.organization_id, pk=spec.tag_id or 0).first()
        if tag is None:
            raise JourneyError(_("请选择一个本品牌的标签"), "tag")
        values["tag"] = tag
    if spec.kind == StepKind.NOTIFY:
        staff = actor.scope(Staff.objects.filter(is_active=True)).filter(pk=spec.notify_staff_id or 0).first()
        if staff is None:
            raise JourneyError(_("请选择要通知的员工（在职、在你的范围内）"), "notify_staff")
        values["notify_staff"] = staff
    return values


def _check_complete(journey: Journey) -> None:
    """Before activation: what a deleted tag, segment, field or coupon left empty is filled in again."""
    if journey.trigger in (TriggerKind.TAG_ADDED, TriggerKind.TAG_REMOVED) and journey.trigger_tag_id is None:
        raise JourneyError(_("触发标签已被删除：请重新选择触发旅程的标签"), "trigger_tag")
    if journey.trigger == TriggerKind.SEGMENT_ENTERED and journey.trigger_segment_id is None:
        raise JourneyError(_("请选择触发旅程的分群"), "trigger_segment")
    if journey.trigger == TriggerKind.DATE_FIELD and journey.trigger_field_id is None:
        raise JourneyError(_("请选择一个日期类型的自定义字段（如“生日”）"), "trigger_field")
    needs_tag = Q(kind__in=[StepKind.TAG, StepKind.UNTAG]) | Q(kind=StepKind.CONDITION, condition=ConditionKind.HAS_TAG)
    missing = [
        *journey.steps.filter(needs_tag, tag__isnull=True).values_list("position", flat=True),
        *journey.steps.filter(
            kind=StepKind.CONDITION, condition=ConditionKind.IN_SEGMENT, segment__isnull=True
        ).values_list("position", flat=True),
        *journey.steps.filter(kind=StepKind.COUPON, coupon_template__isnull=True).values_list("position", flat=True),
    ]
    if missing:
        raise JourneyError(
            _("第 %(n)s 步用到的标签、分群或优惠券已被删除：请先编辑这一步") % {"n": min(missing)}, "tag"
        )


def _check_gotos(journey: Journey, *, complete: bool = True) -> None:
    """A condition's "no" branch jumps forward (no loops) to a step that exists; while the flow is
    being built (``complete=False``) the target may not exist yet — activation checks it."""
    count = journey.steps.count() if complete else 10_000
    for step in journey.steps.filter(kind=StepKind.CONDITION).exclude(no_goto=None):
        if step.no_goto is not None and not step.position < step.no_goto <= count:
            raise JourneyError(
                _("第 %(n)s 步的“否则跳到”须是它后面的某一步（%(a)s–%(b)s）")
                % {"n": step.position, "a": step.position + 1, "b": count},
                "no_goto",
            )


@transaction.atomic
def journey_create(
    *,
    actor: Actor,
    name: str,
    trigger: str,
    trigger_state: str = "",
    trigger_tag_id: int | None = None,
    trigger_days: int = 0,
    trigger_segment_id: int | None = None,
    trigger_field_id: int | None = None,
    trigger_lifecycle: str = "",
    entry_rule: str = EntryRule.ONCE,
    entry_days: int = 30,
    exit_on_order: bool = False,
    exit_on_opt_out: bool = True,
    goal_days: int = 14,
    holdout_percent: int = 0,
    template: str = "",
) -> Journey:
    journey = Journey(organization_id=actor.organization_id, created_by=actor.staff, template=template)
    _apply_settings(
        actor,
        journey,
        name=name,
        trigger=trigger,
        trigger_state=trigger_state,
        trigger_tag_id=trigger_tag_id,
        trigger_days=trigger_days,
        trigger_segment_id=trigger_segment_id,
        trigger_field_id=trigger_field_id,
        trigger_lifecycle=trigger_lifecycle,
        entry_rule=entry_rule,
        entry_days=entry_days,
        exit_on_order=exit_on_order,
        exit_on_opt_out=exit_on_opt_out,
        goal_days=goal_days,
        holdout_percent=holdout_percent,
    )
    journey.holdout_seed = secrets.randbelow(2**62)
    journey.save()
    return journey


@transaction.atomic
def journey_update(*, actor: Actor, journey: Journey, **settings: Any) -> Journey:
    """Change the name, trigger and rules (steps are edited one by one)."""
    journey = Journey.objects.select_for_update().get(pk=journey.pk, organization_id=actor.organization_id)
    _editable(journey)
    _apply_settings(actor, journey, **settings)
    journey.save()
    return journey


def _apply_settings(
    actor: Actor,
    journey: Journey,
    *,
    name: str,
    trigger: str,
    trigger_state: str = "",
    trigger_tag_id: int | None = None,
    trigger_days: int = 0,
    trigger_segment_id: int | None = None,
    trigger_field_id: int | None = None,
    trigger_lifecycle: str = "",
    entry_rule: str = EntryRule.ONCE,
    entry_days: int = 30,
    exit_on_order: bool = False,
    exit_on_opt_out: bool = True,
    goal_days: int = 14,
    holdout_percent: int = 0,
) -> None:
    if not name.strip():
        raise JourneyError(_("请填写旅程名称"), "name")
    if trigger not in TriggerKind.values:
        raise JourneyError(_("请选择触发条件"), "trigger")
    if entry_rule not in EntryRule.values:
        raise JourneyError(_("请选择进入规则"), "entry_rule")
    if not 0 <= holdout_percent <= 50:
        raise JourneyError(_("对照组比例须在 0–50% 之间"), "holdout_percent")
    if not 0 <= goal_days <= 365:
        raise JourneyError(_("目标天数须在 0–365 之间（0 表示不设目标）"), "goal_days")
    if entry_rule == EntryRule.ONCE_PER_DAYS and not 1 <= entry_days <= 3650:
        raise JourneyError(_("再次进入间隔须在 1–3650 天之间"), "entry_days")
    journey.trigger_tag = None
    journey.trigger_segment = None
    journey.trigger_field = None
    journey.trigger_lifecycle = ""
    if trigger in (TriggerKind.TAG_ADDED, TriggerKind.TAG_REMOVED):
        tag = Tag.objects.filter(organization_id=actor.organization_id, pk=trigger_tag_id or 0).first()
        if tag is None:
            raise JourneyError(_("请选择触发旅程的标签"), "trigger_tag")
        journey.trigger_tag = tag
    if trigger == TriggerKind.SEGMENT_ENTERED:
        segment = Segment.objects.filter(organization_id=actor.organization_id, pk=trigger_segment_id or 0).first()
        if segment is None:
            raise JourneyError(_("请选择触发旅程的分群"), "trigger_segment")
        journey.trigger_segment = segment
    if trigger == TriggerKind.DAYS_SINCE_ORDER and not 1 <= trigger_days <= 3650:
        raise JourneyError(_("距最近下单天数须在 1–3650 之间"), "trigger_days")
    if trigger == TriggerKind.DAYS_SINCE_ADDED and not 1 <= trigger_days <= 3650:
        raise JourneyError(_("添加好友天数须在 1–3650 之间"), "trigger_days")
    if trigger == TriggerKind.DATE_FIELD:
        date_field = CustomField.objects.filter(
            organization_id=actor.organization_id, kind=CustomFieldKind.DATE, pk=trigger_field_id or 0
        ).first()
        if date_field is None:
            raise JourneyError(_("请选择一个日期类型的自定义字段（如“生日”）"), "trigger_field")
        if not 0 <= trigger_days <= 60:
            raise JourneyError(_("提前天数须在 0–60 之间（0 表示当天）"), "trigger_days")
        journey.trigger_field = date_field
    if trigger == TriggerKind.LIFECYCLE_ENTERED:
        if trigger_lifecycle not in Lifecycle.values:
            raise JourneyError(_("请选择生命周期阶段"), "trigger_lifecycle")
        journey.trigger_lifecycle = trigger_lifecycle
    journey.name = name.strip()[:100]
    journey.trigger = trigger
    journey.trigger_state = (trigger_state or "").strip()[:64] if trigger == TriggerKind.CONTACT_WAY else ""
    journey.trigger_days = trigger_days if trigger in DAY_TRIGGERS else 0
    journey.entry_rule = entry_rule
    journey.entry_days = entry_days
    journey.exit_on_order = exit_on_order
    journey.exit_on_opt_out = exit_on_opt_out
    journey.goal_days = goal_days
    journey.holdout_percent = holdout_percent


@transaction.atomic
def journey_from_template(*, actor: Actor, key: str, name: str = "", trigger_state: str = "") -> Journey:
    """A draft journey with the template's trigger, rules and steps (a notify step goes to the creator)."""
    template = template_by_key(key)
    tag_id = field_id = None
    if template.trigger == TriggerKind.TAG_ADDED:
        tag = Tag.objects.filter(organization_id=actor.organization_id).order_by("pk").first()
        if tag is None:
            raise JourneyError(_("这个模板由打标签触发：请先在“标签”里建一个标签"), "template")
        tag_id = tag.pk
    if template.trigger == TriggerKind.DATE_FIELD:
        field_id = birthday_field_id(actor.organization_id)
        if field_id is None:
            raise JourneyError(_("这个模板由“生日”触发：请先在“自定义字段”里建一个日期类型的“生日”字段"), "template")
    coupon = _template_coupon(actor.organization_id)
    link_next = False
    journey = journey_create(
        actor=actor,
        name=name or template.name,
        trigger=template.trigger,
        trigger_state=trigger_state,
        trigger_tag_id=tag_id,
        trigger_days=template.trigger_days,
        trigger_field_id=field_id,
        entry_rule=template.entry_rule,
        entry_days=template.entry_days,
        exit_on_order=template.exit_on_order,
        goal_days=template.goal_days,
        template=template.key,
    )
    for spec in template.steps:
        if spec.kind == StepKind.NOTIFY:
            spec = StepSpec(kind=spec.kind, text=spec.text, notify_staff_id=actor.staff.pk)
        if spec.kind == StepKind.COUPON:
            if coupon is None:
                continue  # no coupon the brand can issue yet: the operator adds the step later
            spec = StepSpec(kind=spec.kind, coupon_template_id=coupon.pk)
            link_next = True
        elif spec.kind == StepKind.TASK and link_next:
            # The welcome task carries the coupon the step before issued (the engine fills the link in).
            spec = StepSpec(kind=spec.kind, text=f"{spec.text}\n{_('送您一张新人礼券，点开即可领取：')}{COUPON_LINK}")
            link_next = False
        step_add(actor=actor, journey=journey, spec=spec)
    _check_gotos(journey)
    return journey


@transaction.atomic
def step_add(*, actor: Actor, journey: Journey, spec: StepSpec, position: int | None = None) -> JourneyStep:
    """Add a step at the end (or at ``position``, moving the later ones down)."""
    journey = Journey.objects.select_for_update().get(pk=journey.pk, organization_id=actor.organization_id)
    _editable(journey)
    count = journey.steps.count()
    if count >= MAX_STEPS:
        raise JourneyError(_("一个旅程最多 %(n)s 步") % {"n": MAX_STEPS})
    values = _clean_step(actor, spec)
    last = journey.steps.aggregate(m=Max("position"))["m"] or 0
    if position is None or position > last:
        position = last + 1
    if position < 1:
        raise JourneyError(_("步骤序号须从 1 开始"), "position")
    _shift(journey, position, +1)
    step = JourneyStep.objects.create(journey=journey, position=position, **values)
    _check_gotos(journey, complete=False)
    return step


def _shift(journey: Journey, from_position: int, by: int) -> None:
    """Move steps at or after ``from_position`` by ``by`` (two UPDATEs: the unique index stays whole)."""
    last = journey.steps.aggregate(m=Max("position"))["m"] or 0
    if from_position > last:
        return  # appending: nothing moves, and a jump to a step not yet added keeps its target
    journey.steps.filter(kind=StepKind.CONDITION, no_goto__gte=from_position, no_goto__lte=last).update(
        no_goto=F("no_goto") + by
    )
    journey.steps.filter(position__gte=from_position).update(position=F("position") + 1000)
    journey.steps.filter(position__gte=from_position + 1000).update(position=F("position") - 1000 + by)


@transaction.atomic
def step_update(*, actor: Actor, step: JourneyStep, spec: StepSpec) -> JourneyStep:
    step = JourneyStep.objects.select_for_update().get(pk=step.pk, journey__organization_id=actor.organization_id)
    _editable(step.journey)
    values = _clean_step(actor, spec)
    blank: dict[str, Any] = {"days": 0, "hours": 0, "at_time": None, "condition": "", "no_goto": None}
    blank.update(tag=None, notify_staff=None, weekday=None, segment=None, coupon_template=None, lifecycle="")
    for key, value in blank.items():
        setattr(step, key, value)
    for key, value in values.items():
        setattr(step, key, value)
    step.save()
    _check_gotos(step.journey, complete=False)
    return step


@transaction.atomic
def step_delete(*, actor: Actor, step: JourneyStep) -> None:
    """Remove a step; customers waiting at it move on to the step after it."""
    step = JourneyStep.objects.select_for_update().get(pk=step.pk, journey__organization_id=actor.organization_id)
    journey = step.journey
    _editable(journey)
    if journey.steps.count() == 1 and journey.enrollments.filter(state="waiting").exists():
        raise JourneyError(_("还有客户在这个旅程里，不能删掉最后一步；请先暂停或归档旅程"))
    nxt = journey.steps.filter(position__gt=step.position).order_by("position").first()
    waiting = journey.enrollments.filter(step=step, state="waiting")
    if nxt is not None:
        waiting.update(step=nxt, visit=F("visit") + 1, due_at=timezone.now())
    else:
        waiting.update(state="done", exit_reason="completed", exited_at=timezone.now(), due_at=None, step=None)
    position = step.position
    journey.steps.filter(kind=StepKind.CONDITION, no_goto=position).update(no_goto=None)
    step.delete()
    rows = journey.steps.filter(position__gt=position)
    rows.update(position=F("position") + 1000)
    journey.steps.filter(position__gt=1000).update(position=F("position") - 1001)
    journey.steps.filter(kind=StepKind.CONDITION, no_goto__gt=position).update(no_goto=F("no_goto") - 1)


@transaction.atomic
def step_move(*, actor: Actor, step: JourneyStep, by: int) -> None:
    """Swap a step with its neighbour above (``by`` = -1) or below (+1)."""
    step = JourneyStep.objects.select_for_update().get(pk=step.pk, journey__organization_id=actor.organization_id)
    _editable(step.journey)
    other = step.journey.steps.filter(position=step.position + by).first()
    if other is None:
        return
    a, b = step.position, other.position
    JourneyStep.objects.filter(pk=step.pk).update(position=10_000)
    JourneyStep.objects.filter(pk=other.pk).update(position=a)
    JourneyStep.objects.filter(pk=step.pk).update(position=b)
    _check_gotos(step.journey, complete=False)


@transaction.atomic
def journey_set_status(*, actor: Actor, journey: Journey, status: str, now: dt.datetime | None = None) -> Journey:
    """Activate (needs at least one step), pause, resume or archive (everyone still in it leaves)."""
    journey = Journey.objects.select_for_update().get(pk=journey.pk, organization_id=actor.organization_id)
    now = now or timezone.now()
    if status not in JourneyStatus.values or status == JourneyStatus.DRAFT:
        raise JourneyError(_("不支持的状态"), "status")
    _editable(journey)
    if status == JourneyStatus.ACTIVE:
        if not journey.steps.exists():
            raise JourneyError(_("旅程至少要有一个步骤才能启用"))
        _check_complete(journey)
        _check_gotos(journey)
        if journey.activated_at is None:
            journey.activated_at = now
    if status == JourneyStatus.ARCHIVED:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE journeys_enrollment SET state = 'exited', exit_reason = 'archived', exited_at = %s,"
                " due_at = NULL WHERE journey_id = %s AND state IN ('waiting', 'holdout')"
                " RETURNING id, organization_id",
                [now, journey.pk],
            )
            _close_tasks(cursor, cursor.fetchall())
    journey.status = status
    journey.save(update_fields=["status", "activated_at", "updated_at"])
    return journey


@transaction.atomic
def journey_enrol_manual(
    *,
    actor: Actor,
    journey: Journey,
    segment_id: int | None = None,
    customer_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Enrol a saved segment or a list of customers (only those in the actor's scope). Returns how many entered."""
    journey = Journey.objects.get(pk=journey.pk, organization_id=actor.organization_id)
    if journey.status != JourneyStatus.ACTIVE:
        raise JourneyError(_("请先启用旅程，再加入客户"))
    now = now or timezone.now()
    if segment_id:
        segment = actor.scope(Segment.objects.all()).filter(pk=segment_id).first()
        if segment is None:
            raise JourneyError(_("分群不存在或不在你的范围内"), "segment")
        from contacts.segments import compile_sql

        sql, params = compile_sql(
            organization_id=actor.organization_id, expression=segment.expression, store_ids=actor.store_ids
        )
        return enrol(journey=journey, customer_sql=sql, params=params, now=now)
    ids = sorted(set(customer_ids or []))
    if not ids:
        raise JourneyError(_("请选择分群，或填写客户编号（每行一个）"), "customer_ids")
    if len(ids) > MAX_MANUAL_IDS:
        raise JourneyError(_("一次最多加入 %(n)s 位客户，请改用分群") % {"n": MAX_MANUAL_IDS}, "customer_ids")
    scoped = list(actor.scope(Customer.objects.filter(pk__in=ids)).values_list("pk", flat=True))
    missing = sorted(set(ids) - set(scoped))
    if missing:
        raise JourneyError(
            _("这些客户编号不存在或不在你的范围内：%(ids)s") % {"ids": ", ".join(map(str, missing[:20]))},
            "customer_ids",
        )
    return enrol_ids(journey=journey, customer_ids=scoped, now=now)
