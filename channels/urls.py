from django.conf import settings
from django.urls import path

from channels import webhooks
from channels.leads_urls import urlpatterns as leads_urlpatterns

app_name = "channels"
urlpatterns: list = [
    path("hooks/<slug:platform>/<str:key>/", webhooks.webhook, name="webhook"),
]
if settings.SANDBOX_ENABLED:
    # Baseline for bench/ingest.py: the same server answering without verification or storage.
    urlpatterns.append(path("hooks-bench/bare/", webhooks.bare_view, name="webhook_bare"))

# Lead sources (leads list, forms, /f/<slug>/, Meituan redemption) — channels-leads engineer; keep this line.
urlpatterns += leads_urlpatterns
