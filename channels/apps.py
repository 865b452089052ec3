from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = _("渠道")

    def ready(self) -> None:
        from channels.registry import Plugin, register
        from channels.wecom import handlers, webhook

        register(Plugin(platform="wecom", receive=webhook.receive, process=handlers.process_event, atomic=False))
        handlers.connect_tag_listener()
        from contacts.services import register_sidebar_extension

        register_sidebar_extension("channels/wecom/_sidebar_bridge.html")  # WeCom JS-SDK in the sidebar
        from channels import inbox, leads_services
        from contacts.services import register_erasure_handler, register_personal_data_provider

        register_personal_data_provider("leads", leads_services.customer_leads_export)
        register_erasure_handler(leads_services.customer_leads_erase)
        register_erasure_handler(inbox.customer_inbox_erase)
        # Lead sources (Douyin, WeChat shop webhooks; beat tasks) — channels-leads engineer; keep these lines.
        from channels import leads_plugins, leads_tasks  # noqa: F401

        leads_plugins.register_all()
