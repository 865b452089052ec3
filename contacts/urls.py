from django.urls import URLPattern, URLResolver, include, path

from contacts.views import customers, imports, merges, organization, segments, sidebar, tags

app_name = "contacts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", include("contacts.api_urls")),
    path("customers/", customers.customer_list, name="customer_list"),
    path("customers/bulk-tag/", customers.customer_bulk_tag, name="customer_bulk_tag"),
    path("customers/import/", imports.import_page, name="customer_import"),
    path("customers/import/<int:pk>/", imports.import_status, name="customer_import_status"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/tags/", customers.customer_tag_toggle, name="customer_tag_toggle"),
    path("customers/<int:pk>/notes/", customers.customer_note_add, name="customer_note_add"),
    path("customers/<int:pk>/opt-out/", customers.customer_opt_out, name="customer_opt_out"),
    path("customers/<int:pk>/personal-data/", customers.customer_privacy_export, name="customer_privacy_export"),
    path("customers/<int:pk>/erase/", customers.customer_privacy_erase, name="customer_privacy_erase"),
    path("customers/<int:pk>/merge/", merges.customer_merge, name="customer_merge"),
    path("customers/<int:pk>/merges/<int:merge_id>/undo/", merges.customer_merge_undo, name="customer_merge_undo"),
    path("tags/", tags.tag_list, name="tag_list"),
    path("groups/", tags.group_list, name="group_list"),
    path("groups/<int:pk>/", tags.group_detail, name="group_detail"),
    path("segments/", segments.segment_list, name="segment_list"),
    path("segments/new/", segments.segment_edit, name="segment_new"),
    path("segments/preview/", segments.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", segments.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete/", segments.segment_delete, name="segment_delete"),
    path("segments/<int:pk>/tag/", segments.segment_tag, name="segment_tag"),
    path("sidebar/", sidebar.sidebar, name="sidebar"),
    path("settings/", organization.settings_home, name="settings"),
    path("settings/stores/", organization.store_list, name="settings_stores"),
    path("settings/stores/<int:pk>/", organization.store_edit, name="settings_store"),
    path("settings/staff/", organization.staff_list, name="settings_staff"),
    path("settings/staff/<int:pk>/", organization.staff_edit, name="settings_staff_edit"),
    path("settings/tokens/", organization.token_list, name="settings_tokens"),
    path("settings/tokens/<int:pk>/revoke/", organization.token_revoke, name="settings_token_revoke"),
    path("settings/audit/", organization.audit_list, name="settings_audit"),
    path("accounts/password/<uidb64>/<token>/", organization.PasswordSetView.as_view(), name="password_set"),
]
