from django.urls import path

from campaigns import api, views

app_name = "campaigns"
urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/moments/", views.moment_list, name="moment_list"),
    path("campaigns/new/", views.campaign_new, name="campaign_new"),
    path("campaigns/my-pending/", views.my_pending, name="my_pending"),
    path("campaigns/planner/", views.planner, name="planner"),
    path("campaigns/planner/run/", views.planner_run, name="planner_run"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/progress.json", views.campaign_progress, name="campaign_progress"),
    path("campaigns/<int:pk>/batches/<int:batch_id>/resolve/", views.batch_resolve, name="batch_resolve"),
    path("campaigns/<int:pk>/<str:action>/", views.campaign_action, name="campaign_action"),
    # /reports/campaigns/ is the agreed address; analytics' reports/<slug>/ pattern is included first
    # in scrm/urls.py and shadows it, so the page also lives under /campaigns/report/ (see report).
    path("campaigns/report/", views.campaigns_report, name="report"),
    path("reports/campaigns/", views.campaigns_report, name="report_under_reports"),
    path("quota-policies/", views.quota_policy_list, name="quota_policy_list"),
    path("quota-policies/default/", views.quota_policy_default, name="quota_policy_default"),
    path("quota-policies/new/", views.quota_policy_new, name="quota_policy_new"),
    path("quota-policies/<int:pk>/", views.quota_policy_edit, name="quota_policy_edit"),
    path("quota-policies/<int:pk>/delete/", views.quota_policy_delete, name="quota_policy_delete"),
    path("api/v1/campaigns/preview/", api.CampaignPreviewView.as_view(), name="api_preview"),
    # One route for the list (GET) and create (POST); "api_create" is the name the wizard reverses.
    path("api/v1/campaigns/", api.CampaignListCreateView.as_view(), name="api_create"),
    path("api/v1/campaigns/<int:pk>/", api.CampaignDetailView.as_view(), name="api_detail"),
    path("api/v1/campaigns/<int:pk>/results/", api.CampaignResultsView.as_view(), name="api_results"),
    *[
        path(f"api/v1/campaigns/<int:pk>/{name}/", api.action_view(name), name=f"api_{name}")
        for name in api.API_ACTIONS
    ],
]
