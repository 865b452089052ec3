from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("客户")

    def ready(self) -> None:
        # Imported here, once the app registry is ready: registers the trigram-friendly __ilike lookup.
        from contacts import lookups  # noqa: F401
