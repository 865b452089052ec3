"""Formatting for report pages: money as ¥1,234.50, percentages, integers with separators."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def money(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return f"¥{Decimal(value):,.2f}"


@register.filter
def cell(value: Any, kind: str) -> str:
    """Format a report cell by its column kind (text | int | money | pct | num)."""
    if value is None or value == "":
        return "—"
    if kind == "money":
        return money(value)
    if kind == "pct":
        return f"{float(value):.1f}%"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "num":
        return f"{float(value):,.1f}"
    return str(value)


@register.filter
def pp(value: Any) -> str:
    """A difference of two rates (0.012) in percentage points: "+1.2 个百分点"."""
    if value is None or value == "":
        return "—"
    return _("%(n)s 个百分点") % {"n": f"{Decimal(str(value)) * 100:+.1f}"}


@register.filter
def rate(value: Any) -> str:
    """A rate (0.123) as a percentage: "12.3%"."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) * 100:.1f}%"
