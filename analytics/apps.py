from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("数据")

    def ready(self) -> None:
        # Imported here: models need the app registry, which is ready only now.
        from analytics import rollups, segment_conditions
        from analytics.models import BuyerFact, CustomerMonth
        from analytics.selectors import customer_orders_export
        from contacts import services as contact_services

        # Per-customer facts are unique per customer: a merge drops the absorbed customer's and
        # recomputes the survivor's (orders themselves move with the generic relation move).
        contact_services.register_merge_handler(BuyerFact, rollups.merge_handler)
        contact_services.register_merge_handler(CustomerMonth, rollups.merge_bystander)
        contact_services.register_unmerge_handler(rollups.unmerge_handler)
        # Orders stay, anonymous, after an erasure (amounts for reports); their item text goes.
        contact_services.register_personal_data_provider("orders", customer_orders_export)
        from analytics.services import customer_orders_erase  # imported here: it needs the app registry

        contact_services.register_erasure_handler(customer_orders_erase)
        from analytics.profile import profile_orders  # imported here: it needs the app registry

        contact_services.register_profile_section("analytics/_profile_orders.html", profile_orders)
        # Segment leaves may ask about orders ("ordered 母婴 in the last 30 days", "no repeat in 60 days").
        segment_conditions.register()
