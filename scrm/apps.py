from django.apps import AppConfig


class ScrmConfig(AppConfig):
    name = "scrm"
    verbose_name = "SCRM platform"

    def ready(self) -> None:
        # Imported here, not at module top: scrm.auth imports DRF's Token model, which needs the app registry.
        from scrm.auth import connect_signals

        connect_signals()
