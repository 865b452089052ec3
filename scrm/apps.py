from django.apps import AppConfig


class ScrmConfig(AppConfig):
    name = "scrm"
    verbose_name = "SCRM platform"

    def ready(self) -> None:
        # Imported here, not at module top: scrm.auth imports DRF's Token model, which needs the app registry.
        from scrm.auth import connect_signals

        connect_signals()
        from django.db import models
        from rest_framework import serializers

        # Imported here, not at module top: scrm.fields imports DRF, which reads settings at import.
        from scrm.fields import BoundedDateField, BoundedDateTimeField, strict_text_fields

        # Every model serializer's date fields are bounded and rendered as RFC 3339 in Beijing time.
        serializers.ModelSerializer.serializer_field_mapping[models.DateTimeField] = BoundedDateTimeField
        serializers.ModelSerializer.serializer_field_mapping[models.DateField] = BoundedDateField
        strict_text_fields()
        # Imported here, not at module top: the OpenAPI field extensions register themselves on import
        # (before any schema is generated), and they import DRF, which reads settings at import.
        import scrm.openapi  # noqa: F401
