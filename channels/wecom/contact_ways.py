"""渠道活码 (联系我) and 群活码 (加入群聊): our rows first, then WeCom, never inside one transaction.

The row is saved (so ``state`` is reserved and the ``config_id`` can never be lost — WeCom does not
list API-created codes anywhere, docs/platforms.md#wecom-contact-ways), then WeCom is called, then the row records
``config_id``/``qr_code`` or the error to show the operator.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import requests
from django.db import transaction

from channels.errors import PlatformError, TransientError
from channels.models import ChannelAccount, ContactWay, ContactWayKind
from channels.wecom import add_caps, schedules
from channels.wecom.client import WeComClient
from contacts.models import SourceChannel, Staff, Store, Tag

STATE_MAX = 30
_STATE_RE = re.compile(r"^[A-Za-z0-9_\-:.]{1,30}$")


class ContactWayError(ValueError):
    """Refused input; the message (Chinese) says what to fix."""


def new_state(prefix: str = "cw") -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def check_state(state: str) -> str:
    """A valid ``state`` (活码) or ``customer_channel`` (获客链接), else :class:`ContactWayError`."""
    if not _STATE_RE.match(state):
        raise ContactWayError(f"渠道参数最多 {STATE_MAX} 个字符，只能用字母、数字和 _ - : .")
    return state


def staff_without_wecom(account: ChannelAccount, staff: list[Staff]) -> list[str]:
    """Names of the staff who cannot receive customers of this account (no WeCom userid, other org)."""
    return [s.name for s in staff if not s.wecom_userid or s.organization_id != account.organization_id]


def state_taken(account: ChannelAccount, state: str, exclude: list[int]) -> bool:
    """Another 活码 or 获客链接 channel of the account already uses ``state`` (contactway_state_unique)."""
    return ContactWay.objects.filter(account=account, state=state).exclude(pk__in=exclude).exists()


@transaction.atomic
def _save_row(
    *,
    account: ChannelAccount,
    way: ContactWay | None,
    kind: str,
    name: str,
    state: str,
    channel: str,
    store: Store | None,
    staff: list[Staff],
    tags: list[Tag],
    welcome_text: str,
    skip_verify: bool,
    chat_ids: list[str],
    auto_create_room: bool,
    room_base_name: str,
    room_base_id: int,
    by: Staff | None,
    remark_template: str | None = None,
    caps: tuple[int | None, dict[str, int], list[Staff]] | None = None,
    windows: tuple[list[schedules.WindowSpec], dict[str, Staff]] | None = None,
) -> ContactWay:
    if way is None:
        way = ContactWay(organization_id=account.organization_id, account=account, kind=kind, created_by=by)
    if state_taken(account, state, [way.pk] if way.pk else []):
        raise ContactWayError(f"渠道参数“{state}”已被其他活码使用，请换一个")
    way.name, way.state, way.channel, way.store = name, state, channel, store
    way.welcome_text, way.skip_verify = welcome_text, skip_verify
    way.chat_ids, way.auto_create_room = chat_ids, auto_create_room
    way.room_base_name, way.room_base_id = room_base_name, room_base_id
    if remark_template is not None:
        way.remark_template = remark_template.strip()
    if caps is not None:
        way.daily_cap, way.member_caps = caps[0], caps[1]
    way.save()
    way.staff.set(staff)
    way.tags.set(tags)
    if caps is not None:
        way.backup_staff.set(caps[2])
    if windows is not None:
        schedules.windows_replace(way=way, specs=windows[0], staff=windows[1])
    return way


def contact_way_save(
    *,
    account: ChannelAccount,
    name: str,
    state: str = "",
    kind: str = ContactWayKind.CONTACT,
    channel: str = SourceChannel.WECOM,
    store: Store | None = None,
    staff: list[Staff] | None = None,
    tags: list[Tag] | None = None,
    welcome_text: str = "",
    skip_verify: bool = True,
    chat_ids: list[str] | None = None,
    auto_create_room: bool = True,
    room_base_name: str = "",
    room_base_id: int = 1,
    remark_template: str | None = None,
    daily_cap: int | None = None,
    member_caps: dict[str, int] | None = None,
    backup_staff: list[Staff] | None = None,
    windows: str | None = None,
    by: Staff | None = None,
    way: ContactWay | None = None,
) -> ContactWay:
    """Create or edit a 渠道活码/群活码 and mirror it to WeCom (add_/update_contact_way, add_join_way).

    ``daily_cap``/``member_caps``/``backup_staff``: the daily add caps and who takes over
    (channels/wecom/add_caps.py); left as they are when all three are None (callers that do not edit them).
    ``windows``: the working-hours schedule as the operator's lines (channels/wecom/schedules.py); None
    leaves it as it is, "" removes it.
    Raises :class:`ContactWayError` for invalid input; platform errors are kept on ``sync_error``.
    """
    name = name.strip()
    if not name:
        raise ContactWayError("请填写活码名称")
    state = (state or (way.state if way else "") or new_state("jw" if kind == ContactWayKind.JOIN else "cw")).strip()
    check_state(state)
    staff = list(staff or [])
    tags = list(tags or [])
    chat_ids = [c.strip() for c in chat_ids or [] if c.strip()]
    if any(t.organization_id != account.organization_id for t in tags):
        raise ContactWayError("标签不属于该企业")
    if kind == ContactWayKind.CONTACT:
        if not staff:
            raise ContactWayError("请至少选择一位接待员工")
        missing = staff_without_wecom(account, staff)
        if missing:
            raise ContactWayError(f"这些员工没有企业微信账号，不能接待：{'、'.join(missing)}")
    else:
        if not 1 <= len(chat_ids) <= 5:
            raise ContactWayError("群活码需要 1 到 5 个客户群")
        if len(room_base_name) > 40:
            raise ContactWayError("新群名称前缀最多 40 个字符")
    windows_plan = None
    if windows is not None and kind == ContactWayKind.CONTACT:
        try:
            specs = schedules.parse_windows(windows)
            windows_plan = (specs, schedules.resolve_staff(account, specs))
        except schedules.ScheduleError as exc:
            raise ContactWayError(f"工作时段：{exc}") from exc
    caps = None
    if daily_cap is not None or member_caps is not None or backup_staff is not None:
        caps = _clean_caps(account, staff, daily_cap, dict(member_caps or {}), list(backup_staff or []))
    way = _save_row(
        account=account, way=way, kind=kind, name=name, state=state, channel=channel, store=store, staff=staff,
        tags=tags, welcome_text=welcome_text, skip_verify=skip_verify, chat_ids=chat_ids,
        auto_create_room=auto_create_room, room_base_name=room_base_name, room_base_id=room_base_id, by=by,
        remark_template=remark_template, caps=caps, windows=windows_plan,
    )  # fmt: skip
    contact_way_push(way=way)
    way.refresh_from_db()
    return way


def _clean_caps(
    account: ChannelAccount,
    staff: list[Staff],
    daily_cap: int | None,
    member_caps: dict[str, int],
    backups: list[Staff],
) -> tuple[int | None, dict[str, int], list[Staff]]:
    """Validate the daily caps and backups of a 渠道活码 (the messages say what to fix)."""
    if daily_cap is not None and daily_cap < 1:
        raise ContactWayError("每人每日添加上限至少为 1；不限制请留空")
    members = {s.wecom_userid: s for s in staff}
    unknown = [u for u in member_caps if u not in members]
    if unknown:
        raise ContactWayError(f"这些账号不是该活码的接待员工，不能单独设置上限：{'、'.join(unknown)}")
    bad = [members[u].name for u, n in member_caps.items() if not isinstance(n, int) or n < 1]
    if bad:
        raise ContactWayError(f"单独设置的上限至少为 1：{'、'.join(bad)}")
    missing = staff_without_wecom(account, backups)
    if missing:
        raise ContactWayError(f"这些备用员工没有企业微信账号，不能接待：{'、'.join(missing)}")
    if (daily_cap is not None or member_caps) and not backups:
        raise ContactWayError("设置了每日添加上限时，请至少选择一位备用员工（员工都满额后由备用员工接待）")
    return daily_cap, member_caps, backups


def contact_way_push(*, way: ContactWay) -> None:
    """Create or update the code on WeCom; record config_id/qr_code, or the error for the operator."""
    client = WeComClient.for_account(way.account, max_wait=10.0)
    updates: dict[str, Any] = {"sync_error": ""}
    try:
        if way.kind == ContactWayKind.CONTACT:
            # The members themselves; a cap fallback is re-applied after (add_caps.caps_check).
            users = [s.wecom_userid for s in way.staff.all().order_by("id")]
            body: dict[str, Any] = {
                "style": 1,
                "remark": way.name[:30],
                "skip_verify": way.skip_verify,
                "state": way.state,
                "user": users,
            }
            if way.config_id:
                client.post("externalcontact/update_contact_way", {"config_id": way.config_id, **body})
            else:
                data = client.post(
                    "externalcontact/add_contact_way", {"type": _way_type(way, users), "scene": 2, **body}
                )
                updates.update(config_id=data["config_id"], qr_code=data.get("qr_code", ""))
            updates.update(serving_userids=[], serving_day=None)
        else:
            body = {
                "scene": 2,
                "remark": way.name[:30],
                "auto_create_room": 1 if way.auto_create_room else 0,
                "room_base_name": way.room_base_name,
                "room_base_id": way.room_base_id,
                "chat_id_list": way.chat_ids,
                "state": way.state,
            }
            if way.config_id:
                client.post("externalcontact/groupchat/update_join_way", {"config_id": way.config_id, **body})
            else:
                config_id = client.post("externalcontact/groupchat/add_join_way", body)["config_id"]
                joined = client.post("externalcontact/groupchat/get_join_way", {"config_id": config_id})
                updates.update(config_id=config_id, qr_code=joined["join_way"].get("qr_code", ""))
    except PlatformError as exc:
        updates["sync_error"] = f"企业微信返回错误 {exc.code}：{exc.message}"[:300]
    except TransientError as exc:
        updates["sync_error"] = f"暂时无法连接企业微信（{exc}），请稍后点“重新同步”"[:300]
    ContactWay.objects.filter(pk=way.pk).update(**updates)
    if not updates["sync_error"] and (add_caps.has_caps(way) or add_caps.has_schedule(way)):
        # Pushing sent the members themselves: re-apply the open window and anyone capped today.
        way.refresh_from_db()
        add_caps.caps_check(way=way)


def _way_type(way: ContactWay, users: list[str]) -> int:
    """单人 (1) only for one member, no backups and no schedule: a 单人 code cannot later hold another list."""
    return 1 if len(users) == 1 and not way.backup_staff.exists() and not way.windows.exists() else 2


def contact_way_disable(*, way: ContactWay) -> None:
    """Stop a code: delete it on WeCom (adds through it stop) and keep our row for attribution."""
    if way.config_id:
        client = WeComClient.for_account(way.account, max_wait=10.0)
        path = (
            "externalcontact/del_contact_way"
            if way.kind == ContactWayKind.CONTACT
            else "externalcontact/groupchat/del_join_way"
        )
        try:
            client.post(path, {"config_id": way.config_id})
        except PlatformError as exc:
            if exc.code not in (41044,):  # already gone on WeCom
                raise
    ContactWay.objects.filter(pk=way.pk).update(is_active=False, config_id="", qr_code="")


def contact_way_qr_image(*, way: ContactWay) -> bytes:
    """The QR image WeCom generated (``qr_code`` is an image URL), for download and printing."""
    if not way.qr_code:
        raise ContactWayError("该活码还没有二维码：请先在企业微信同步成功（查看同步错误后点“重新同步”）")
    try:
        response = requests.get(way.qr_code, timeout=(3.05, 10))
    except requests.RequestException as exc:
        raise ContactWayError("下载二维码失败，请稍后重试") from exc
    if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("image/"):
        raise ContactWayError("下载二维码失败：企业微信没有返回图片，请点“重新同步”后再试")
    return response.content
