"""Reads for the console: previews (a dry-run plan), progress, per-staff confirmation, pending tasks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Window
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
from contacts.models import Customer, Role, Staff


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
    return qs.select_related("coupon_template").order_by("-created_at", "-id").first()


# --- home page to-dos ----------------------------------------------------------------------------

TODO_LIMIT = 5


def campaigns_awaiting_approval(*, actor: Actor) -> list[Campaign]:
    """Campaigns this actor may approve (``campaign_action``'s rule: managers and operators, a manager
    never their own), oldest first, at most ``TODO_LIMIT``; each carries ``total`` (all of them). One query."""
    if actor.role not in (Role.OPERATOR, Role.MANAGER):
        return []
    qs = actor.scope(Campaign.objects.filter(status=CampaignStatus.PENDING_APPROVAL))
    if actor.role != Role.OPERATOR:
        qs = qs.exclude(created_by_id=actor.staff.pk)
    return list(
        qs.select_related("created_by").annotate(total=Window(Count("id"))).order_by("updated_at", "id")[:TODO_LIMIT]
    )


def campaigns_needing_operator(*, actor: Actor) -> tuple[list[dict[str, Any]], int]:
    """Operators: up to ``TODO_LIMIT`` campaigns with batches marked ``needs_operator`` (settled on the
    campaign's page), each with its number of such batches, and the number of such batches in all. One
    query (two when more campaigns are stuck than are listed)."""
    if not actor.is_operator:
        return [], 0
    stuck = Batch.objects.filter(organization_id=actor.organization_id, status=BatchStatus.NEEDS_OPERATOR)
    rows: list[dict[str, Any]] = [
        dict(r)
        for r in stuck.values("campaign_id", "campaign__name")
        .annotate(batches=Count("id"))
        .order_by("campaign_id")[: TODO_LIMIT + 1]
    ]
    total = stuck.count() if len(rows) > TODO_LIMIT else sum(int(r["batches"]) for r in rows)
    return rows[:TODO_LIMIT], total


# Campaigns that still send (or answer, for welcome templates) hold on to their library materials.
_MATERIAL_USES_SQL = """
SELECT DISTINCT m.id, c.id, c.name, c.kind
  FROM campaigns_campaign c
  CROSS JOIN LATERAL (
      SELECT jsonb_path_query(c.attachments, '$[*].*.material_id')
      UNION ALL SELECT jsonb_path_query(c.attachments, '$[*].*.pic_material_id')
  ) AS x(v)
  JOIN LATERAL (SELECT (x.v)::bigint AS id) m ON TRUE
 WHERE c.organization_id = %s AND c.status <> ALL(%s) AND jsonb_typeof(x.v) = 'number' AND m.id = ANY(%s)
 ORDER BY c.id
"""


def material_usage(organization_id: int, material_ids: list[int]) -> dict[int, list[str]]:
    """The campaigns (not done or cancelled) whose attachments name each material (channels.materials asks)."""
    labels = dict(CampaignKind.choices)
    out: dict[int, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _MATERIAL_USES_SQL,
            [organization_id, [CampaignStatus.DONE, CampaignStatus.CANCELLED], list(material_ids)],
        )
        for material_id, _pk, name, kind in cursor.fetchall():
            out.setdefault(int(material_id), []).append(f"{labels.get(kind, kind)}「{name}」")
    return out


def moment_interactions(*, campaign: Campaign, actor: Actor) -> dict[str, Any] | None:
    """Likes and comments of a Moments campaign for its page: counts, and rows with Beijing times.

    A customer is linked only when the actor may open their profile (the store scope of ``actor``).
    """
    stats = campaign.moment_interactions or {}
    if campaign.kind != CampaignKind.MOMENT or not stats.get("synced_at"):
        return None
    ids = {r.get("customer_id") for key in ("like_list", "comment_list") for r in stats.get(key) or []}
    visible = set(actor.scope(Customer.objects.filter(pk__in=[i for i in ids if i])).values_list("pk", flat=True))
    userids = {r.get("sender") for key in ("like_list", "comment_list") for r in stats.get(key) or []}
    staff = dict(
        Staff.objects.filter(organization_id=campaign.organization_id, wecom_userid__in=userids).values_list(
            "wecom_userid", "name"
        )
    )

    def rows(key: str) -> list[dict[str, Any]]:
        return [
            {
                "name": r.get("name") or _("未识别的客户"),
                "customer_id": r.get("customer_id") if r.get("customer_id") in visible else None,
                "sender": staff.get(r.get("sender")) or r.get("sender", ""),
                "at": datetime.fromtimestamp(int(r.get("create_time") or 0), tz=UTC),
            }
            for r in (stats.get(key) or [])[:200]
        ]

    return {
        "likes": int(stats.get("likes") or 0),
        "comments": int(stats.get("comments") or 0),
        "comment_rows": rows("comment_list"),
        "like_rows": rows("like_list"),
        "synced_at": datetime.fromisoformat(stats["synced_at"]),
    }
