"""Bounded date and time fields for every API input and output.

Dates are accepted from 1970-01-01 to 2100-12-31 (the date as written; a datetime without an offset is
Beijing time), time-zone offsets within ±14:00 (the
widest in use; PostgreSQL refuses wider ones), and datetimes are rendered in Beijing time with a fixed
+08:00 offset — never the tz database's local mean time (+08:05:43) for old instants — so every output
is valid RFC 3339. ``ScrmConfig.ready()`` maps model date fields to these, so model serializers use them too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django_filters import fields as filter_fields
from django_filters import filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MIN_DATE = dt.date(1970, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
MAX_OFFSET = dt.timedelta(hours=14)
ID_MAX = 2**31 - 1  # ids are int4 columns
ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

RANGE_MESSAGE = _("日期须在 1970-01-01 至 2100-12-31 之间，请修改后重试")
OFFSET_MESSAGE = _("时区偏移须在 -14:00 至 +14:00 之间（北京时间为 +08:00），请修改后重试")


def _as_written(value: Any) -> dt.datetime | None:
    parsed = value if isinstance(value, dt.datetime) else None
    if parsed is None and isinstance(value, str):
        with contextlib.suppress(ValueError, TypeError):
            parsed = parse_datetime(value)
    return parsed


def _offset_too_wide(value: Any) -> bool:
    parsed = _as_written(value)
    offset = parsed.utcoffset() if parsed is not None else None
    return offset is not None and abs(offset) > MAX_OFFSET


def _out_of_range(value: Any, result: dt.datetime) -> bool:
    """The date as the client wrote it (the OpenAPI pattern checks the same), else the Beijing date."""
    written = _as_written(value)
    day = written.date() if written is not None else result.astimezone(BEIJING).date()
    return not MIN_DATE <= day <= MAX_DATE


class BoundedDateTimeField(serializers.DateTimeField):
    default_error_messages = {"out_of_range": RANGE_MESSAGE, "offset": OFFSET_MESSAGE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default_timezone", BEIJING)
        super().__init__(*args, **kwargs)

    def to_internal_value(self, value: Any) -> dt.datetime:
        if _offset_too_wide(value):
            self.fail("offset")
        result: dt.datetime = super().to_internal_value(value)
        if _out_of_range(value, result):
            self.fail("out_of_range")
        return result


class BoundedDateField(serializers.DateField):
    default_error_messages = {"out_of_range": RANGE_MESSAGE}

    def to_internal_value(self, value: Any) -> dt.date:
        result: dt.date = super().to_internal_value(value)
        if not MIN_DATE <= result <= MAX_DATE:
            self.fail("out_of_range")
        return result


class _BoundedIsoDateTimeFormField(filter_fields.IsoDateTimeField):  # type: ignore[misc]  # no stubs
    def to_python(self, value: Any) -> dt.datetime | None:
        if value not in (None, "") and _offset_too_wide(value):
            raise ValidationError(OFFSET_MESSAGE, code="offset")
        result: dt.datetime | None = super().to_python(value)
        if result is not None and _out_of_range(value, result):
            raise ValidationError(RANGE_MESSAGE, code="out_of_range")
        return result


class BoundedIsoDateTimeFilter(filters.IsoDateTimeFilter):  # type: ignore[misc]  # django-filter ships no stubs
    field_class = _BoundedIsoDateTimeFormField


@extend_schema_field(ID_SCHEMA)
class IdFilter(filters.NumberFilter):  # type: ignore[misc]  # django-filter ships no stubs
    """A positive int4 id in a query string. "1.5" or "1e3" is a 400 (NumberFilter alone takes decimals),
    and an id that matches nothing in the caller's scope is simply an empty list: the filter never looks
    the object up, so it cannot tell whether another organization's id exists."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.STR)
class TextFilter(filters.CharFilter):  # type: ignore[misc]  # a filter with a method: the schema cannot guess its type
    pass


def _text_only(self: serializers.CharField, data: Any) -> str:
    """DRF's CharField turns a JSON number into text ("name": 12 becomes "12"); the schema says string,
    so a number, list or object is refused with the field's "invalid" message (forms send text anyway)."""
    if not isinstance(data, str):
        self.fail("invalid")
    return _char_to_internal_value(self, data)


_char_to_internal_value = serializers.CharField.to_internal_value


def strict_text_fields() -> None:
    """Called once from ``ScrmConfig.ready()``: every API text field takes text only."""
    serializers.CharField.to_internal_value = _text_only  # type: ignore[method-assign,assignment]
