from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = _("客户旅程")

    def ready(self) -> None:
        from channels import registry as channel_registry
        from contacts import services as contact_services
        from journeys import tag_usage, triggers
        from todos.models import TodoKind
        from todos.services import register_todo_done_listener

        channel_registry.register_contact_added_listener(triggers.on_contact_added)
        contact_services.register_tag_listener(triggers.on_tags_changed)
        contact_services.register_tag_usage(tag_usage.tag_usage)
        register_todo_done_listener(TodoKind.JOURNEY_TASK, triggers.on_task_done)
        # Overdue to-do reminders (channels.todo_reminders) open the member's to-do list in the sidebar,
        # the page a member reaches from WeCom on the phone.
        from django.urls import reverse

        from channels.todo_reminders import register_todo_page

        register_todo_page(lambda: reverse("journeys:sidebar_todos"))
        # Imported here: app registry; segment leaves may ask "reached a journey step".
        from journeys import segment_conditions

        segment_conditions.register()
