"""Pacing of outbound platform calls: Redis token buckets per (account, api) and a concurrency cap.

Both are single Lua scripts, so every worker process on every machine shares one exact budget (no
read-then-write race). Time comes from Redis (``TIME``), not from the callers' clocks.

* ``take``: N buckets (e.g. per minute and per hour) are refilled continuously at ``limit / window``
  per second up to a burst; a call takes one token from each, or none when any is empty, and learns
  how long to wait for the emptiest one.
* ``lease``: a sorted set of lease ids scored by expiry; expired leases (a worker killed mid-call) are
  dropped before counting, so a crash never leaks a slot for longer than ``lease_ttl``.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import redis
from django.conf import settings

from channels.errors import RateLimited

# KEYS: one hash per bucket. ARGV: n, then for each bucket: rate_per_s, burst. Returns wait in ms (0 = taken).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = tonumber(ARGV[1])
local wait = 0
local levels = {}
for i = 1, n do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local h = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(h[1])
  local ts = tonumber(h[2])
  if tokens == nil then tokens = burst; ts = now end
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  levels[i] = tokens
  if tokens < 1 then
    local w = (1 - tokens) / rate
    if w > wait then wait = w end
  end
end
if wait > 0 then
  return math.ceil(wait * 1000)
end
for i = 1, n do
  local rate = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  redis.call('HSET', KEYS[i], 'tokens', levels[i] - 1, 'ts', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
end
return 0
"""

# KEYS[1] = lease zset. ARGV: cap, lease id, ttl seconds. Returns 1 when leased.
_LEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 10)
return 1
"""

WINDOWS = {"per_second": 1, "per_minute": 60, "per_hour": 3600}
# WeCom's documented per-corp per-API limits and a conservative concurrency cap (docs/platforms.md#wecom-rate-limits).
DEFAULT_LIMITS: dict[str, float] = {"per_minute": 10000, "per_hour": 150000, "concurrency": 5}


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_CLIENT_URL)


@cache
def _scripts() -> tuple[Any, Any]:
    client = redis_client()
    return client.register_script(_TAKE), client.register_script(_LEASE)


@dataclass(frozen=True)
class Limits:
    per_second: float | None = None
    per_minute: float | None = None
    per_hour: float | None = None
    concurrency: int = 5

    @classmethod
    def resolve(cls, overrides: dict[str, Any] | None, api: str) -> Limits:
        """Account settings ``{"default": {...}, "<api>": {...}}`` over WeCom's documented defaults."""
        merged: dict[str, Any] = dict(DEFAULT_LIMITS)
        overrides = overrides or {}
        merged.update(overrides.get("default") or {})
        merged.update(overrides.get(api) or {})
        return cls(
            per_second=merged.get("per_second"),
            per_minute=merged.get("per_minute"),
            per_hour=merged.get("per_hour"),
            concurrency=int(merged.get("concurrency") or 5),
        )

    def buckets(self) -> list[tuple[str, float, float]]:
        """(name, refill rate per second, burst) for each configured window."""
        out = []
        for name, window in WINDOWS.items():
            limit = getattr(self, name)
            if limit:
                rate = float(limit) / window
                # A burst of one second's worth (at least 1) keeps the minute/hour budget honest.
                out.append((name, rate, max(1.0, math.ceil(rate))))
        return out


def take(scope: str, limits: Limits) -> float:
    """Try to take one token from each bucket of ``scope``; return 0.0 or the seconds to wait."""
    buckets = limits.buckets()
    if not buckets:
        return 0.0
    take_script, _ = _scripts()
    keys = [f"scrm:rl:{scope}:{name}" for name, _, _ in buckets]
    args: list[Any] = [len(buckets)]
    for _, rate, burst in buckets:
        args += [rate, burst]
    wait_ms = int(take_script(keys=keys, args=args))
    return wait_ms / 1000.0


def lease(scope: str, cap: int, ttl: float = 60.0) -> str | None:
    _, lease_script = _scripts()
    lease_id = uuid.uuid4().hex
    ok = lease_script(keys=[f"scrm:cc:{scope}"], args=[cap, lease_id, ttl])
    return lease_id if int(ok) else None


def release(scope: str, lease_id: str) -> None:
    redis_client().zrem(f"scrm:cc:{scope}", lease_id)


@contextmanager
def paced(scope: str, limits: Limits, *, max_wait: float = 5.0, lease_ttl: float = 60.0) -> Iterator[None]:
    """Wait (up to ``max_wait`` seconds) for a token and a concurrency slot, then run the block.

    Raises :class:`RateLimited` with ``retry_after`` when the budget is not available in time, so a
    Celery task can retry later instead of holding a worker.
    """
    deadline = time.monotonic() + max_wait
    while True:
        wait = take(scope, limits)
        if wait <= 0:
            break
        if time.monotonic() + wait > deadline:
            raise RateLimited(0, "本地频率限制：该接口的调用额度暂时用完", retry_after=wait)
        time.sleep(wait)
    lease_id = None
    delay = 0.01
    while lease_id is None:
        lease_id = lease(scope, limits.concurrency, lease_ttl)
        if lease_id is None:
            if time.monotonic() + delay > deadline:
                raise RateLimited(0, "本地并发限制：该接口同时进行的调用过多", retry_after=0.5)
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
    try:
        yield
    finally:
        release(scope, lease_id)
