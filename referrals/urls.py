from django.urls import path

from referrals import api, views

app_name = "referrals"

urlpatterns = [
    path("referrals/", views.campaign_list, name="campaign_list"),
    path("referrals/new/", views.campaign_new, name="campaign_new"),
    path("referrals/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("referrals/<int:pk>/edit/", views.campaign_edit, name="campaign_edit"),
    path("referrals/<int:pk>/status/", views.campaign_status, name="campaign_status"),
    path("referrals/<int:pk>/enrol/", views.campaign_enrol_segment, name="campaign_enrol_segment"),
    path("referrals/<int:pk>/leaderboard.csv", views.leaderboard_csv, name="leaderboard_csv"),
    path("customers/<int:pk>/referrals/enrol/", views.customer_enrol, name="customer_enrol"),
    path("r/<str:signed>/", views.poster, name="poster"),
    path("api/v1/referrals/campaigns/", api.CampaignList.as_view(), name="api_campaigns"),
    path(
        "api/v1/referrals/campaigns/<int:pk>/participants/",
        api.ParticipantEnrol.as_view(),
        name="api_enrol",
    ),
    path("api/v1/referrals/participants/<int:pk>/", api.ParticipantProgress.as_view(), name="api_participant"),
]
