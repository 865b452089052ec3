"""REST API routes of the contacts app, mounted at /api/v1/ by contacts/urls.py (namespace ``contacts``)."""

from django.urls import URLPattern, path

from contacts import api, api_custom_fields, api_org, api_segments

urlpatterns: list[URLPattern] = [
    path("customers/", api.CustomerListView.as_view(), name="api-customer-list"),
    path("customers/export/", api.CustomerExportView.as_view(), name="api-customer-export"),
    path("customers/search/", api_segments.CustomerSearchView.as_view(), name="api-customer-search"),
    path("customers/bulk-tag/", api.CustomerBulkTagView.as_view(), name="api-customer-bulk-tag"),
    path("customers/<int:pk>/", api.CustomerDetailView.as_view(), name="api-customer-detail"),
    path("customers/<int:pk>/tags/", api.CustomerTagAddView.as_view(), name="api-customer-tag-add"),
    path("customers/<int:pk>/tags/<int:tag_id>/", api.CustomerTagRemoveView.as_view(), name="api-customer-tag-remove"),
    path("customers/<int:pk>/notes/", api.CustomerNotesView.as_view(), name="api-customer-notes"),
    path("customers/<int:pk>/opt-out/", api.CustomerOptOutView.as_view(), name="api-customer-opt-out"),
    path(
        "customers/<int:pk>/personal-data/", api.CustomerPersonalDataView.as_view(), name="api-customer-personal-data"
    ),
    path("customers/<int:pk>/erase/", api.CustomerEraseView.as_view(), name="api-customer-erase"),
    path(
        "customers/<int:pk>/fields/",
        api_custom_fields.CustomerFieldValuesView.as_view(),
        name="api-customer-field-values",
    ),
    path("custom-fields/", api_custom_fields.CustomFieldListView.as_view(), name="api-custom-field-list"),
    path("custom-fields/<int:pk>/", api_custom_fields.CustomFieldDetailView.as_view(), name="api-custom-field-detail"),
    path("tag-groups/", api.TagGroupListView.as_view(), name="api-tag-group-list"),
    path("tag-groups/<int:pk>/", api.TagGroupDetailView.as_view(), name="api-tag-group-detail"),
    path("tags/", api.TagListView.as_view(), name="api-tag-list"),
    path("tags/<int:pk>/", api.TagDetailView.as_view(), name="api-tag-detail"),
    path("tags/<int:pk>/usages/", api.TagUsageView.as_view(), name="api-tag-usages"),
    path("customer-groups/", api.CustomerGroupListView.as_view(), name="api-customer-group-list"),
    path("customer-groups/<int:pk>/", api.CustomerGroupDetailView.as_view(), name="api-customer-group-detail"),
    path("segments/", api.SegmentListView.as_view(), name="api-segment-list"),
    path("segments/preview/", api.SegmentPreviewView.as_view(), name="api-segment-preview"),
    path("segments/<int:pk>/", api.SegmentDetailView.as_view(), name="api-segment-detail"),
    path("segments/<int:pk>/members/", api_segments.SegmentMembersView.as_view(), name="api-segment-members"),
    path("segments/<int:pk>/recount/", api.SegmentRecountView.as_view(), name="api-segment-recount"),
    path("stores/", api_org.StoreListView.as_view(), name="api-store-list"),
    path("stores/<int:pk>/", api_org.StoreDetailView.as_view(), name="api-store-detail"),
    path("stores/<int:pk>/close/", api_org.StoreActiveView.as_view(active=False), name="api-store-close"),
    path("stores/<int:pk>/reopen/", api_org.StoreActiveView.as_view(active=True), name="api-store-reopen"),
    path("staff/", api_org.StaffListView.as_view(), name="api-staff-list"),
    path("staff/<int:pk>/", api_org.StaffDetailView.as_view(), name="api-staff-detail"),
    path("imports/", api.ImportCreateView.as_view(), name="api-import-create"),
    path("imports/<int:pk>/", api.ImportDetailView.as_view(), name="api-import-detail"),
]
