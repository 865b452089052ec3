"""The site the load benchmark serves: the real URLconf plus one bare Django view (the baseline).

``bench.load`` runs gunicorn with ``DJANGO_SETTINGS_MODULE=bench.load_settings``, which is the real
settings with this URLconf, so the bare view passes through the same middleware, session and
database connection handling as every console page — it only does no work of its own.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


@login_required
def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare),
    path("", include("scrm.urls")),
]

handler403 = "scrm.errors.forbidden"
handler404 = "scrm.errors.not_found"
handler500 = "scrm.errors.server_error"
