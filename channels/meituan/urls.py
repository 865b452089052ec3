"""Routes of Meituan's pages (namespace ``channels``, appended by ``channels/urls.py``)."""

from django.urls import URLPattern, path

from channels.meituan import views

urlpatterns: list[URLPattern] = [
    path("channels/meituan/redeem/", views.redeem, name="meituan_redeem"),
]
