"""Reads for the console: previews (a dry-run plan), progress, per-staff confirmation, pending tasks."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from campaigns.models import (
    Batch,
    BatchStatus,
    Campaign,
    CampaignKind,
    CampaignStatus,
    DeliveryStatus,
    ExclusionReason,
)
from campaigns.planner import campaign_plan
from campaigns.quota import policy_for
from campaigns.services import campaign_create, campaign_refresh_stats
from contacts.access import Actor


class _Rollback(Exception):
    pass


def reason_rows(counts: dict[str, int]) -> list[dict[str, Any]]:
    labels = dict(ExclusionReason.choices)
    return [
        {"reason": r, "label": str(labels.get(r, r)), "count": n}
        for r, n in sorted(counts.items(), key=lambda kv: -kv[1])
    ]


def quota_picture(*, organization_id: int, channel_account_id: int | None, kind: str) -> dict[str, Any]:
    p = policy_for(organization_id=organization_id, channel_account_id=channel_account_id)
    return {
        "customer_mode": str(p.get_customer_mode_display()),
        "group_mode": str(p.get_group_mode_display()),
        "moments_per_day": p.moments_per_day,
        "brand_cap": p.brand_cap,
        "brand_cap_period": str(p.get_brand_cap_period_display()),
        "quiet_hours": f"{p.quiet_start:%H:%M}–{p.quiet_end:%H:%M}" if p.quiet_start != p.quiet_end else _("未设置"),
        "require_consent": p.require_consent,
        "approval_threshold": p.approval_threshold,
    }


def campaign_preview(*, actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    """Plan the would-be campaign inside a transaction that is rolled back: exact recipients,
    exclusions by reason and the quota it would take, without reserving anything."""
    out: dict[str, Any] = {}
    try:
        with transaction.atomic():
            campaign = campaign_create(organization=actor.organization, **values)
            result = campaign_plan(campaign_id=campaign.pk)
            by_sender = list(
                campaign.deliveries.filter(status=DeliveryStatus.PLANNED)
                .values("sender__name")
                .annotate(n=Count("id"))
                .order_by("-n")[:10]
            )
            out = {
                "recipients": result.planned,
                "audience": result.planned + sum(result.excluded.values()),
                "exclusions": reason_rows(result.excluded),
                "batches": result.batches,
                "senders": [{"name": r["sender__name"], "count": r["n"]} for r in by_sender],
                "send_after": result.send_after.isoformat(),
                "quota": quota_picture(
                    organization_id=actor.organization_id,
                    channel_account_id=campaign.channel_account_id,
                    kind=campaign.kind,
                ),
            }
            raise _Rollback
    except _Rollback:
        pass
    return out


def staff_confirmations(*, campaign: Campaign) -> list[dict[str, Any]]:
    rows = (
        Batch.objects.filter(campaign=campaign)
        .values("sender_id", "sender__name")
        .annotate(
            batches=Count("id"),
            recipients=Count("deliveries"),
            created=Count("id", filter=Q(status__in=[BatchStatus.CREATED, BatchStatus.DONE]), distinct=True),
            confirmed=Count("id", filter=Q(confirmed_at__isnull=False), distinct=True),
            delivered=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.DELIVERED)),
            problems=Count("id", filter=Q(status__in=[BatchStatus.NEEDS_OPERATOR, BatchStatus.FAILED]), distinct=True),
        )
        .order_by("sender__name")
    )
    return [
        {
            "staff": r["sender__name"],
            "batches": r["batches"],
            "recipients": r["recipients"],
            "created": r["created"],
            "confirmed": r["confirmed"],
            "delivered": r["delivered"],
            "problems": r["problems"],
        }
        for r in rows
    ]


def campaign_progress(*, campaign: Campaign) -> dict[str, Any]:
    stats = campaign_refresh_stats(campaign=campaign)
    planned = stats.get("planned", 0) or 0
    finished = (stats.get("delivered", 0) or 0) + (stats.get("failed", 0) or 0)
    return {
        "status": campaign.status,
        "status_label": str(campaign.get_status_display()),
        "planned": planned,
        "task_created": stats.get("task_created", 0),
        "confirmed_batches": stats.get("confirmed_batches", 0),
        "total_batches": stats.get("total_batches", 0),
        "delivered": stats.get("delivered", 0),
        "failed": stats.get("failed", 0),
        "percent": round(100 * finished / planned) if planned else (100 if campaign.status == "done" else 0),
        "exclusions": reason_rows(stats.get("excluded") or {}),
        "failures": reason_rows(stats.get("failed_reasons") or {}),
        "staff": staff_confirmations(campaign=campaign),
        "needs_operator": stats.get("batches", {}).get(BatchStatus.NEEDS_OPERATOR, 0),
    }


def pending_confirmations(*, actor: Actor) -> QuerySet[Batch]:
    """The signed-in staff member's WeCom group-send tasks still waiting for their 发送 tap."""
    return (
        Batch.objects.filter(
            organization_id=actor.organization_id,
            sender=actor.staff,
            status=BatchStatus.CREATED,
            confirmed_at__isnull=True,
        )
        .select_related("campaign")
        .order_by("task_created_at")
    )


def campaign_filter(qs: QuerySet[Campaign], *, status: str = "", kind: str = "", q: str = "") -> QuerySet[Campaign]:
    """The campaign list's filters (the page and the API): status, kind, and ``q`` in name or text."""
    if status in CampaignStatus.values:
        qs = qs.filter(status=status)
    if kind in CampaignKind.values:
        qs = qs.filter(kind=kind)
    q = q.strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(text__icontains=q))
    return qs


def campaigns_report(*, actor: Actor) -> list[Campaign]:
    return list(
        actor.scope(Campaign.objects.filter(planned_at__isnull=False))
        .exclude(kind=CampaignKind.WELCOME_TEMPLATE)
        .order_by("-planned_at")[:200]
    )


def live_count(*, sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) a", params)
        return int(cursor.fetchone()[0])


# Welcome templates that answer new contacts: scheduled (submitted) ones. Draft, paused and
# cancelled ones do not; welcome templates never go through sending, but count it if one ever does.
WELCOME_LIVE_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING)


def welcome_template_for(*, organization_id: int, account_id: int, contact_way_id: int | None) -> Campaign | None:
    """The live welcome template for one 渠道活码 (``contact_way_id``) or the default one (``None``).

    The default is the organization's template with no 活码, for this WeCom account or for any
    account. When several match, the newest wins.
    """
    qs = Campaign.objects.filter(
        organization_id=organization_id, kind=CampaignKind.WELCOME_TEMPLATE, status__in=WELCOME_LIVE_STATUSES
    )
    if contact_way_id is not None:
        qs = qs.filter(contact_way_id=contact_way_id)
    else:
        qs = qs.filter(contact_way__isnull=True).filter(
            Q(channel_account_id=account_id) | Q(channel_account__isnull=True)
        )
    return qs.order_by("-created_at", "-id").first()
