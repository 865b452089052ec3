"""Every periodic task, declared in one place (read by ``scrm.celery``).

Beat only enqueues; each task claims its own work from Postgres (``due_at`` rows), so a missed or
doubled beat tick changes nothing.
"""

from __future__ import annotations

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
