"""The abstract base of every scoped contacts model (its scope paths are read by ``contacts.access``);
kept apart so that the model modules ``contacts.models`` re-exports can use it without importing it."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class Scoped(models.Model):
    SCOPE_ORG: ClassVar[str] = "organization"
    SCOPE_STORE: ClassVar[str | None] = None

    class Meta:
        abstract = True
