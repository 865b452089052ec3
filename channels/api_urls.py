"""REST API routes of channels, mounted at /api/v1/ by channels/urls.py (namespace ``channels``)."""

from django.urls import URLPattern, path

from channels import api
from channels.leads import pool_api

urlpatterns: list[URLPattern] = [
    path("channel-accounts/", api.ChannelAccountListView.as_view(), name="api-account-list"),
    path("channel-accounts/<int:pk>/", api.ChannelAccountDetailView.as_view(), name="api-account-detail"),
    path("contact-ways/", api.ContactWayListView.as_view(), name="api-contact-way-list"),
    path("contact-ways/<int:pk>/", api.ContactWayDetailView.as_view(), name="api-contact-way-detail"),
    path("leads/", api.LeadListView.as_view(), name="api-lead-list"),
    path("leads/<int:pk>/", api.LeadDetailView.as_view(), name="api-lead-detail"),
    path("lead-pool/", pool_api.PoolListView.as_view(), name="api-lead-pool-list"),
    path("lead-pool/assign/", pool_api.PoolAssignView.as_view(), name="api-lead-pool-assign"),
]
