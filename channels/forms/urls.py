"""Routes of the H5 lead forms (namespace ``channels``, appended by ``channels/urls.py``)."""

from django.urls import URLPattern, path

from channels.forms import views

urlpatterns: list[URLPattern] = [
    path("channels/forms/", views.leadform_list, name="leadform_list"),
    path("channels/forms/new/", views.leadform_edit, name="leadform_new"),
    path("channels/forms/<int:pk>/", views.leadform_edit, name="leadform_edit"),
    path("f/<slug:slug>/", views.form_public, name="form_public"),
]
