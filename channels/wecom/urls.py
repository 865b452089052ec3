"""Routes of WeCom's pages (namespace ``channels``, appended by ``channels/urls.py``)."""

from django.urls import URLPattern, path

from channels.wecom import acquisition_views, group_welcome_views, login, views

urlpatterns: list[URLPattern] = [
    path("channels/accounts/connect/", views.account_connect, name="account_connect"),
    path("channels/accounts/<int:pk>/edit/", views.account_connect, name="account_edit"),
    path("channels/qrcodes/", views.contactway_list, name="contactway_list"),
    path("channels/qrcodes/new/", views.contactway_edit, name="contactway_new"),
    path("channels/qrcodes/<int:pk>/", views.contactway_edit, name="contactway_edit"),
    path("channels/qrcodes/<int:pk>/action/", views.contactway_action, name="contactway_action"),
    path("channels/qrcodes/<int:pk>/qr.png", views.contactway_qr, name="contactway_qr"),
    path("channels/qrcodes/<int:pk>/print/", views.contactway_print, name="contactway_print"),
    path("channels/qrcodes/links/", acquisition_views.acquisition_list, name="acquisition_list"),
    path("channels/qrcodes/links/new/", acquisition_views.acquisition_edit, name="acquisition_new"),
    path("channels/qrcodes/links/<int:pk>/", acquisition_views.acquisition_edit, name="acquisition_edit"),
    path("channels/qrcodes/links/<int:pk>/action/", acquisition_views.acquisition_action, name="acquisition_action"),
    path("channels/group-welcome/", group_welcome_views.group_welcome_list, name="group_welcome_list"),
    path("channels/group-welcome/new/", group_welcome_views.group_welcome_edit, name="group_welcome_new"),
    path("channels/group-welcome/<int:pk>/", group_welcome_views.group_welcome_edit, name="group_welcome_edit"),
    path(
        "channels/group-welcome/<int:pk>/delete/", group_welcome_views.group_welcome_remove, name="group_welcome_remove"
    ),
    path("channels/transfers/", views.transfer_list, name="transfer_list"),
    path("channels/transfers/<int:pk>/refresh/", views.transfer_refresh, name="transfer_refresh"),
    path("channels/wecom/follows/<int:pk>/remark/", views.follow_remark, name="wecom_follow_remark"),
    path("channels/wecom/jssdk/", login.wecom_jssdk, name="wecom_jssdk"),
    path("channels/wecom/<str:key>/login/", login.wecom_login, name="wecom_login"),
    path("channels/wecom/<str:key>/login/done/", login.wecom_login_done, name="wecom_login_done"),
]
