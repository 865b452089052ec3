"""Formatting for report pages: money as ¥1,234.50, percentages, integers with separators."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

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
