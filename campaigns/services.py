"""Campaign lifecycle: create → submit (→ approval above the brand's size) → scheduled → sending → done.

Scheduled times are ``due_at`` rows polled by beat (``campaigns_due_tick``), never broker ETAs.
Pause stops new batches from being claimed; cancel releases every slot not yet used and cancels
WeCom tasks that members have not confirmed.
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.content import validate_content
from campaigns.models import (
    MAX_VALUE_PER_CONVERSION,
    AttemptOutcome,
    Batch,
    BatchStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    DeliveryStatus,
    DispatchAttempt,
    ExclusionReason,
    LedgerState,
    QuotaLedger,
    QuotaPolicy,
    Recurrence,
)
from campaigns.planner import audience_sql, campaign_plan
from campaigns.quota import policy_for
from channels.models import ContactWay
from channels.selectors import wecom_account_for
from contacts import services as contact_services
from contacts.models import AuditAction, Organization, Role, Segment, Staff, Store, Tag
from contacts.segments import validate
from offers.models import CouponTemplate
from scrm.celery import enqueue_on_commit

logger = logging.getLogger(__name__)


class CampaignError(ValueError):
    """A refused lifecycle step; the message (Chinese) says what to do."""


EDITABLE = (CampaignStatus.DRAFT,)
ACTIVE = (CampaignStatus.PENDING_APPROVAL, CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED)


def audience_count(*, campaign: Campaign) -> int:
    sql, params = audience_sql(campaign)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) a", params)
        return int(cursor.fetchone()[0])


@transaction.atomic
def campaign_create(
    *,
    organization: Organization,
    name: str,
    kind: str = CampaignKind.BROADCAST_SINGLE,
    text: str = "",
    attachments: list[dict[str, Any]] | None = None,
    segment: Segment | None = None,
    expression: dict[str, Any] | None = None,
    group_ids: list[int] | None = None,
    exclusion_segments: list[Segment] | None = None,
    holdout_percent: int = 0,
    holdout_seed: int | None = None,
    priority: int = 0,
    value_per_conversion: Decimal = Decimal(0),
    due_at: datetime | None = None,
    recurrence: str = Recurrence.NONE,
    recurrence_until: datetime | None = None,
    store: Store | None = None,
    audience_store_ids: frozenset[int] | None = None,
    created_by: Staff | None = None,
    channel_account_id: int | None = None,
    contact_way: ContactWay | None = None,
    moment_tag_ids: list[int] | None = None,
    coupon_template: CouponTemplate | None = None,
) -> Campaign:
    if not name.strip():
        raise ValidationError(["请填写活动名称"])
    if contact_way is not None and kind != CampaignKind.WELCOME_TEMPLATE:
        raise ValidationError([_("只有欢迎语模板可以指定渠道活码")])
    if contact_way is not None and contact_way.organization_id != organization.pk:
        raise ValidationError([_("所选渠道活码不存在或无权使用，请重新选择")])
    if coupon_template is not None and kind != CampaignKind.WELCOME_TEMPLATE:
        raise ValidationError([_("只有欢迎语模板可以附带新好友优惠券")])
    if coupon_template is not None and coupon_template.organization_id != organization.pk:
        raise ValidationError([_("所选优惠券不存在或无权使用，请重新选择")])
    if kind == CampaignKind.WELCOME_TEMPLATE:
        # A welcome answers whoever adds us: no audience, no schedule (see campaigns.welcome).
        segment, expression, group_ids, exclusion_segments = None, None, None, None
        holdout_percent, due_at, recurrence, recurrence_until = 0, None, Recurrence.NONE, None
        if contact_way is not None:
            channel_account_id = contact_way.account_id
    if not Decimal(0) <= value_per_conversion <= MAX_VALUE_PER_CONVERSION:
        raise ValidationError([_("每次转化价值须在 0–10000000 元之间")])
    if not 0 <= holdout_percent <= 50:
        raise ValidationError(["对照组比例须在 0–50% 之间"])
    if kind == CampaignKind.BROADCAST_GROUP and not group_ids:
        raise ValidationError(["客户群群发请至少选择一个客户群"])
    if expression:
        expression = validate(expression)
    normalized = validate_content(kind=kind, text=text, attachments=attachments, organization_id=organization.pk)
    moment_tags = _moment_tags(
        organization=organization,
        kind=kind,
        tag_ids=moment_tag_ids,
        expression=segment.expression if segment else expression,
    )
    if channel_account_id is None:
        account = wecom_account_for(organization=organization)
        channel_account_id = account.pk if account else None
    campaign = Campaign.objects.create(
        organization=organization,
        store=store,
        audience_store_ids=sorted(audience_store_ids) if audience_store_ids is not None else None,
        channel_account_id=channel_account_id,
        name=name.strip()[:100],
        kind=kind,
        text=text,
        attachments=normalized,
        segment=segment,
        expression=expression or {},
        group_ids=list(group_ids or []),
        holdout_percent=holdout_percent,
        **({"holdout_seed": holdout_seed} if holdout_seed is not None else {}),
        priority=priority,
        value_per_conversion=value_per_conversion,
        due_at=due_at,
        recurrence=recurrence,
        recurrence_until=recurrence_until,
        created_by=created_by,
        contact_way=contact_way,
        moment_tag_ids=moment_tags,
        coupon_template=coupon_template,
    )
    if exclusion_segments:
        campaign.exclusion_segments.set(exclusion_segments)
    return campaign


def _moment_tags(
    *, organization: Organization, kind: str, tag_ids: list[int] | None, expression: dict[str, Any] | None
) -> list[int]:
    """The Moments visibility tags: this brand's tags that exist in WeCom (they go out as corp tag ids)."""
    ids = sorted(set(tag_ids or []))
    if not ids:
        return []
    if kind != CampaignKind.MOMENT:
        raise ValidationError([_("只有朋友圈可以按客户标签设置可见范围")])
    tags = {t.pk: t for t in Tag.objects.filter(organization=organization, pk__in=ids)}
    if set(ids) - set(tags):
        raise ValidationError([_("所选可见标签不存在或无权使用，请重新选择")])
    unsynced = [t.name for t in tags.values() if not t.wecom_tag_id]
    if unsynced:
        raise ValidationError(
            [_("标签「%(names)s」还没有同步到企业微信，不能用作朋友圈可见范围") % {"names": "、".join(unsynced)}]
        )
    if ((expression or {}).get("tags") or {}).get("any"):
        # The audience would be "any of the segment's tags AND any of these", which one tag query cannot hold.
        raise ValidationError(
            [_("所选分群已按「包含任一」标签筛选，不能再叠加朋友圈可见标签；请把可见标签并入分群条件，或换一个分群")]
        )
    return ids


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


@transaction.atomic
def campaign_submit(*, campaign: Campaign, by: Staff | None = None, now: datetime | None = None) -> Campaign:
    """Draft → scheduled, or → pending approval when the audience is above the brand's threshold."""
    campaign = _locked(campaign)
    if campaign.status not in EDITABLE:
        raise CampaignError("只有草稿可以提交")
    if campaign.kind == CampaignKind.WELCOME_TEMPLATE:
        campaign.status = CampaignStatus.SCHEDULED
        campaign.save(update_fields=["status", "updated_at"])
        return campaign
    now = now or timezone.now()
    if campaign.due_at is None:
        campaign.due_at = now
    policy = policy_for(organization_id=campaign.organization_id, channel_account_id=campaign.channel_account_id)
    size = audience_count(campaign=campaign)
    campaign.stats = {**(campaign.stats or {}), "audience": size}
    campaign.status = CampaignStatus.PENDING_APPROVAL if size > policy.approval_threshold else CampaignStatus.SCHEDULED
    campaign.save(update_fields=["status", "due_at", "stats", "updated_at"])
    return campaign


@transaction.atomic
def campaign_approve(*, campaign: Campaign, by: Staff) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.PENDING_APPROVAL:
        raise CampaignError("该活动不在待审批状态")
    campaign.status = CampaignStatus.SCHEDULED
    campaign.approved_by = by
    campaign.approved_at = timezone.now()
    campaign.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    _audit(campaign, AuditAction.CAMPAIGN_APPROVE, by)
    return campaign


def campaign_review_refusal(*, campaign: Campaign, staff: Staff, role: Role) -> str | None:
    """Why ``staff`` may not approve or reject ``campaign``, or None: a manager never reviews their own
    campaign (another manager or an operator does); an operator may. The page and the API ask here."""
    if campaign.created_by_id == staff.pk and role != Role.OPERATOR:
        return _("不能审批自己创建的活动，请让其他店长或运营审批")
    return None


def _audit(campaign: Campaign, action: AuditAction, by: Staff) -> None:
    contact_services.audit_record(
        organization_id=campaign.organization_id,
        action=action,
        target_type="campaign",
        target_id=campaign.pk,
        actor_staff_id=by.pk,
        actor_user_id=by.user_id,
        fields=["status"],
        details={"status": campaign.status},
    )


@transaction.atomic
def campaign_reject(*, campaign: Campaign, by: Staff) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.PENDING_APPROVAL:
        raise CampaignError("该活动不在待审批状态")
    campaign.status = CampaignStatus.DRAFT
    campaign.save(update_fields=["status", "updated_at"])
    _audit(campaign, AuditAction.CAMPAIGN_REJECT, by)
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, by: Staff | None = None) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
        raise CampaignError("只有已排期或发送中的活动可以暂停")
    campaign.stats = {**(campaign.stats or {}), "paused_from": campaign.status}
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status", "stats", "updated_at"])
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, by: Staff | None = None) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.PAUSED:
        raise CampaignError("只有已暂停的活动可以恢复")
    campaign.status = CampaignStatus.SENDING if campaign.planned_at else CampaignStatus.SCHEDULED
    campaign.save(update_fields=["status", "updated_at"])
    if campaign.status == CampaignStatus.SENDING:
        enqueue_on_commit("campaigns.dispatch.campaign", campaign.pk)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, by: Staff | None = None) -> Campaign:
    """Cancel: planned deliveries cancelled, unused slots released, unconfirmed WeCom tasks cancelled."""
    campaign = _locked(campaign)
    if campaign.status not in (*ACTIVE, CampaignStatus.DRAFT):
        raise CampaignError("该活动已结束，无法取消")
    campaign.status = CampaignStatus.CANCELLED
    campaign.finished_at = timezone.now()
    campaign.save(update_fields=["status", "finished_at", "updated_at"])
    QuotaLedger.objects.filter(delivery__campaign_id=campaign.pk, state=LedgerState.RESERVED).delete()
    campaign.deliveries.filter(status=DeliveryStatus.PLANNED).update(status=DeliveryStatus.CANCELLED)
    campaign.batches.filter(status=BatchStatus.PENDING).update(status=BatchStatus.CANCELLED)
    to_cancel = list(
        campaign.batches.filter(status=BatchStatus.CREATED, confirmed_at__isnull=True).values_list("pk", flat=True)
    )
    if to_cancel:
        for batch_id in to_cancel:
            enqueue_on_commit("campaigns.dispatch.cancel_batch", batch_id)
    return campaign


def _advance(at: datetime, recurrence: str) -> datetime:
    if recurrence == Recurrence.DAILY:
        return at + timedelta(days=1)
    if recurrence == Recurrence.WEEKLY:
        return at + timedelta(days=7)
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def _spawn_run(parent: Campaign, due_at: datetime) -> Campaign:
    run = Campaign.objects.create(
        organization_id=parent.organization_id,
        store_id=parent.store_id,
        audience_store_ids=parent.audience_store_ids,
        channel_account_id=parent.channel_account_id,
        name=f"{parent.name} · {timezone.localtime(due_at):%m-%d}"[:100],
        kind=parent.kind,
        text=parent.text,
        attachments=parent.attachments,
        segment_id=parent.segment_id,
        expression=parent.expression,
        group_ids=parent.group_ids,
        holdout_percent=parent.holdout_percent,
        priority=parent.priority,
        value_per_conversion=parent.value_per_conversion,
        status=CampaignStatus.SCHEDULED,
        due_at=due_at,
        parent=parent,
        created_by_id=parent.created_by_id,
        approved_by_id=parent.approved_by_id,
        approved_at=parent.approved_at,
    )
    run.exclusion_segments.set(parent.exclusion_segments.all())
    return run


def campaigns_due_tick(*, now: datetime | None = None, limit: int = 20) -> list[int]:
    """Beat: start every scheduled campaign whose ``due_at`` has come, highest priority first.

    Recurring campaigns spawn one run per occurrence and move their own ``due_at`` forward.
    Returns the ids of the campaigns that started sending.
    """
    now = now or timezone.now()
    started: list[int] = []
    with transaction.atomic():
        due = list(
            Campaign.objects.select_for_update(skip_locked=True)
            .filter(status=CampaignStatus.SCHEDULED, due_at__lte=now)
            .exclude(kind=CampaignKind.WELCOME_TEMPLATE)
            .order_by("-priority", "due_at", "id")[:limit]
        )
        runs: list[Campaign] = []
        for campaign in due:
            if not campaign.recurrence:
                runs.append(campaign)
                continue
            runs.append(_spawn_run(campaign, campaign.due_at or now))
            nxt = _advance(campaign.due_at or now, campaign.recurrence)
            while nxt <= now:
                nxt = _advance(nxt, campaign.recurrence)
            if campaign.recurrence_until and nxt > campaign.recurrence_until:
                campaign.status, campaign.finished_at, campaign.due_at = CampaignStatus.DONE, now, None
            else:
                campaign.due_at = nxt
            campaign.save(update_fields=["status", "finished_at", "due_at", "updated_at"])
    # Plan outside the claim transaction, highest priority first, one transaction per campaign.
    for campaign in sorted(runs, key=lambda c: (-c.priority, c.pk)):
        try:
            campaign_start(campaign=campaign, now=now)
            started.append(campaign.pk)
        except Exception:
            logger.exception("campaign %s could not start", campaign.pk)
    return started


@transaction.atomic
def campaign_start(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Plan (idempotent) and move to sending; batches are then claimed by the dispatcher."""
    campaign_plan(campaign_id=campaign.pk, now=now)
    campaign = _locked(campaign)
    if campaign.status == CampaignStatus.SCHEDULED:
        campaign.status = CampaignStatus.SENDING
        campaign.save(update_fields=["status", "updated_at"])
    enqueue_on_commit("campaigns.dispatch.campaign", campaign.pk)
    return campaign


def campaign_refresh_stats(*, campaign: Campaign) -> dict[str, Any]:
    """Counts for the progress page: deliveries by status and reason, batches by status."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, reason, count(*) FROM campaigns_delivery WHERE campaign_id = %s GROUP BY status, reason",
            [campaign.pk],
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT status, count(*), count(confirmed_at) FROM campaigns_batch WHERE campaign_id = %s GROUP BY status",
            [campaign.pk],
        )
        batch_rows = cursor.fetchall()
    by_status: dict[str, int] = {}
    excluded: dict[str, int] = {}
    failed: dict[str, int] = {}
    for status, reason, n in rows:
        by_status[status] = by_status.get(status, 0) + n
        if status == DeliveryStatus.EXCLUDED:
            excluded[reason] = excluded.get(reason, 0) + n
        elif status == DeliveryStatus.FAILED:
            failed[reason] = failed.get(reason, 0) + n
    sent_states = (DeliveryStatus.TASK_CREATED, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
    planned_total = sum(by_status.get(s, 0) for s in (DeliveryStatus.PLANNED, *sent_states))
    stats = {
        **(campaign.stats or {}),
        "planned": planned_total,
        "task_created": sum(by_status.get(s, 0) for s in sent_states),
        "delivered": by_status.get(DeliveryStatus.DELIVERED, 0),
        "failed": by_status.get(DeliveryStatus.FAILED, 0),
        "cancelled": by_status.get(DeliveryStatus.CANCELLED, 0),
        "excluded": excluded,
        "failed_reasons": failed,
        "batches": {status: n for status, n, _ in batch_rows},
        "confirmed_batches": sum(c for _, _, c in batch_rows),
        "total_batches": sum(n for _, n, _ in batch_rows),
    }
    Campaign.objects.filter(pk=campaign.pk).update(stats=stats)
    campaign.stats = stats
    return stats


@transaction.atomic
def campaign_finish_if_complete(*, campaign_id: int) -> bool:
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status != CampaignStatus.SENDING:
        return False
    open_batches = campaign.batches.filter(
        status__in=[BatchStatus.PENDING, BatchStatus.ATTEMPTING, BatchStatus.CREATED]
    ).exists()
    if open_batches:
        return False
    campaign.status = CampaignStatus.DONE
    campaign.finished_at = timezone.now()
    campaign.save(update_fields=["status", "finished_at", "updated_at"])
    return True


@transaction.atomic
def quota_policy_save(
    *, organization: Organization, channel_account_id: int | None = None, **values: Any
) -> QuotaPolicy:
    """Create or update the brand default (no account) or one channel account's override."""
    policy, _created = QuotaPolicy.objects.get_or_create(
        organization=organization, channel_account_id=channel_account_id
    )
    for key, value in values.items():
        setattr(policy, key, value)
    policy.full_clean()
    policy.save()
    return policy


@transaction.atomic
def quota_policy_delete(*, policy: QuotaPolicy) -> None:
    """Remove an account's override (the account falls back to the brand default); the default stays."""
    if policy.channel_account_id is None:
        raise CampaignError(_("品牌默认策略不能删除；如需恢复默认值，请编辑后保存"))
    policy.delete()


def batch_pending_for(*, campaign: Campaign) -> list[Batch]:
    return list(campaign.batches.filter(status=BatchStatus.PENDING).order_by("id"))


@transaction.atomic
def batch_resolve(*, batch: Batch, action: str, by: Staff | None = None, msgid: str = "") -> Batch:
    """An operator settles a batch the dispatcher could not (``needs_operator``).

    * ``adopt``: the operator found the task in WeCom's console — record its ``msgid`` (tracking
      resumes; recipients count as sent);
    * ``resend``: the operator checked that WeCom has no such task — the batch goes back to pending;
    * ``drop``: give up the batch; its recipients fail and their slots are released.
    """
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != BatchStatus.NEEDS_OPERATOR:
        raise CampaignError("该批次不需要人工处理")
    now = timezone.now()
    if action == "adopt":
        if not msgid:
            raise CampaignError("请填写企业微信后台中该群发任务的 msgid")
        batch.status, batch.msgid, batch.task_created_at = BatchStatus.CREATED, msgid, now
        batch.deliveries.filter(status=DeliveryStatus.PLANNED).update(status=DeliveryStatus.TASK_CREATED)
        QuotaLedger.objects.filter(delivery__batch=batch).update(state=LedgerState.USED)
    elif action == "resend":
        batch.status, batch.not_before = BatchStatus.PENDING, now
    elif action == "drop":
        ids = list(batch.deliveries.filter(status=DeliveryStatus.PLANNED).values_list("pk", flat=True))
        batch.deliveries.filter(pk__in=ids).update(status=DeliveryStatus.FAILED, reason=ExclusionReason.PLATFORM_ERROR)
        QuotaLedger.objects.filter(delivery_id__in=ids).delete()
        batch.status = BatchStatus.FAILED
    else:
        raise CampaignError("未知的处理方式")
    batch.last_error = f"人工处理：{action}" + (f"（{by.name}）" if by else "")
    batch.save()
    DispatchAttempt.objects.create(
        batch=batch, outcome=AttemptOutcome.RECONCILED, finished_at=now, msgid=msgid, error=batch.last_error[:300]
    )
    return batch
