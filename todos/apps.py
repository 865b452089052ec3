from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TodosConfig(AppConfig):
    name = "todos"
    verbose_name = _("待办")

    def ready(self) -> None:
        from contacts import services as contact_services
        from todos.services import customer_todos_erase, customer_todos_export

        contact_services.register_personal_data_provider("todos", customer_todos_export)
        contact_services.register_erasure_handler(customer_todos_erase)
