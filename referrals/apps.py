from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = _("任务宝")

    def ready(self) -> None:
        # Imported here: models need the app registry, which is ready only now.
        from channels import registry as channel_registry
        from contacts import services as contact_services
        from referrals import counting, privacy, profile

        channel_registry.register_contact_added_listener(counting.on_contact_added)
        channel_registry.register_contact_removed_listener(counting.on_contact_removed)
        contact_services.register_personal_data_provider("referrals", privacy.customer_referrals_export)
        contact_services.register_erasure_handler(privacy.customer_referrals_erase)
        contact_services.register_profile_section("referrals/_profile_referrals.html", profile.profile_referrals)
        # Store staff enrol the customer they are chatting with from the sidebar too (same card, same queries).
        contact_services.register_sidebar_section("referrals/_profile_referrals.html", profile.profile_referrals)
