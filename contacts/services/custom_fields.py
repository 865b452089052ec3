"""Custom customer fields (definitions per organization) and editing a customer's profile.

Values live in ``Customer.attributes[<key>]``: text → str, number → int/float, date → "YYYY-MM-DD",
choice → one of the options, multi-choice → a sorted list of options. Every write goes through
:func:`custom_value_clean`, so segments can compare stored values without casting errors.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from contacts import crypto
from contacts.models import Customer, CustomField, CustomFieldKind, Gender, Organization, Staff, TimelineKind
from contacts.services.customers import timeline_add
from contacts.services.registry import ContactsError

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
KEY_MESSAGE = _l("字段标识只能用小写字母、数字和下划线，以字母开头，最多 40 个字符，例如 member_level")
MAX_OPTIONS = 50
MAX_TEXT = 200
NUMBER_LIMIT = Decimal(10) ** 12
FIELDS_PER_ORG = 50
OPTION_KINDS = (CustomFieldKind.CHOICE, CustomFieldKind.MULTI_CHOICE)


def _options(kind: str, options: list[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in options:
        text = str(raw).strip()
        if text and text not in cleaned:
            cleaned.append(text)
    if kind not in OPTION_KINDS:
        return []
    if not cleaned:
        raise ContactsError(_("单选、多选字段至少要有一个选项，每行填写一个"))
    if len(cleaned) > MAX_OPTIONS or any(len(o) > 50 for o in cleaned):
        raise ContactsError(_("选项最多 %(n)s 个，每个不超过 50 字") % {"n": MAX_OPTIONS})
    return cleaned


@transaction.atomic
def custom_field_create(
    *,
    organization: Organization,
    key: str,
    label: str,
    kind: str,
    options: list[str] | None = None,
    required: bool = False,
    show_on_profile: bool = True,
    show_in_sidebar: bool = False,
    order: int = 0,
) -> CustomField:
    key, label = key.strip(), label.strip()
    if not KEY_PATTERN.match(key):
        raise ContactsError(KEY_MESSAGE)
    if not label or len(label) > 50:
        raise ContactsError(_("请填写字段名称（最多 50 字）"))
    if kind not in CustomFieldKind.values:
        raise ContactsError(_("字段类型不正确，请从列表中选择"))
    if CustomField.objects.filter(organization=organization).count() >= FIELDS_PER_ORG:
        raise ContactsError(_("每个品牌最多 %(n)s 个自定义字段，请先删除不用的字段") % {"n": FIELDS_PER_ORG})
    try:
        with transaction.atomic():
            return CustomField.objects.create(
                organization=organization,
                key=key,
                label=label,
                kind=kind,
                options=_options(kind, options or []),
                required=required,
                show_on_profile=show_on_profile,
                show_in_sidebar=show_in_sidebar,
                order=order,
            )
    except IntegrityError as exc:
        raise ContactsError(_("已有同名或同标识的字段，请换一个名称或标识")) from exc


@transaction.atomic
def custom_field_update(
    *,
    field: CustomField,
    label: str,
    options: list[str] | None = None,
    required: bool,
    show_on_profile: bool,
    show_in_sidebar: bool,
    order: int,
) -> CustomField:
    """Change a definition; its key and type stay (stored values and saved segments depend on them)."""
    label = label.strip()
    if not label or len(label) > 50:
        raise ContactsError(_("请填写字段名称（最多 50 字）"))
    field.label = label
    field.options = _options(field.kind, options if options is not None else field.options)
    field.required, field.show_on_profile, field.show_in_sidebar, field.order = (
        required,
        show_on_profile,
        show_in_sidebar,
        order,
    )
    try:
        with transaction.atomic():
            field.save()
    except IntegrityError as exc:
        raise ContactsError(_("已有同名的字段，请换一个名称")) from exc
    return field


@transaction.atomic
def custom_field_delete(*, field: CustomField) -> int:
    """Delete a definition and its values on every customer (one UPDATE); returns how many lost one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_customer SET attributes = attributes - %s, updated_at = now()"
            " WHERE organization_id = %s AND attributes ? %s",
            [field.key, field.organization_id, field.key],
        )
        touched = cursor.rowcount
    field.delete()
    return int(touched)


def custom_value_clean(field: CustomField, raw: Any) -> Any:
    """The value to store for ``raw`` (``None`` = no value), or ContactsError naming the field."""

    def bad(message: str) -> ContactsError:
        return ContactsError(_("“%(field)s”：%(message)s") % {"field": field.label, "message": message})

    if raw is None or raw == "" or raw == []:
        if field.required:
            raise bad(_("必填，请填写"))
        return None
    if field.kind == CustomFieldKind.TEXT:
        text = str(raw).strip()
        if len(text) > MAX_TEXT:
            raise bad(_("最多 %(n)s 字") % {"n": MAX_TEXT})
        return text or custom_value_clean(field, None)
    if field.kind == CustomFieldKind.NUMBER:
        if isinstance(raw, bool):
            raise bad(_("请填写数字"))
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation as exc:
            raise bad(_("请填写数字，例如 12 或 3.5")) from exc
        if not number.is_finite() or number.adjusted() >= 12 or abs(number) >= NUMBER_LIMIT:
            raise bad(_("数字超出范围"))
        return int(number) if number == number.to_integral_value() else float(number)
    if field.kind == CustomFieldKind.DATE:
        try:
            return dt.date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError as exc:
            raise bad(_("日期格式不正确，请用 YYYY-MM-DD")) from exc
    if field.kind == CustomFieldKind.CHOICE:
        if str(raw) not in field.options:
            raise bad(_("请从选项中选择：%(options)s") % {"options": "、".join(field.options)})
        return str(raw)
    values = raw if isinstance(raw, list) else [raw]
    chosen = sorted({str(v) for v in values if str(v)})
    unknown = [v for v in chosen if v not in field.options]
    if unknown:
        raise bad(
            _("不认识的选项 %(bad)s；可选：%(options)s")
            % {"bad": "、".join(unknown), "options": "、".join(field.options)}
        )
    return chosen or custom_value_clean(field, None)


def _clean_birthday(raw: Any) -> dt.date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, dt.date):
        day = raw
    else:
        try:
            day = dt.date.fromisoformat(str(raw))
        except ValueError as exc:
            raise ContactsError(_("生日格式不正确，请用 YYYY-MM-DD")) from exc
    if not dt.date(1900, 1, 1) <= day <= timezone.localdate():
        raise ContactsError(_("生日应在 1900-01-01 到今天之间"))
    return day


UNSET: Any = object()


@transaction.atomic
def customer_update(
    *,
    customer: Customer,
    by: Staff | None,
    name: Any = UNSET,
    phone: Any = UNSET,
    gender: Any = UNSET,
    birthday: Any = UNSET,
    values: dict[str, Any] | None = None,
) -> list[str]:
    """Edit a customer's profile (the caller has scoped the customer to the actor). Only the given
    parts change; ``values`` maps custom-field keys to raw values. Everything is checked before
    anything is written. Returns the labels of what changed (also written on the timeline, without
    the values: a phone number never goes into the timeline)."""
    if customer.erased_at is not None:
        raise ContactsError(_("这位客户的个人信息已应本人要求删除，不能再修改资料"))
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    updates: dict[str, Any] = {}
    changed: list[str] = []
    if name is not UNSET:
        text = str(name or "").strip()
        if len(text) > 100:
            raise ContactsError(_("姓名最多 100 字"))
        if text != locked.name:
            updates["name"] = text
            changed.append(str(_("姓名")))
    if phone is not UNSET:
        try:
            columns = crypto.phone_columns(str(phone or "").strip())
        except crypto.InvalidPhone as exc:
            raise ContactsError(_("手机号格式不正确：应为 11 位中国大陆手机号")) from exc
        if columns["phone_hash"] != locked.phone_hash:
            if (
                columns["phone_hash"]
                and Customer.objects.filter(organization_id=locked.organization_id, phone_hash=columns["phone_hash"])
                .exclude(pk=locked.pk)
                .exists()
            ):
                raise ContactsError(_("这个手机号已属于另一位客户；如是同一人，请联系运营合并客户"))
            updates.update(columns)
            changed.append(str(_("手机号")))
    if gender is not UNSET:
        try:
            value = int(gender)
        except (TypeError, ValueError) as exc:
            raise ContactsError(_("性别不正确，请从列表中选择")) from exc
        if value not in Gender.values:
            raise ContactsError(_("性别不正确，请从列表中选择"))
        if value != locked.gender:
            updates["gender"] = value
            changed.append(str(_("性别")))
    if birthday is not UNSET:
        day = _clean_birthday(birthday)
        if day != locked.birthday:
            updates["birthday"] = day
            changed.append(str(_("生日")))
    if values is not None:
        fields = {f.key: f for f in CustomField.objects.filter(organization_id=locked.organization_id)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ContactsError(_("不认识的字段：%(keys)s，请刷新页面后重试") % {"keys": ", ".join(unknown)})
        attributes = dict(locked.attributes or {})
        for key, raw in values.items():
            cleaned = custom_value_clean(fields[key], raw)
            if cleaned == attributes.get(key):
                continue
            if cleaned is None:
                attributes.pop(key, None)
            else:
                attributes[key] = cleaned
            changed.append(fields[key].label)
        if attributes != (locked.attributes or {}):
            updates["attributes"] = attributes
    if updates:
        for attr, value in updates.items():
            setattr(locked, attr, value)
        locked.save(update_fields=[*updates, "updated_at"])
        for attr, value in updates.items():
            setattr(customer, attr, value)
        timeline_add(
            customer=locked,
            kind=TimelineKind.EDITED,
            summary=_("修改资料：%(what)s") % {"what": "、".join(changed)},
            data={"fields": changed},
            actor=by,
        )
    return changed
