"""Phase timings for set-based jobs (the planner's and the allocator's ``timings_ms``)."""

from __future__ import annotations

import time


class Laps:
    """``lap(name)`` records the milliseconds since the previous lap (or since creation) under ``name``."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.ms[name] = round((now - self._clock) * 1000, 1)
        self._clock = now
