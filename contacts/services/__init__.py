"""Writes to the customer base. The only way to change contacts models (docs/architecture.md#services-and-selectors).

Conventions: keyword-only, typed, ``<entity>_<action>``; top-level services are atomic; side effects
(tag listeners, tasks) run on commit. ``Customer.tag_ids`` mirrors ``CustomerTag`` and every function
here that changes one changes the other in the same transaction, with SQL array operations (intarray's
``-``/``|`` and ``uniq(sort(…))``, so the array stays sorted and without duplicates).
"""

from contacts.services.custom_fields import (
    custom_field_create,
    custom_field_delete,
    custom_field_update,
    custom_value_clean,
    customer_update,
)
from contacts.services.customers import (
    _customer_foreign_keys,
    customer_merge,
    customer_opt_in,
    customer_opt_out,
    customer_resolve,
    note_add,
    timeline_add,
)
from contacts.services.facts import segment_facts_rebuild
from contacts.services.imports import (
    STALE_RUNNING,
    customer_lifecycle_set,
    import_job_begin,
    import_job_claim,
    import_job_create,
    import_job_fail,
    import_job_progress_save,
    import_job_release,
)
from contacts.services.privacy import customer_erase, customer_personal_data
from contacts.services.registry import (
    ContactsError,
    MergeHandler,
    ProfileSection,
    TagDeletedListener,
    TagListener,
    profile_sections,
    register_erasure_handler,
    register_merge_handler,
    register_personal_data_provider,
    register_profile_section,
    register_sidebar_extension,
    register_tag_deleted_listener,
    register_tag_listener,
    sidebar_extensions,
)
from contacts.services.relations import follow_end, follow_upsert, group_dismiss, group_upsert
from contacts.services.rollups import (
    ORDER_FIGURE_FIELDS,
    OrderFigures,
    customer_order_figures_set,
    customer_rfm_refresh,
)
from contacts.services.saved_segments import segment_delete, segment_save
from contacts.services.staff import staff_create, staff_depart, staff_login_user, staff_return, staff_set_role
from contacts.services.tags import (
    customer_tag_add,
    customer_tag_ids_rebuild,
    customer_tag_remove,
    customers_tag_bulk,
    tag_create,
    tag_delete,
    tag_group_create,
    tag_group_delete,
    tag_group_update,
    tag_update,
)

__all__ = [
    "ORDER_FIGURE_FIELDS",
    "STALE_RUNNING",
    "ContactsError",
    "MergeHandler",
    "OrderFigures",
    "ProfileSection",
    "TagDeletedListener",
    "TagListener",
    "_customer_foreign_keys",
    "custom_field_create",
    "custom_field_delete",
    "custom_field_update",
    "custom_value_clean",
    "customer_erase",
    "customer_lifecycle_set",
    "customer_merge",
    "customer_opt_in",
    "customer_opt_out",
    "customer_order_figures_set",
    "customer_personal_data",
    "customer_resolve",
    "customer_rfm_refresh",
    "customer_tag_add",
    "customer_tag_ids_rebuild",
    "customer_tag_remove",
    "customer_update",
    "customers_tag_bulk",
    "follow_end",
    "follow_upsert",
    "group_dismiss",
    "group_upsert",
    "import_job_begin",
    "import_job_claim",
    "import_job_create",
    "import_job_fail",
    "import_job_progress_save",
    "import_job_release",
    "note_add",
    "profile_sections",
    "register_erasure_handler",
    "register_merge_handler",
    "register_personal_data_provider",
    "register_profile_section",
    "register_sidebar_extension",
    "register_tag_deleted_listener",
    "register_tag_listener",
    "segment_delete",
    "segment_facts_rebuild",
    "segment_save",
    "sidebar_extensions",
    "staff_create",
    "staff_depart",
    "staff_login_user",
    "staff_return",
    "staff_set_role",
    "tag_create",
    "tag_delete",
    "tag_group_create",
    "tag_group_delete",
    "tag_group_update",
    "tag_update",
    "timeline_add",
]
