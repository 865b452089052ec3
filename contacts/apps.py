from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("客户")

    def ready(self) -> None:
        # Imported here, once the app registry is ready: registers the trigram-friendly __ilike lookup.
        from contacts import lookups  # noqa: F401
        from contacts.segments import register_contacts_conditions
        from contacts.services.tag_rules import tag_rule_usages
        from contacts.services.tag_usage import register_tag_usage

        # Tagging rules name a tag and a segment: a tag deletion lists them (and refuses one that would
        # make a rule tag everyone).
        register_tag_usage(tag_rule_usages)

        # Segment behaviour conditions contacts itself answers (group joined / left within a window);
        # analytics and campaigns register theirs in their own ready().
        register_contacts_conditions()
