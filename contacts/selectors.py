"""Reads of the customer base, always through the actor's scope (organization and stores)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from contacts import crypto
from contacts.access import Actor
from contacts.lookups import SHORT_GRAM_MAX, PkInArray, ShortGrams
from contacts.models import (
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    Follow,
    Identity,
    ImportJob,
    Role,
    Staff,
    Store,
    Tag,
    TagGroup,
)
from contacts.periods import BEIJING, day_bounds
from contacts.rfm import RFM_BY_CODE, RfmSegment
from contacts.rfm import RFM_SEGMENTS as RFM_SEGMENTS  # the reports list them
from contacts.rfm import rfm_segment_expression as rfm_segment_expression  # one click to a saved segment


def customer_search_q(q: str) -> Q:
    """Name and any follower's remark (trigram-indexed ``ilike``, contacts/lookups.py), the whole phone
    number (keyed hash: numbers are stored encrypted), its last four digits, or the masked number staff
    see (138****1234)."""
    q = q.strip()
    # One id set from index look-ups (trigram ILIKE on the name and the remarks, keyed hashes), so
    # the search never scans every customer of the brand nor probes the follows once per customer.
    if 0 < len(q) <= SHORT_GRAM_MAX:
        # Too short for a trigram (王芳, 王): the gram index of one- and two-character pieces finds
        # the rows, and holding the piece is the same as containing it. No ILIKE here: the planner
        # would take the trigram index for it, which for such a query reads every row.
        piece = [q.lower()]
        customers: QuerySet[Any] = Customer.objects.alias(grams=ShortGrams("name")).filter(grams__contains=piece)  # type: ignore[misc]
        follows: QuerySet[Any] = Follow.objects.alias(grams=ShortGrams("remark")).filter(grams__contains=piece)  # type: ignore[misc]
    else:
        customers, follows = Customer.objects.filter(name__ilike=q), Follow.objects.filter(remark__ilike=q)
    matches = customers.values("pk").union(follows.values("customer_id"))
    by_phone = Q()
    with contextlib.suppress(crypto.InvalidPhone):
        by_phone |= Q(phone_hash=crypto.phone_hash(q))
    if len(q) == 4 and q.isdigit():
        by_phone |= Q(phone_last4=q)
    masked = crypto.masked_phone_key(q)
    if masked:
        by_phone |= Q(phone_mask=masked)
    if by_phone:
        matches = matches.union(Customer.objects.filter(by_phone).values("pk"))
    return Q(PkInArray(matches))


def customer_filter(
    qs: QuerySet[Customer],
    *,
    store: int | None = None,
    tag: int | None = None,
    source_channel: str = "",
    lifecycle: str = "",
    consent: str = "",
    q: str = "",
) -> QuerySet[Customer]:
    """The list filters shared by the API, the export and the console list."""
    if store:
        qs = qs.filter(home_store_id=store)
    if tag:
        qs = qs.filter(tag_ids__contains=[int(tag)])
    if source_channel:
        qs = qs.filter(source_channel=source_channel)
    if lifecycle:
        qs = qs.filter(lifecycle=lifecycle)
    if consent == "granted":
        qs = qs.filter(marketing_consent=True, opted_out_at__isnull=True)
    elif consent == "not_granted":
        qs = qs.filter(marketing_consent=False, opted_out_at__isnull=True)
    elif consent == "opted_out":
        qs = qs.filter(opted_out_at__isnull=False)
    if q:
        qs = qs.filter(customer_search_q(q))
    return qs


def customer_list(*, actor: Actor, **filters: Any) -> QuerySet[Customer]:
    qs = actor.scope(Customer.objects.select_related("home_store"))
    return customer_filter(qs, **filters).order_by("-created_at", "-id")


def customer_get(*, actor: Actor, pk: int) -> Customer | None:
    """The customer if the actor may see it, else ``None`` (callers answer 404, never 403: a store's
    customers are not even confirmed to exist for another store)."""
    return actor.scope(Customer.objects.select_related("home_store")).filter(pk=pk).first()


def customer_detail(*, actor: Actor, pk: int) -> Customer | None:
    return (
        actor.scope(Customer.objects.select_related("home_store"))
        .prefetch_related(
            Prefetch("identities", Identity.objects.order_by("platform", "id")),
            Prefetch("follows", Follow.objects.select_related("staff").order_by("deleted_at", "-added_at")),
        )
        .filter(pk=pk)
        .first()
    )


def customer_by_identity(
    *, actor: Actor, platform: str, external_id: str, account: str | None = None
) -> Customer | None:
    """Open a customer by a platform id (the sidebar gets WeCom's external_userid from the JS-SDK)."""
    identities = Identity.objects.filter(platform=platform, external_id=external_id)
    if account is not None:
        identities = identities.filter(account=account)
    return (
        actor.scope(Customer.objects.select_related("home_store"))
        .filter(pk__in=identities.values("customer_id"))
        .first()
    )


def tag_map(*, organization_id: int) -> dict[int, Tag]:
    return {t.pk: t for t in Tag.objects.filter(organization_id=organization_id).select_related("group")}


def tag_groups_with_tags(*, actor: Actor) -> QuerySet[TagGroup]:
    return actor.scope(TagGroup.objects.all()).prefetch_related(Prefetch("tags", Tag.objects.order_by("order", "id")))


def customer_group_list(*, actor: Actor) -> QuerySet[CustomerGroup]:
    return actor.scope(CustomerGroup.objects.select_related("owner", "store")).order_by("-created_at", "-id")


def customer_group_members(*, actor: Actor, group: CustomerGroup) -> QuerySet[CustomerGroupMember]:
    return actor.scope(CustomerGroupMember.objects.filter(group=group)).order_by("left_at", "-joined_at", "id")


def rfm_segment_get(code: str) -> RfmSegment | None:
    """The RFM segment with this code, or None."""
    return RFM_BY_CODE.get(code)


# --- imports -------------------------------------------------------------------------------------


def import_job_list(*, actor: Actor) -> QuerySet[ImportJob]:
    """The actor's import jobs, newest first, without the uploaded file."""
    return actor.scope(ImportJob.objects.defer("content").select_related("created_by"))


def import_job_get(*, actor: Actor, pk: int) -> ImportJob | None:
    return import_job_list(actor=actor).filter(pk=pk).first()


# --- home page -----------------------------------------------------------------------------------


def follow_daily_counts(
    *, actor: Actor, first: dt.date, last: dt.date
) -> tuple[dict[dt.date, int], dict[dt.date, int]]:
    """New follows (adds) and ended follows (losses, transfers included) per Beijing day in
    ``[first, last]``, within the actor's scope; store staff count only the follows they hold. One query.
    """
    lo, hi = day_bounds(first, last)
    scoped = actor.scope(
        Follow.objects.filter(Q(added_at__gte=lo, added_at__lt=hi) | Q(deleted_at__gte=lo, deleted_at__lt=hi))
    )
    if actor.is_store_staff:
        scoped = scoped.filter(staff_id=actor.staff.pk)
    sub_sql, sub_params = scoped.values("added_at", "deleted_at").query.sql_with_params()
    sql = f"""
        WITH f AS ({sub_sql})
        SELECT day, SUM(adds)::int, SUM(losses)::int FROM (
            SELECT (f.added_at AT TIME ZONE %s)::date AS day, 1 AS adds, 0 AS losses
              FROM f WHERE f.added_at >= %s AND f.added_at < %s
            UNION ALL
            SELECT (f.deleted_at AT TIME ZONE %s)::date, 0, 1
              FROM f WHERE f.deleted_at >= %s AND f.deleted_at < %s
        ) d GROUP BY day
    """
    tz = str(BEIJING)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*sub_params, tz, lo, hi, tz, lo, hi])
        rows = cursor.fetchall()
    adds = {day: n for day, n, _losses in rows if n}
    losses = {day: n for day, _adds, n in rows if n}
    return adds, losses


def home_totals(*, actor: Actor) -> dict[str, int]:
    """Customers in the actor's scope and, for store staff, the customers they follow now (2 queries)."""
    totals = {"customers": actor.scope(Customer.objects.filter(erased_at__isnull=True)).count()}
    if actor.is_store_staff:
        mine = actor.scope(Follow.objects.filter(staff_id=actor.staff.pk, deleted_at__isnull=True))
        totals["following"] = mine.count()
    return totals


# --- the brand's stores and staff (settings pages and API) ------------------------------------------


def store_filter(qs: QuerySet[Store], *, q: str = "", status: str = "") -> QuerySet[Store]:
    """The settings list's filters: ``q`` in name, code or city; ``status`` ``open`` or ``closed``."""
    q = q.strip()[:100]
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q) | Q(city__icontains=q))
    if status in ("open", "closed"):
        qs = qs.filter(is_active=status == "open")
    return qs


def staff_filter(
    qs: QuerySet[Staff], *, q: str = "", store: int | None = None, login: str = "", role: str = ""
) -> QuerySet[Staff]:
    """The settings list's filters: ``q`` in name, WeCom account or login; the own store; whether the
    member has a working console login (``yes``/``no``); the role."""
    q = q.strip()[:100]
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(wecom_userid__icontains=q) | Q(user__username__icontains=q))
    if store:
        qs = qs.filter(store_id=store)
    if login == "yes":
        qs = qs.filter(user__isnull=False, user__is_active=True)
    elif login == "no":
        qs = qs.filter(Q(user__isnull=True) | Q(user__is_active=False))
    if role in Role.values:
        qs = qs.filter(user__groups__name=role)
    return qs
