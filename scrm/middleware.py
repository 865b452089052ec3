"""Chinese first: the UI language is the one the user chose (language switch cookie), else zh-hans.

Django's LocaleMiddleware would follow the browser's Accept-Language, which shows store staff an English
console whenever their phone or laptop happens to be set to English. We only honour an explicit choice.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation


class ChosenLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


# Pages that show a person's data (and every API answer): a shared or back-button cache must never
# keep a copy, whatever the view set.
PERSONAL_PREFIXES = ("/api/", "/customers/", "/sidebar/", "/reports/", "/segments/", "/groups/", "/channels/")


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every page Django renders (static files are answered by
    WhiteNoise before this runs). A view may choose its own caching except under
    :data:`PERSONAL_PREFIXES`, where no-store always wins."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(PERSONAL_PREFIXES) or not response.has_header("Cache-Control"):
            response.headers["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0, private"
            response.headers["Pragma"] = "no-cache"
            response.headers["Expires"] = "0"
        return response
