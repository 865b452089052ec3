"""The Content-Security-Policy in a real browser (issue 14): no page trips it, and the behaviour that
used to be inline handlers (menu toggle, language switch, confirmations) still works."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contacts import views_fixtures
from tests.contacts.views_fixtures import People

people = views_fixtures.people

pytestmark = pytest.mark.e2e


def _watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def test_console_pages_run_under_the_policy(people: People, login_page: Any) -> None:
    w = people.world
    page = login_page(w.operator, width=390, height=844)
    problems = _watch(page)
    for path in ("/", "/customers/", f"/customers/{people.alice.pk}/", "/segments/new/", "/api/v1/docs/"):
        response = page.goto(path)
        assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    assert page.locator("#swagger-ui .info").count() == 1  # Swagger UI started from its script file
    # The menu button (was onclick) still opens the navigation on a phone.
    page.goto("/customers/")
    page.locator(".nav-toggle").click()
    assert page.evaluate("document.body.classList.contains('nav-open')")
    # The customer detail page's strings still reach its script (was an inline window.scrmText).
    page.goto(f"/customers/{people.alice.pk}/")
    assert page.evaluate("window.scrmText.saved") == "已保存"
    # The language switch (was onchange) still switches.
    page.locator("select[name=language]").select_option("en")
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en"
    assert problems == []


def test_sidebar_runs_under_the_policy(people: People, login_page: Any) -> None:
    page = login_page(people.world.store_staff, width=390, height=844)
    problems = _watch(page)
    page.goto("/sidebar/?external_userid=wm_alice")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.scrmText.saving") == "保存中…"
    assert problems == []
