from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = _("渠道")

    def ready(self) -> None:
        # Imported here, not at module top: plugins import models, which need the app registry.
        # Each platform's tasks module is imported so its tasks are registered with Celery.
        from channels import inbox
        from channels.douyin import plugin as douyin_plugin
        from channels.douyin import tasks as _douyin_tasks  # noqa: F401
        from channels.leads import services as leads
        from channels.leads import tasks as _leads_tasks  # noqa: F401
        from channels.meituan import plugin as meituan_plugin
        from channels.meituan import tasks as _meituan_tasks  # noqa: F401
        from channels.video import plugin as video_plugin
        from channels.video import tasks as _video_tasks  # noqa: F401
        from channels.wecom import plugin as wecom_plugin
        from channels.wecom import tasks as _wecom_tasks  # noqa: F401
        from contacts.services import (
            register_erasure_handler,
            register_import_listener,
            register_personal_data_provider,
        )

        for plugin in (wecom_plugin, video_plugin, douyin_plugin, meituan_plugin):
            plugin.ready()
        register_personal_data_provider("leads", leads.customer_leads_export)
        register_erasure_handler(leads.customer_leads_erase)
        register_erasure_handler(inbox.customer_inbox_erase)
        from channels import erasure  # imported here: its models need the app registry

        register_erasure_handler(erasure.customer_transfers_erase)
        register_erasure_handler(erasure.customer_redemptions_erase)
        register_erasure_handler(erasure.customer_remark_pushes_erase)
        # imported here, like erasure above: their models need the app registry
        from channels.app_messages import customer_app_messages_erase
        from channels.leads.pool import customer_pool_erase, lead_pool_enter_imported

        register_erasure_handler(customer_pool_erase)
        # Imported customers enter the lead pool (contacts emits, channels.leads acts).
        register_import_listener(lead_pool_enter_imported)
        register_erasure_handler(customer_app_messages_erase)
        # The sources channels write on a customer (建档（巨量引擎广告线索）), by label not code;
        # imported here, with the app registry ready.
        from channels.models import LeadSource
        from channels.selectors import contact_way_names_for_states
        from contacts.labels import register_source_labels, register_state_labeler

        register_source_labels(dict(LeadSource.choices))
        # A follow's 渠道参数 is shown as the name of its 活码 (the profile's 跟进人 table).
        register_state_labeler(contact_way_names_for_states)
