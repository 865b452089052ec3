from __future__ import annotations

import io
import json
import logging

from django.conf import settings

from scrm.logging import RedactFilter


def _logger_to(stream: io.StringIO) -> logging.Logger:
    logger = logging.getLogger("test.redact")
    logger.handlers.clear()
    handler = logging.StreamHandler(stream)
    from pythonjsonlogger.json import JsonFormatter

    handler.setFormatter(JsonFormatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactFilter())
    logger.addHandler(handler)
    logger.propagate = False
    return logger


def test_logs_never_contain_phone_numbers_or_secrets() -> None:
    stream = io.StringIO()
    logger = _logger_to(stream)
    logger.info("customer 13812345678 called, payload %s", {"mobile": "+86 139 1234 5678"})
    logger.info(
        "token refresh", extra={"access_token": "abc123secret", "corp_secret": "s3cr3t", "phone": "15900001111"}
    )
    logger.info("url ?access_token=tok_live_123&x=1 secret=hunter2")
    out = stream.getvalue()
    for leaked in ("13812345678", "1234 5678", "abc123secret", "s3cr3t", "15900001111", "tok_live_123", "hunter2"):
        assert leaked not in out
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert lines[0]["message"].startswith("customer *** called")
    assert lines[1]["access_token"] == "***"


def test_project_logging_routes_through_the_redact_filter() -> None:
    assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]


def test_a_logged_request_carries_no_query_string() -> None:
    from django.test import RequestFactory

    stream = io.StringIO()
    logger = _logger_to(stream)
    request = RequestFactory().get("/api/v1/customers/", {"q": "13812345678", "name": "李大明"})
    logger.warning("Forbidden: %s", request.path, extra={"request": request, "status_code": 403})
    out = stream.getvalue()
    assert "13812345678" not in out and "李大明" not in out and "%E6" not in out
    assert json.loads(out)["request"] == "<WSGIRequest: GET /api/v1/customers/>"
