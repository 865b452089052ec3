from django.urls import URLPattern, URLResolver, include, path

from contacts.views import custom_fields, customers, imports, segments, sidebar, tags

app_name = "contacts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", include("contacts.api_urls")),
    path("customers/", customers.customer_list, name="customer_list"),
    path("customers/bulk-tag/", customers.customer_bulk_tag, name="customer_bulk_tag"),
    path("customers/import/", imports.import_page, name="customer_import"),
    path("customers/import/<int:pk>/", imports.import_status, name="customer_import_status"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", custom_fields.customer_edit, name="customer_edit"),
    path("customers/fields/", custom_fields.custom_field_list, name="custom_field_list"),
    path("customers/fields/<int:pk>/", custom_fields.custom_field_edit, name="custom_field_edit"),
    path("customers/fields/<int:pk>/delete/", custom_fields.custom_field_delete, name="custom_field_delete"),
    path("customers/<int:pk>/tags/", customers.customer_tag_toggle, name="customer_tag_toggle"),
    path("customers/<int:pk>/notes/", customers.customer_note_add, name="customer_note_add"),
    path("customers/<int:pk>/opt-out/", customers.customer_opt_out, name="customer_opt_out"),
    path("customers/<int:pk>/personal-data/", customers.customer_privacy_export, name="customer_privacy_export"),
    path("customers/<int:pk>/erase/", customers.customer_privacy_erase, name="customer_privacy_erase"),
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
]
