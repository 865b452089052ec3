from django.apps import AppConfig


class ScrmConfig(AppConfig):
    name = "scrm"
    verbose_name = "SCRM platform"

    def ready(self) -> None:
        from scrm.auth import connect_signals

        connect_signals()
