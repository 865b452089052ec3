"""Churn alerts (流失提醒) and the bulk-deletion alarm (风控), from WeCom's delete callbacks.

When a customer deletes a member (``del_follow_user``), the member — and, by the brand's setting, the
store's managers — get an app message naming the customer, with a link to the profile. When a member
deletes customers (``del_external_contact``) and their count for the Beijing day passes the brand's
threshold, the store's managers and the operators get one alarm for that member and day. Each message
is recorded in the callback's own transaction under a key of its follow or (member, day), so a
replayed callback alerts nobody twice. Settings: 设置 › 品牌 (``Organization.churn_alert_*``).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from analytics.rollups import SHANGHAI
from channels.app_messages import app_message_send
from channels.models import AppMessage
from contacts.models import ChurnedBy, Customer, Follow, Organization, Role, Staff

log = logging.getLogger(__name__)


def _url(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def store_managers(*, organization_id: int, store_id: int | None) -> set[int]:
    """Active managers of a store (their own store or one they manage)."""
    if store_id is None:
        return set()
    return set(
        Staff.objects.filter(organization_id=organization_id, is_active=True, user__groups__name=Role.MANAGER)
        .filter(Q(store_id=store_id) | Q(managed_stores=store_id))
        .values_list("pk", flat=True)
    )


def operators(*, organization_id: int) -> set[int]:
    return set(
        Staff.objects.filter(organization_id=organization_id, is_active=True)
        .filter(Q(user__groups__name=Role.OPERATOR) | Q(user__is_superuser=True))
        .values_list("pk", flat=True)
    )


def churn_alert(*, customer: Customer, staff: Staff, by: str, at: dt.datetime) -> AppMessage | None:
    """After a follow ended: the alert or alarm it calls for, if any (inside the caller's transaction)."""
    org = Organization.objects.get(pk=customer.organization_id)
    if by == ChurnedBy.CUSTOMER:
        recipients = {staff.pk} if org.churn_alert_staff else set()
        if org.churn_alert_manager:
            recipients |= store_managers(organization_id=org.pk, store_id=staff.store_id)
        if not recipients:
            return None
        local = at.astimezone(SHANGHAI)
        return app_message_send(
            organization_id=org.pk,
            staff_ids=recipients,
            title=_("流失提醒"),
            text=_(
                "客户「%(customer)s」于 %(time)s 在企业微信删除了%(staff)s。打开客户资料查看订单与跟进记录，安排回访。"
            )
            % {
                "customer": customer.name or _("未命名客户"),
                "time": local.strftime("%m-%d %H:%M"),
                "staff": staff.name,
            },
            url=_url(reverse("contacts:customer_detail", args=[customer.pk])),
            source_key=f"churn:{customer.pk}:{staff.pk}:{int(at.timestamp())}",
            customer_id=customer.pk,
        )
    if by == ChurnedBy.STAFF and org.churn_alarm_daily_deletes:
        day = at.astimezone(SHANGHAI).date()
        start = dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)
        deleted = Follow.objects.filter(
            staff=staff,
            deleted_by=ChurnedBy.STAFF,
            deleted_at__gte=start,
            deleted_at__lt=start + dt.timedelta(days=1),
        ).count()
        if deleted <= org.churn_alarm_daily_deletes:
            return None
        recipients = store_managers(organization_id=org.pk, store_id=staff.store_id) | operators(organization_id=org.pk)
        recipients.discard(staff.pk)
        if not recipients:
            log.warning("churn alarm for staff %s: nobody to tell (no manager or operator)", staff.pk)
            return None
        query = f"?staff={staff.pk}&start={day.isoformat()}&end={day.isoformat()}"
        return app_message_send(
            organization_id=org.pk,
            staff_ids=recipients,
            title=_("风控提醒：员工批量删除客户"),
            text=_(
                "%(staff)s 在 %(day)s（北京时间）已主动删除 %(n)s 位客户，超过品牌设置的 %(limit)s 位。请尽快核实原因。"
            )
            % {"staff": staff.name, "day": day.isoformat(), "n": deleted, "limit": org.churn_alarm_daily_deletes},
            url=_url(reverse("analytics:report", args=["churn"]) + query),
            source_key=f"churn-alarm:{staff.pk}:{day.isoformat()}",
        )
    return None
