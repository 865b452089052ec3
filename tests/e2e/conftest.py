"""Browser-test infrastructure: Playwright (sync API) driving Debian's chromium against ``live_server``.

Usable by every app's browser tests (mark them ``@pytest.mark.e2e``):

* ``chromium_executable`` (session): makes sure ``/usr/bin/chromium`` and a CJK font exist, installing
  the Debian packages with apt when missing (never a Playwright browser download).
* ``browser`` (package): Playwright launching that chromium headless.
* ``login_page(staff, width=1280, height=800, timezone_id=None)``: a new browser page already signed
  in as that staff member's user (``timezone_id`` sets the browser's zone, e.g. ``"America/New_York"``) (session cookie from ``force_login``), with ``base_url`` = ``live_server.url``; so
  ``page.goto("/customers/")`` works. Pages are closed after the test; when the test fails each open
  page is saved as a screenshot under ``test-artifacts/``.
* ``screenshot(page, name)``: save a full-page PNG under ``test-artifacts/e2e/`` (for looking at layouts).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from contacts.models import Staff

BASE_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = BASE_DIR / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CJK_FONT_PACKAGE = "fonts-wqy-microhei"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def _has_cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


def ensure_chromium() -> Path:
    """Install Debian's chromium and a CJK font when missing (we run as root in CI and dev containers)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append("chromium")
    if not _has_cjk_font():
        missing.append(CJK_FONT_PACKAGE)
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        # Another session may hold the dpkg lock; wait for it rather than fail.
        lock = ["-o", "DPkg::Lock::Timeout=600"]
        subprocess.run(["apt-get", *lock, "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", *lock, "install", "-y", "-qq", *missing], check=True, env=env)
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing after apt-get install chromium; install it by hand and rerun")
    return CHROMIUM


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """Debian's chromium, installed (with a CJK font) on first use in the session."""
    return ensure_chromium()


@pytest.fixture(scope="package")
def browser(chromium_executable: Path) -> Iterator[Any]:
    """Headless chromium for the browser tests of this package; stopped when the package is done.

    Playwright's sync API leaves its event loop registered as the thread's running loop, so while it
    lives Django's ORM (fixtures and assertions run in the same thread) must be told that is fine;
    the flag is restored afterwards so no other test runs with the async-safety check off.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(
                executable_path=str(chromium_executable), headless=True, args=CHROMIUM_ARGS
            )
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/e2e/ and return its path."""
    path = ARTIFACTS / "e2e" / f"{_slug(name)}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def login_page(
    browser: Any, live_server: Any, transactional_db: Any, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """Factory: ``login_page(staff, width=1280, height=800)`` → a Playwright page signed in as ``staff``."""
    contexts: list[tuple[Any, Any, str]] = []

    def make(
        staff: Staff,
        *,
        width: int = 1280,
        height: int = 800,
        timezone_id: str | None = None,
        user_agent: str | None = None,
    ) -> Any:
        assert staff.user is not None, "this staff member has no login"
        client = Client()
        client.force_login(staff.user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            device_scale_factor=1,
            locale="zh-CN",
            is_mobile=width < 500,
            has_touch=width < 500,
            **({"timezone_id": timezone_id} if timezone_id else {}),
            **({"user_agent": user_agent} if user_agent else {}),
        )
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
        context.set_default_timeout(10_000)
        page = context.new_page()
        contexts.append((context, page, f"{staff.user.username}-{width}"))
        return page

    yield make
    failed = getattr(request.node, "rep_call", None)
    for context, page, label in contexts:
        if failed is not None and failed.failed:
            # A screenshot must never hide the real failure.
            with contextlib.suppress(Exception):
                screenshot(page, f"FAILED-{request.node.name}-{label}")
        # Requests still in flight (a live preview, say) must finish before the test database is
        # flushed: one still running in the live server would deadlock with the flush's TRUNCATE.
        with contextlib.suppress(Exception):
            page.wait_for_load_state("networkidle", timeout=10_000)
        context.close()
