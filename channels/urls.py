from django.conf import settings
from django.urls import URLPattern, URLResolver, path

from channels import views, webhooks, wecom_login
from channels.leads_urls import urlpatterns as leads_urlpatterns

app_name = "channels"
urlpatterns: list[URLPattern | URLResolver] = [
    path("hooks/<slug:platform>/<str:key>/", webhooks.webhook, name="webhook"),
    path("channels/accounts/", views.account_list, name="account_list"),
    path("channels/accounts/connect/", views.account_connect, name="account_connect"),
    path("channels/accounts/<int:pk>/edit/", views.account_connect, name="account_edit"),
    path("channels/accounts/<int:pk>/action/", views.account_action, name="account_action"),
    path("channels/qrcodes/", views.contactway_list, name="contactway_list"),
    path("channels/qrcodes/new/", views.contactway_edit, name="contactway_new"),
    path("channels/qrcodes/<int:pk>/", views.contactway_edit, name="contactway_edit"),
    path("channels/qrcodes/<int:pk>/action/", views.contactway_action, name="contactway_action"),
    path("channels/qrcodes/<int:pk>/qr.png", views.contactway_qr, name="contactway_qr"),
    path("channels/qrcodes/<int:pk>/print/", views.contactway_print, name="contactway_print"),
    path("channels/inbox/", views.inbox_list, name="inbox_list"),
    path("channels/inbox/replay/", views.inbox_replay, name="inbox_replay"),
    path("channels/inbox/<int:pk>/", views.inbox_detail, name="inbox_detail"),
    path("channels/transfers/", views.transfer_list, name="transfer_list"),
    path("channels/wecom/jssdk/", wecom_login.wecom_jssdk, name="wecom_jssdk"),
    path("channels/wecom/<str:key>/login/", wecom_login.wecom_login, name="wecom_login"),
    path("channels/wecom/<str:key>/login/done/", wecom_login.wecom_login_done, name="wecom_login_done"),
    path("channels/transfers/<int:pk>/refresh/", views.transfer_refresh, name="transfer_refresh"),
]
if settings.SANDBOX_ENABLED:
    # Baseline for bench/ingest.py: the same server answering without verification or storage.
    urlpatterns.append(path("hooks-bench/bare/", webhooks.bare_view, name="webhook_bare"))

# Lead sources (leads list, forms, /f/<slug>/, Meituan redemption) — channels-leads engineer; keep this line.
urlpatterns += leads_urlpatterns
