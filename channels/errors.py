"""Errors every platform client raises, so callers (sync, campaigns' dispatcher) handle them alike."""

from __future__ import annotations


class PlatformError(Exception):
    """The platform answered with an error code (WeCom ``errcode != 0``, Douyin ``code != 0``…)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


class RateLimited(PlatformError):
    """Frequency (45009) or concurrency (45033) limit hit, or our own bucket is empty.

    ``retry_after`` is how many seconds to wait before trying the same API again.
    """

    def __init__(self, code: int, message: str, retry_after: float = 1.0) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class TransientError(Exception):
    """Timeouts, connection errors, HTTP 5xx, WeCom -1 (系统繁忙): safe to retry with backoff."""


class ConfigError(PlatformError):
    """The account is misconfigured (bad corp id / secret, API not authorised): retrying will not help."""
