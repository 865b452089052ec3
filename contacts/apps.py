from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("客户")

    def ready(self) -> None:
        from contacts import lookups  # noqa: F401  (registers the trigram-friendly __ilike)
