"""The lead pool (公海): writes. People with a phone who are not WeCom friends yet wait in the pool; rules
hand them to members, who get a to-do and an app message; the WeCom add converts them; an assignment
that was not converted in time returns the person to the pool.

The periodic tick (:func:`lead_pool_tick`, beat ``channels.leads.pool_tick``) runs four set-based steps:

1. **fill**: one ``INSERT … SELECT`` puts every recent lead or Meituan buyer with a phone whose customer
   has no active WeCom follow and was never in the pool into it (organizations with an active rule);
2. **return**: one ``UPDATE … RETURNING`` closes the open assignments past their ``return_due_at`` and
   puts their people back (``returned``, remembering who had them); their to-dos are cancelled;
3. **assign**, per active rule inside its working hours: the rule row is locked (``SKIP LOCKED``: a
   second tick running at the same time skips the rule instead of assigning twice), the queue is read
   oldest first up to the members' remaining daily capacity, a round-robin plan is made in memory, and
   one statement moves the entries to ``assigned`` (only those still waiting) and inserts their
   assignments; the partial unique index ``leadassignment_one_open_per_entry`` refuses a second open
   assignment whatever happens;
4. the members' to-dos (``todos_create``, one INSERT) and one app message per member.

Conversion (:func:`lead_pool_convert`) is called by the WeCom contact handler after identity
resolution: OneID has already joined the friend to the lead's customer — by the lead's own 活码
``state`` (``channels/wecom/lead_codes.py``), by a remark phone (phone hash) or by unionid — so an open
entry of that customer with an active follow is converted, its to-do closed as done.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.app_messages import app_message_send
from channels.models import (
    AssignmentStatus,
    LeadAssignment,
    LeadPoolEntry,
    LeadPoolMember,
    LeadPoolRule,
    PoolMemberRole,
    PoolStatus,
)
from channels.pool_models import OPEN_POOL_STATUSES
from contacts.access import OPERATOR_AND_MANAGER, Actor
from contacts.crypto import decrypt_phone
from contacts.models import AuditAction, Customer, Follow, Role, Staff, Store
from contacts.services import ContactsError
from contacts.services.audit import audit_record
from todos.models import TodoKind, TodoStatus
from todos.services import TodoSpec, todos_close, todos_create

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
ALL_DAYS = (1, 2, 3, 4, 5, 6, 7)
DEFAULT_RETURN_DAYS = 3
Clock = Callable[[], dt.datetime]


class LeadPoolError(ContactsError):
    """A refused pool action; ``field`` names the input that is wrong (the API's 400 key)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


# ---- pure rules -----------------------------------------------------------------------------------


def beijing_day_start(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(BEIJING)
    return dt.datetime.combine(local.date(), dt.time.min, tzinfo=BEIJING)


def rule_is_open(rule: LeadPoolRule, now: dt.datetime) -> bool:
    """Whether ``now`` (any zone) is inside the rule's working hours, Beijing time."""
    local = now.astimezone(BEIJING)
    days = rule.work_days or ALL_DAYS
    return local.isoweekday() in days and rule.work_start <= local.time() < rule.work_end


@dataclass(frozen=True)
class Seat:
    staff_id: int
    remaining: int


def plan_round_robin(
    *,
    entries: Sequence[tuple[int, int | None]],
    members: Sequence[Seat],
    backups: Sequence[Seat],
    after_staff_id: int | None,
) -> tuple[list[tuple[int, int]], int | None]:
    """Who gets which entry: ``entries`` are (entry id, previous assignee) oldest first; ``members`` in
    rotation order and ``backups`` with their remaining capacity today (unavailable members are left
    out by the caller). Returns the (entry, staff) pairs and the new rotation position.

    1. The rotation continues after the member who got the last lead; a member at cap is skipped.
    2. When no member has room, the backups take it (least given today first, then their order).
    3. A returned person goes to someone else first: their previous member only when nobody else has room.
    """
    left = {s.staff_id: s.remaining for s in [*members, *backups]}
    order = [s.staff_id for s in members]
    start = order.index(after_staff_id) + 1 if after_staff_id in order else 0
    given_backup = {s.staff_id: 0 for s in backups}
    pairs: list[tuple[int, int]] = []
    cursor = after_staff_id
    for entry_id, previous in entries:
        chosen: int | None = None
        for avoid in (previous, None):
            rotation = order[start:] + order[:start]
            chosen = next((sid for sid in rotation if left[sid] > 0 and sid != avoid), None)
            if chosen is not None:
                start = order.index(chosen) + 1
                cursor = chosen
                break
            spare = [s.staff_id for s in backups if left[s.staff_id] > 0 and s.staff_id != avoid]
            if spare:
                chosen = min(spare, key=lambda sid: given_backup[sid])
                given_backup[chosen] += 1
                break
        if chosen is None:
            break  # nobody has room: the rest waits for tomorrow (or a member coming back)
        left[chosen] -= 1
        pairs.append((entry_id, chosen))
    return pairs, cursor


# ---- the tick -------------------------------------------------------------------------------------


def lead_pool_tick(*, clock: Clock = timezone.now) -> dict[str, int]:
    """Fill, return, assign (see the module docstring). Safe to run twice or concurrently."""
    now = clock()
    filled = lead_pool_fill(now=now)
    returned = lead_pool_return_due(now=now)
    assigned = 0
    for rule_id in LeadPoolRule.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True):
        assigned += lead_pool_assign_rule(rule_id=rule_id, now=now)
    return {"filled": filled, "returned": returned, "assigned": assigned}


_FILL_SQL = """
INSERT INTO channels_leadpoolentry
    (organization_id, customer_id, lead_id, redemption_id, source, store_id, status,
     entered_at, returns, created_at)
SELECT DISTINCT ON (src.customer_id)
       src.organization_id, src.customer_id, src.lead_id, src.redemption_id, src.source,
       COALESCE(src.store_id, c.home_store_id), 'waiting', %(now)s, 0, %(now)s
FROM (
    SELECT l.organization_id, l.customer_id, l.id AS lead_id, NULL::bigint AS redemption_id,
           l.source, l.store_id, l.received_at AS at
    FROM channels_lead l
    WHERE l.customer_id IS NOT NULL AND l.phone_hash <> '' AND l.received_at >= %(since)s
      AND l.organization_id IN (SELECT organization_id FROM channels_leadpoolrule WHERE is_active)
    UNION ALL
    SELECT r.organization_id, r.customer_id, NULL, r.id, 'meituan', r.store_id, r.consumed_at
    FROM channels_meituanredemption r
    WHERE r.customer_id IS NOT NULL AND r.status = 'consumed' AND r.consumed_at >= %(since)s
      AND r.organization_id IN (SELECT organization_id FROM channels_leadpoolrule WHERE is_active)
) src
JOIN contacts_customer c ON c.id = src.customer_id
WHERE c.phone_hash <> '' AND c.erased_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM contacts_follow f WHERE f.customer_id = src.customer_id AND f.deleted_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM channels_leadpoolentry e WHERE e.customer_id = src.customer_id)
ORDER BY src.customer_id, src.at DESC
ON CONFLICT DO NOTHING
"""


def lead_pool_fill(*, now: dt.datetime) -> int:
    """Put recent leads and Meituan buyers who are not WeCom friends into the pool. One INSERT."""
    since = now - dt.timedelta(days=settings.LEAD_POOL_LOOKBACK_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(_FILL_SQL, {"now": now, "since": since})
        return int(cursor.rowcount)


# The rule that governs a customer: their home store's active rule, else the brand's default one.
_IMPORT_SQL = """
INSERT INTO channels_leadpoolentry
    (organization_id, customer_id, lead_id, redemption_id, source, store_id, status, entered_at, returns, created_at)
SELECT c.organization_id, c.id, NULL, NULL, 'import', c.home_store_id, 'waiting', %(now)s, 0, %(now)s
FROM contacts_customer c
WHERE c.id = ANY(%(ids)s) AND c.organization_id = %(org)s AND c.phone_hash <> '' AND c.erased_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM contacts_follow f WHERE f.customer_id = c.id AND f.deleted_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM channels_leadpoolentry e WHERE e.customer_id = c.id)
  AND (%(forced)s OR COALESCE(
        (SELECT r.import_enters_pool FROM channels_leadpoolrule r
          WHERE r.organization_id = c.organization_id AND r.store_id = c.home_store_id AND r.is_active),
        (SELECT r.import_enters_pool FROM channels_leadpoolrule r
          WHERE r.organization_id = c.organization_id AND r.store_id IS NULL AND r.is_active),
        false))
ORDER BY c.id
ON CONFLICT DO NOTHING
"""


def lead_pool_enter_imported(
    *, organization_id: int, customer_ids: list[int], to_lead_pool: bool, clock: Clock = timezone.now
) -> int:
    """Import listener (``contacts.services.register_import_listener``): imported customers with a
    phone who are not WeCom friends and were never in the pool enter it (source 导入) — when the
    import asked for it (导入后进入线索公海) or the rule of their store (else the brand default) says so.
    One INSERT; the next tick assigns them."""
    with connection.cursor() as cursor:
        cursor.execute(
            _IMPORT_SQL, {"now": clock(), "ids": list(customer_ids), "org": organization_id, "forced": to_lead_pool}
        )
        return int(cursor.rowcount)


_RETURN_SQL = """
WITH due AS (
    UPDATE channels_leadassignment a SET status = 'returned', closed_at = %(now)s
    WHERE a.status = 'open' AND a.return_due_at <= %(now)s
    RETURNING a.id, a.organization_id, a.entry_id, a.staff_id
), back AS (
    UPDATE channels_leadpoolentry e
    SET status = 'returned', previous_assignee_id = due.staff_id, assignee_id = NULL, assigned_at = NULL,
        entered_at = %(now)s, returns = e.returns + 1
    FROM due WHERE e.id = due.entry_id AND e.status = 'assigned'
    RETURNING e.id
)
SELECT due.organization_id, due.id FROM due
"""


@transaction.atomic
def lead_pool_return_due(*, now: dt.datetime) -> int:
    """Assignments not converted by their ``return_due_at``: back to the pool, to-dos cancelled."""
    with connection.cursor() as cursor:
        cursor.execute(_RETURN_SQL, {"now": now})
        rows = cursor.fetchall()
    by_org: dict[int, list[str]] = {}
    for org_id, assignment_id in rows:
        by_org.setdefault(org_id, []).append(f"lead_pool:{assignment_id}")
    for org_id, keys in by_org.items():
        todos_close(organization_id=org_id, source_keys=keys, status=TodoStatus.CANCELLED)
    return len(rows)


def _available_staff(organization_id: int, staff_ids: Iterable[int]) -> set[int]:
    """Members who can add a friend now: in post, not departed, with a WeCom account."""
    return set(
        Staff.objects.filter(
            organization_id=organization_id, pk__in=list(staff_ids), is_active=True, departed_at__isnull=True
        )
        .exclude(wecom_userid="")
        .values_list("pk", flat=True)
    )


def _given_today(staff_ids: Iterable[int], now: dt.datetime) -> dict[int, int]:
    start = beijing_day_start(now)
    counts: dict[int, int] = {}
    for staff_id in LeadAssignment.objects.filter(staff_id__in=list(staff_ids), assigned_at__gte=start).values_list(
        "staff_id", flat=True
    ):
        counts[staff_id] = counts.get(staff_id, 0) + 1
    return counts


def _queue_for(rule: LeadPoolRule) -> Any:
    queue = LeadPoolEntry.objects.filter(
        organization_id=rule.organization_id,
        status__in=[PoolStatus.WAITING, PoolStatus.RETURNED],
        customer__erased_at__isnull=True,
    )
    if rule.store_id is not None:
        return queue.filter(store_id=rule.store_id)
    own = LeadPoolRule.objects.filter(organization_id=rule.organization_id, store__isnull=False, is_active=True).values(
        "store_id"
    )
    return queue.exclude(store_id__in=own)


@transaction.atomic
def lead_pool_assign_rule(*, rule_id: int, now: dt.datetime) -> int:
    """Hand out one rule's queue (step 3 of the tick). Returns how many were assigned."""
    rule = LeadPoolRule.objects.select_for_update(skip_locked=True).filter(pk=rule_id, is_active=True).first()
    if rule is None or not rule_is_open(rule, now):
        return 0  # another tick holds it, or outside working hours: the leads wait for the next window
    rows = list(LeadPoolMember.objects.filter(rule=rule).order_by("position", "pk").values_list("staff_id", "role"))
    available = _available_staff(rule.organization_id, [sid for sid, _r in rows])
    given = _given_today(available, now)

    def seats(role: str) -> list[Seat]:
        return [
            Seat(sid, max(0, rule.daily_cap - given.get(sid, 0))) for sid, r in rows if r == role and sid in available
        ]

    members, backups = seats(PoolMemberRole.MEMBER), seats(PoolMemberRole.BACKUP)
    room = sum(s.remaining for s in [*members, *backups])
    if room == 0:
        return 0
    queue = list(
        _queue_for(rule)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("entered_at", "pk")
        .values_list("pk", "previous_assignee_id")[:room]
    )
    pairs, cursor = plan_round_robin(entries=queue, members=members, backups=backups, after_staff_id=rule.last_staff_id)
    if not pairs:
        return 0
    done = _assign(pairs=pairs, now=now, return_days=rule.return_days, by=None, from_statuses=("waiting", "returned"))
    if cursor != rule.last_staff_id:
        LeadPoolRule.objects.filter(pk=rule.pk).update(last_staff_id=cursor)
    return len(done)


_ASSIGN_SQL = """
WITH plan(entry_id, staff_id) AS (SELECT * FROM unnest(%(entries)s::bigint[], %(staff)s::bigint[])),
moved AS (
    UPDATE channels_leadpoolentry e
    SET status = 'assigned', assignee_id = plan.staff_id, assigned_at = %(now)s
    FROM plan WHERE e.id = plan.entry_id AND e.status = ANY(%(from_statuses)s)
    RETURNING e.id, e.organization_id, e.store_id, e.source, plan.staff_id
)
INSERT INTO channels_leadassignment
    (organization_id, entry_id, staff_id, store_id, source, status, assigned_by_id, assigned_at, return_due_at)
SELECT organization_id, id, staff_id, store_id, source, 'open', %(by)s, %(now)s, %(due)s FROM moved
RETURNING id
"""


def _assign(
    *,
    pairs: Sequence[tuple[int, int]],
    now: dt.datetime,
    return_days: int,
    by: Staff | None,
    from_statuses: tuple[str, ...],
) -> list[LeadAssignment]:
    """Move entries to their members and record the assignments (one statement), then the to-dos and
    the app messages. Entries no longer in ``from_statuses`` (converted meanwhile) are skipped."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ASSIGN_SQL,
            {
                "entries": [e for e, _s in pairs],
                "staff": [s for _e, s in pairs],
                "now": now,
                "due": now + dt.timedelta(days=return_days),
                "by": by.pk if by else None,
                "from_statuses": list(from_statuses),
            },
        )
        ids = [row[0] for row in cursor.fetchall()]
    assignments = list(
        LeadAssignment.objects.filter(pk__in=ids).select_related("entry__customer", "staff").order_by("pk")
    )
    _notify(assignments)
    return assignments


def _notify(assignments: list[LeadAssignment]) -> None:
    """The members' to-dos (masked phone; the full number only through the logged copy action) and one
    app message per member."""
    if not assignments:
        return
    organization_id = assignments[0].organization_id
    specs = []
    for a in assignments:
        customer: Customer = a.entry.customer
        masked = customer.phone_mask or "****"
        specs.append(
            TodoSpec(
                assignee_id=a.staff_id,
                kind=TodoKind.LEAD_ADD,
                title=_("添加线索 %(name)s %(phone)s") % {"name": customer.name or _("客户"), "phone": masked},
                body=_("来源：%(source)s。请在企业微信中搜索手机号添加为好友，添加后待办会自动完成。")
                % {"source": a.entry.get_source_display()},
                due_at=a.return_due_at,
                source_key=a.todo_key,
                customer_id=customer.pk,
                store_id=a.store_id,
                payload={
                    "lead_pool_entry_id": a.entry_id,
                    "assignment_id": a.pk,
                    "phone_masked": masked,
                    "copy_phone_url": reverse("channels:lead_pool_phone", args=[a.entry_id]),
                },
            )
        )
    todos_create(organization_id=organization_id, specs=specs)
    by_staff: dict[int, list[LeadAssignment]] = {}
    for a in assignments:
        by_staff.setdefault(a.staff_id, []).append(a)
    for staff_id, mine in by_staff.items():
        _app_message(organization_id=organization_id, staff_id=staff_id, assignments=mine)


def _app_message(*, organization_id: int, staff_id: int, assignments: list[LeadAssignment]) -> None:
    app_message_send(
        organization_id=organization_id,
        staff_ids=[staff_id],
        text=_("公海给你分配了 %(n)s 条新线索，请尽快添加企业微信好友（手机号在待办中一键复制）。")
        % {"n": len(assignments)},
        source_key=f"lead_pool:{assignments[0].pk}:{staff_id}",
        # A text card whose button opens the member's own pool list (what they hold now).
        title=_("新线索待添加"),
        url=f"{settings.PUBLIC_BASE_URL}{reverse('channels:lead_pool')}?status=assigned",
    )


# ---- conversion -----------------------------------------------------------------------------------


def lead_pool_convert(*, customer_id: int, clock: Clock = timezone.now) -> LeadPoolEntry | None:
    """Inside the WeCom contact handler's transaction, after OneID: a customer in the pool who now has an
    active follow is converted — the open assignment records its time-to-add and its to-do is done.

    Returns the converted entry, or ``None`` (not in the pool, or no active follow)."""
    entry = (
        LeadPoolEntry.objects.select_for_update().filter(customer_id=customer_id, status__in=OPEN_POOL_STATUSES).first()
    )
    if entry is None:
        return None
    follows = list(
        Follow.objects.filter(customer_id=customer_id, deleted_at__isnull=True).values_list("staff_id", "added_at")
    )
    if not follows:
        return None
    now = clock()
    assignment = LeadAssignment.objects.filter(entry=entry, status=AssignmentStatus.OPEN).first()
    # The assignee's own follow if they added them, else the first friend made.
    mine = [f for f in follows if assignment and f[0] == assignment.staff_id]
    staff_id, added_at = min(mine or follows, key=lambda f: f[1] or now)
    added_at = added_at or now
    if assignment is not None:
        assignment.status = AssignmentStatus.CONVERTED
        assignment.closed_at = now
        assignment.seconds_to_add = max(0, int((added_at - assignment.assigned_at).total_seconds()))
        assignment.save(update_fields=["status", "closed_at", "seconds_to_add"])
        todos_close(organization_id=entry.organization_id, source_keys=[assignment.todo_key], status=TodoStatus.DONE)
    entry.status = PoolStatus.CONVERTED
    entry.assignee = None
    entry.converted_at = added_at
    entry.converted_by_id = staff_id
    entry.save(update_fields=["status", "assignee", "converted_at", "converted_by"])
    return entry


# ---- managers' actions ----------------------------------------------------------------------------


def _return_days_for(organization_id: int, store_id: int | None) -> int:
    """The return deadline of the rule serving ``store_id`` (its own, else the brand default)."""
    rules: dict[int | None, int] = dict(
        LeadPoolRule.objects.filter(organization_id=organization_id)
        .filter(Q(store_id=store_id) | Q(store__isnull=True))
        .values_list("store_id", "return_days")
    )
    return rules.get(store_id) or rules.get(None) or DEFAULT_RETURN_DAYS


@transaction.atomic
def lead_pool_assign(
    *, actor: Actor, entry_ids: Iterable[int], staff_id: int, clock: Clock = timezone.now
) -> list[LeadAssignment]:
    """A manager or operator gives pool entries of their scope to a member of their scope by hand: a
    waiting or returned person is assigned, an assigned one is reassigned (the old assignment is closed
    as 改派 and its to-do cancelled). Caps and working hours are the rules' business, not a manager's."""
    actor.require_role(OPERATOR_AND_MANAGER)
    ids = sorted({int(i) for i in entry_ids})
    if not ids:
        raise LeadPoolError(_("请至少选择一条线索"), field="entry_ids")
    staff = (
        actor.scope(Staff.objects.filter(pk=staff_id, is_active=True, departed_at__isnull=True))
        .exclude(wecom_userid="")
        .first()
    )
    if staff is None:
        raise LeadPoolError(_("成员不存在、已离职、没有企业微信账号或不在你的门店范围内"), field="staff_id")
    entries = list(
        actor.scope(LeadPoolEntry.objects.select_for_update())
        .filter(pk__in=ids, status__in=OPEN_POOL_STATUSES)
        .order_by("pk")
    )
    if len(entries) != len(ids):
        raise LeadPoolError(_("所选线索不存在、已添加或不在你的门店范围内"), field="entry_ids")
    now = clock()
    entries = [e for e in entries if e.assignee_id != staff.pk]
    if not entries:
        return []
    moving = [e.pk for e in entries if e.status == PoolStatus.ASSIGNED]
    if moving:
        old = list(
            LeadAssignment.objects.filter(entry_id__in=moving, status=AssignmentStatus.OPEN).values_list(
                "pk", flat=True
            )
        )
        LeadAssignment.objects.filter(pk__in=old).update(status=AssignmentStatus.REASSIGNED, closed_at=now)
        # SET reads the row as it was: the member who had them becomes the previous one.
        LeadPoolEntry.objects.filter(pk__in=moving).update(
            status=PoolStatus.RETURNED, previous_assignee=F("assignee"), assignee=None, assigned_at=None
        )
        todos_close(organization_id=actor.organization_id, source_keys=[f"lead_pool:{pk}" for pk in old])
    done: list[LeadAssignment] = []
    by_store: dict[int | None, list[int]] = {}
    for e in entries:
        by_store.setdefault(e.store_id, []).append(e.pk)
    for store_id, pks in by_store.items():
        done += _assign(
            pairs=[(pk, staff.pk) for pk in pks],
            now=now,
            return_days=_return_days_for(actor.organization_id, store_id),
            by=actor.staff,
            from_statuses=("waiting", "returned"),
        )
    return done


@transaction.atomic
def lead_pool_phone_reveal(*, actor: Actor, entry_id: int) -> str:
    """The full phone number of a pool entry for the one-tap copy, written to the audit log. Store staff
    only for a person assigned to them; managers and operators within their scope."""
    entry = actor.scope(LeadPoolEntry.objects.select_related("customer")).filter(pk=entry_id).first()
    if entry is None or (actor.role == Role.STORE_STAFF and entry.assignee_id != actor.staff.pk):
        raise LeadPoolError(_("线索不存在或未分配给你"), field="entry")
    phone = decrypt_phone(entry.customer.phone_encrypted) if entry.customer.phone_encrypted else ""
    if not phone:
        raise LeadPoolError(_("该线索没有手机号（可能已按个人信息删除请求删除）"), field="entry")
    audit_record(
        organization_id=actor.organization_id,
        action=AuditAction.LEAD_PHONE_COPY,
        target_type="lead_pool_entry",
        target_id=entry.pk,
        actor_staff_id=actor.staff.pk,
        actor_user_id=actor.user_id,
        fields=["phone"],
    )
    return phone


# ---- rules (the settings page) --------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInput:
    store_id: int | None
    is_active: bool
    daily_cap: int
    work_start: dt.time
    work_end: dt.time
    work_days: list[int]
    return_days: int
    member_ids: list[int]
    backup_ids: list[int]
    import_enters_pool: bool = False


@transaction.atomic
def lead_pool_rule_save(*, actor: Actor, data: RuleInput, rule_id: int | None = None) -> LeadPoolRule:
    """Create or change a rule of the actor's scope (operators: any store and the brand default;
    managers: their stores). Members and backups must be staff of the rule's store scope."""
    actor.require_role(OPERATOR_AND_MANAGER)
    if data.work_start >= data.work_end:
        raise LeadPoolError(_("下班时间必须晚于上班时间"), field="work_end")
    if data.store_id is None and not actor.is_operator:
        raise LeadPoolError(_("只有运营可以设置品牌默认规则，请选择门店"), field="store")
    if data.store_id is not None and not actor.scope(Store.objects.filter(pk=data.store_id)).exists():
        raise LeadPoolError(_("门店不存在或不在你的范围内"), field="store")
    if set(data.member_ids) & set(data.backup_ids):
        raise LeadPoolError(_("同一成员不能既是分配成员又是备用成员"), field="backup_ids")
    wanted = [*data.member_ids, *data.backup_ids]
    if not wanted:
        raise LeadPoolError(_("请至少选择一名分配成员"), field="member_ids")
    found = set(actor.scope(Staff.objects.filter(pk__in=wanted)).values_list("pk", flat=True))
    if found != set(wanted):
        raise LeadPoolError(_("所选成员不存在或不在你的门店范围内"), field="member_ids")
    if rule_id is not None:
        rule = actor.scope(LeadPoolRule.objects.select_for_update()).filter(pk=rule_id).first()
        if rule is None:
            raise LeadPoolError(_("规则不存在或不在你的范围内"), field="rule")
        if rule.store_id is None and not actor.is_operator:
            raise LeadPoolError(_("只有运营可以修改品牌默认规则"), field="rule")
    else:
        rule = LeadPoolRule(organization_id=actor.organization_id)
    same_store = LeadPoolRule.objects.filter(organization_id=actor.organization_id).exclude(pk=rule.pk)
    taken = same_store.filter(store__isnull=True) if data.store_id is None else same_store.filter(store=data.store_id)
    if taken.exists():
        raise LeadPoolError(_("该门店已有分配规则，请直接编辑"), field="store")
    rule.store_id = data.store_id
    rule.is_active = data.is_active
    rule.daily_cap = data.daily_cap
    rule.work_start, rule.work_end = data.work_start, data.work_end
    rule.work_days = sorted(set(data.work_days))
    rule.return_days = data.return_days
    rule.import_enters_pool = data.import_enters_pool
    rule.save()
    LeadPoolMember.objects.filter(rule=rule).delete()
    LeadPoolMember.objects.bulk_create(
        [
            LeadPoolMember(organization_id=rule.organization_id, rule=rule, staff_id=sid, role=role, position=i)
            for ids, role in ((data.member_ids, PoolMemberRole.MEMBER), (data.backup_ids, PoolMemberRole.BACKUP))
            for i, sid in enumerate(ids)
        ]
    )
    return rule


# ---- privacy --------------------------------------------------------------------------------------


def customer_pool_erase(customer_id: int) -> dict[str, int]:
    """Erasure handler: an erased person leaves the pool — open assignments are closed as returned (their
    to-dos are cancelled by the to-dos' own handler) and the entry is no longer handed out (the queue
    skips erased customers). The assignment rows (member, store, source, times) stay for the figures."""
    now = timezone.now()
    closed = LeadAssignment.objects.filter(entry__customer_id=customer_id, status=AssignmentStatus.OPEN).update(
        status=AssignmentStatus.RETURNED, closed_at=now
    )
    LeadPoolEntry.objects.filter(customer_id=customer_id, status=PoolStatus.ASSIGNED).update(
        status=PoolStatus.RETURNED, assignee=None, assigned_at=None
    )
    return {"lead_pool_assignments": closed}
