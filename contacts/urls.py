from django.urls import include, path

app_name = "contacts"
urlpatterns: list = [
    path("api/v1/", include("contacts.api_urls")),
]
