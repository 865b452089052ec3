"""Template filters that show stored codes through their labels (``{% load contacts_tags %}``)."""

from __future__ import annotations

from typing import Any

from django import template

from contacts import labels

register = template.Library()


@register.filter
def source_label(code: str | None) -> str:
    return labels.source_label(code)


@register.filter
def rfm_label(code: str | None) -> str:
    return labels.rfm_label(code)


@register.filter
def timeline_text(event: Any) -> str:
    return labels.timeline_text(event.kind, event.summary, event.data)


@register.filter
def custom_value(value: Any) -> str:
    """A stored custom-field value for display (lists joined, nothing → —)."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)
