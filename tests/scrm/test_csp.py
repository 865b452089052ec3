"""Content-Security-Policy (issue 14): scripts only from our own files; no inline script or handler."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import World
from tests.factories import CustomerFactory

BASE_DIR = Path(__file__).resolve().parents[2]
# A <script> element that runs code: no src, and not a JSON data block.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


def _inline_code(html: str) -> list[str]:
    return INLINE_SCRIPT.findall(html) + INLINE_HANDLER.findall(html) + re.findall(r"javascript:", html)


def test_no_template_has_inline_script_or_event_handlers() -> None:
    offenders = {
        str(path.relative_to(BASE_DIR)): found
        for path in (BASE_DIR / "templates").rglob("*.html")
        if (found := _inline_code(path.read_text()))
    }
    assert offenders == {}


@pytest.mark.django_db
def test_pages_carry_a_policy_that_allows_no_inline_script(world: World) -> None:
    customer = CustomerFactory(organization=world.org)
    operator = world.client_for(world.operator)
    pages = [
        "/",
        "/customers/",
        f"/customers/{customer.pk}/",
        "/customers/import/",
        "/segments/new/",
        "/channels/inbox/",
        "/api/v1/docs/",
        "/api/v1/redoc/",
    ]
    for path in pages:
        response = operator.get(path)
        assert response.status_code == 200, path
        policy = _directives(response["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], path
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"], path
        assert _inline_code(response.content.decode()) == [], path
    sidebar = world.client_for(world.store_staff).get("/sidebar/")
    assert _inline_code(sidebar.content.decode()) == []
    login = world.client_for(world.store_staff).get("/login/")
    assert "script-src 'self'" in login["Content-Security-Policy"]
