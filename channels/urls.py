"""Routes of channels (namespace ``channels``): the shared pages and the webhook endpoint here, each
platform's pages in its own ``channels/<platform>/urls.py``. URL names stay flat (``channels:…``)."""

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

from channels import material_views, views, webhooks
from channels.forms import urls as forms_urls
from channels.leads import pool_views
from channels.leads import views as leads_views
from channels.meituan import urls as meituan_urls
from channels.wecom import urls as wecom_urls

app_name = "channels"
urlpatterns: list[URLPattern | URLResolver] = [
    path("hooks/<slug:platform>/<str:key>/", webhooks.webhook, name="webhook"),
    path("api/v1/", include("channels.api_urls")),
    path("channels/accounts/", views.account_list, name="account_list"),
    path("channels/accounts/<int:pk>/action/", views.account_action, name="account_action"),
    path("channels/inbox/", views.inbox_list, name="inbox_list"),
    path("channels/inbox/replay/", views.inbox_replay, name="inbox_replay"),
    path("channels/inbox/<int:pk>/", views.inbox_detail, name="inbox_detail"),
    path("channels/leads/", leads_views.lead_list, name="lead_list"),
    path("channels/leads/pool/", pool_views.pool_list, name="lead_pool"),
    path("channels/leads/pool/<int:pk>/phone/", pool_views.pool_phone, name="lead_pool_phone"),
    path("channels/leads/pool/rules/", pool_views.pool_rule_list, name="lead_pool_rules"),
    path("channels/leads/pool/rules/new/", pool_views.pool_rule_edit, name="lead_pool_rule_new"),
    path("channels/leads/pool/rules/<int:pk>/", pool_views.pool_rule_edit, name="lead_pool_rule_edit"),
    path("channels/leads/accounts/connect/", views.lead_account_connect, name="lead_account_connect"),
    path("channels/leads/accounts/<int:pk>/", views.lead_account_connect, name="lead_account_edit"),
    path("channels/materials/", material_views.material_list, name="material_list"),
    path("channels/materials/upload/", material_views.material_upload, name="material_upload"),
    path("channels/materials/<int:pk>/file/", material_views.material_file, name="material_file"),
    path("channels/materials/<int:pk>/delete/", material_views.material_remove, name="material_remove"),
    *wecom_urls.urlpatterns,
    *forms_urls.urlpatterns,
    *meituan_urls.urlpatterns,
]
if settings.SANDBOX_ENABLED:
    # Baseline for bench/ingest.py: the same server answering without verification or storage.
    urlpatterns.append(path("hooks-bench/bare/", webhooks.bare_view, name="webhook_bare"))
