from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("营销")

    def ready(self) -> None:
        # Imported here: the app registry is ready only now. channels asks us what to send with a
        # WelcomeCode; it never imports campaigns itself.
        from campaigns import segment_conditions
        from campaigns.welcome import welcome_provider
        from channels.registry import register_welcome_provider

        register_welcome_provider(welcome_provider)
        # A library material (素材) cannot be deleted while a campaign still sends it; imported here
        # because the selectors need the app registry.
        from campaigns.selectors import material_usage
        from channels.materials import register_material_usage

        register_material_usage(material_usage)
        # The profile lists the campaigns a customer received; analytics shows the names of the
        # campaigns its orders are attributed to. Neither lower layer imports campaigns; imported here
        # because the models need the app registry.
        from analytics.registry import register_campaign_names
        from campaigns.profile import campaign_names, profile_campaigns
        from contacts.services import register_profile_section

        register_profile_section("campaigns/_profile_campaigns.html", profile_campaigns)
        register_campaign_names(campaign_names)
        # A tag used by a campaign's rule is shown (and refused or rewritten) when it is deleted;
        # imported here, with the app registry ready.
        from campaigns.tag_usage import tag_usage
        from contacts.services import register_tag_usage

        register_tag_usage(tag_usage)
        # Segment leaves may ask "received a broadcast within N days" (contacts never imports campaigns).
        segment_conditions.register()
