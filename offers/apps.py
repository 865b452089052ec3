from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OffersConfig(AppConfig):
    name = "offers"
    verbose_name = _("优惠券")

    def ready(self) -> None:
        # Imported here: models need the app registry, which is ready only now.
        from analytics.registry import register_refund_listener
        from contacts import services as contact_services
        from offers import profile, segment_conditions, services

        register_refund_listener(services.order_refunded)
        contact_services.register_personal_data_provider("coupons", services.customer_coupons_export)
        contact_services.register_erasure_handler(services.customer_coupons_erase)
        contact_services.register_profile_section("offers/_profile_coupons.html", profile.profile_coupons)
        contact_services.register_profile_extension("offers/_profile_actions.html")
        # Segment leaves may ask "redeemed a coupon" / "holds a valid coupon" (contacts never imports offers).
        segment_conditions.register()
