"""The console's error pages (400, 403, 404, 500): styled, in the console frame, Chinese first.

Django's defaults are bare English pages; a store staff member who opens another store's customer
gets a 404 and must see, on a phone, what happened and where to go next. Under ``/api/`` the same
refusals are JSON (``{"detail": ...}``, the body the OpenAPI schema documents), never an HTML page:
a path the API does not route, or a request Django itself refuses before DRF sees it.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _json(status: int, message: str) -> HttpResponse:
    return JsonResponse({"detail": message}, status=status, json_dumps_params={"ensure_ascii": False})


def _page(request: HttpRequest, status: int, *, title: str, message: str, hint: str) -> HttpResponse:
    if _is_api(request):
        return _json(status, message)
    context = {"status": status, "title": title, "message": message, "hint": hint}
    return render(request, f"{status}.html", context, status=status)


def _reason(exception: Exception | None) -> str:
    """The message the code raised with, when it wrote one for people (Chinese); never Django's own
    English internals (e.g. "No Customer matches the given query." from get_object_or_404)."""
    text = str(exception.args[0]) if exception is not None and exception.args else ""
    return text if text and not text.isascii() else ""


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(
        request,
        400,
        title=_("请求有误"),
        message=_reason(exception) or _("请求无法处理：内容不完整或格式有误。"),
        hint=_("请返回上一页重新提交；多次出现请联系品牌管理员。"),
    )


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(
        request,
        403,
        title=_("无权访问"),
        message=_reason(exception) or _("你没有权限访问此页面"),
        hint=_("如需开通权限，请联系品牌的运营管理员。"),
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(
        request,
        404,
        title=_("页面不存在"),
        message=_reason(exception) or _("你要找的页面不存在，或已被删除。"),
        hint=_("请检查链接是否完整；客户只在你可查看的门店范围内打开。"),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """A self-contained page: no database, no session, no context processors (they may be what failed)."""
    if _is_api(request):
        return _json(500, _("服务暂时出错，请稍后重试。"))
    try:
        return HttpResponseServerError(loader.get_template("500.html").render({}))
    except Exception:  # the template itself failed: a plain answer still says what to do
        log.exception("the 500 page could not be rendered")
        return HttpResponseServerError(_("服务暂时出错，请稍后刷新重试。"), content_type="text/plain; charset=utf-8")
