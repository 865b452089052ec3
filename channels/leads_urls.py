"""Routes of the lead sources; appended to ``channels.urls`` (namespace ``channels``)."""

from django.urls import path

from channels import leads_accounts, leads_views
from channels.meituan import views as meituan_views

urlpatterns = [
    path("channels/leads/", leads_views.lead_list, name="lead_list"),
    path("channels/leads/accounts/connect/", leads_accounts.lead_account_connect, name="lead_account_connect"),
    path("channels/leads/accounts/<int:pk>/", leads_accounts.lead_account_connect, name="lead_account_edit"),
    path("channels/forms/", leads_views.leadform_list, name="leadform_list"),
    path("channels/forms/new/", leads_views.leadform_edit, name="leadform_new"),
    path("channels/forms/<int:pk>/", leads_views.leadform_edit, name="leadform_edit"),
    path("channels/meituan/redeem/", meituan_views.redeem, name="meituan_redeem"),
    path("f/<slug:slug>/", leads_views.form_public, name="form_public"),
]
