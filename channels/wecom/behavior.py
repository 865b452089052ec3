"""WeCom staff behaviour data (联系客户统计, ``externalcontact/get_user_behavior_data``) → analytics.

One call per batch of staff per day; each (staff, day) row is upserted by
``analytics.services.staff_behavior_record``, so re-pulling a day (WeCom revises the last days'
figures) overwrites instead of duplicating. The beat job pulls yesterday and the day before.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from analytics.services import staff_behavior_record
from channels.models import ChannelAccount, ChannelPlatform, LeadSyncCursor
from channels.wecom.client import WeComClient
from contacts.models import Staff

logger = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
BATCH = 100  # userids per call
DAYS_BACK = 2


def wecom_accounts() -> list[int]:
    active = ChannelAccount.objects.filter(platform=ChannelPlatform.WECOM, is_active=True)
    return list(active.values_list("pk", flat=True))


def _day_start(day: date) -> int:
    return int(datetime.combine(day, time.min, tzinfo=SHANGHAI).timestamp())


def wecom_behavior_sync(*, account_id: int, day: date | None = None) -> int:
    """Pull one day (default: yesterday and the day before) for every active staff member with a WeCom id."""

    account = ChannelAccount.objects.select_related("organization").get(pk=account_id)
    staff_by_userid = {
        s.wecom_userid: s
        for s in Staff.objects.filter(organization=account.organization, is_active=True).exclude(wecom_userid="")
    }
    if not staff_by_userid:
        return 0
    today = timezone.localdate()
    days = [day] if day else [today - timedelta(days=n) for n in range(1, DAYS_BACK + 1)]
    client = WeComClient.for_account(account)
    userids = sorted(staff_by_userid)
    written = 0
    for one_day in days:
        # The whole local day; rows are kept only when their stat_time falls on that Shanghai date
        # (WeCom stamps a day at 00:00 Beijing time; a fake aligned to UTC midnight also matches).
        start = _day_start(one_day)
        for i in range(0, len(userids), BATCH):
            data = client.post(
                "externalcontact/get_user_behavior_data",
                {"userid": userids[i : i + BATCH], "start_time": start, "end_time": start + 86399},
            )
            for row in data.get("behavior_data") or []:
                staff = staff_by_userid.get(str(row.get("userid") or ""))
                stat_day = datetime.fromtimestamp(int(row.get("stat_time") or start), tz=SHANGHAI).date()
                if staff is None or stat_day != one_day:
                    continue
                staff_behavior_record(
                    organization=account.organization,
                    staff=staff,
                    day=stat_day,
                    chat_cnt=int(row.get("chat_cnt") or 0),
                    message_cnt=int(row.get("message_cnt") or 0),
                    reply_percentage=_float(row.get("reply_percentage")),
                    avg_reply_time=_float(row.get("avg_reply_time")),
                    new_contact_cnt=int(row.get("new_contact_cnt") or 0),
                    negative_feedback_cnt=int(row.get("negative_feedback_cnt") or 0),
                )
                written += 1
    LeadSyncCursor.objects.update_or_create(
        account=account,
        kind="wecom_behavior",
        defaults={"organization": account.organization, "position": timezone.now(), "state": {"rows": written}},
    )
    return written


def _float(value: object) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
