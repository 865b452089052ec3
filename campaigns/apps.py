from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("营销")

    def ready(self) -> None:
        # Imported here: the app registry is ready only now. channels asks us what to send with a
        # WelcomeCode; it never imports campaigns itself.
        from campaigns.welcome import welcome_provider
        from channels.registry import register_welcome_provider

        register_welcome_provider(welcome_provider)
