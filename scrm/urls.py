from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from scrm import home, views


def _superuser_only(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


# Django admin is for superusers (support); operators set the brand up on the console's settings pages,
# where every change is audited. A staff flag alone no longer opens the admin.
admin.site.has_permission = _superuser_only  # type: ignore[method-assign]

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: the CSP allows no inline script.
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("contacts.urls")),
    # campaigns first: its /reports/campaigns/ must win over analytics' /reports/<name>/.
    path("", include("campaigns.urls")),
    # offers before analytics too: /reports/coupons/.
    path("", include("offers.urls")),
    path("", include("analytics.urls")),
    path("", include("channels.urls")),
    path("", include("journeys.urls")),
    path("", include("referrals.urls")),
]

handler400 = "scrm.errors.bad_request"
handler403 = "scrm.errors.forbidden"
handler404 = "scrm.errors.not_found"
handler500 = "scrm.errors.server_error"
