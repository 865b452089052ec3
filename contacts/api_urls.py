"""REST API routes of the contacts app, mounted at /api/v1/ by contacts/urls.py."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
