"""Signing in from inside WeCom, and the JS-SDK signatures the staff sidebar asks for.

* ``/channels/wecom/<key>/login/?next=…`` — the address to set as the 聊天工具栏 page (or app home) in
  WeCom's admin: it sends the member through WeCom's silent 网页授权 and back to
  ``…/login/done/``, which turns the code into their ``userid`` and signs them in as their staff
  record (a first-time member gets a store-staff login). ``state`` is bound to the session.
* ``/channels/wecom/jssdk/?url=…`` — the ``wx.config`` and ``agentConfig`` signatures of a page of
  this site, for ``ww.register`` (``channels.wecom.jssdk``).
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from channels import selectors
from channels.errors import PlatformError, TransientError
from channels.models import ChannelAccount, ChannelPlatform
from channels.wecom import jssdk
from channels.wecom import services as wecom
from channels.wecom.client import WeComClient
from contacts import services as contacts
from contacts.access import ALL_ROLES, AuthenticatedHttpRequest, console_view
from contacts.models import Staff

log = logging.getLogger(__name__)
SESSION_KEY = "wecom_login"


def _account(key: str) -> ChannelAccount:
    account = ChannelAccount.objects.filter(platform=ChannelPlatform.WECOM, hook_key=key, is_active=True).first()
    if account is None:
        raise Http404(_("企业微信账号不存在或已停用"))
    return account


def _refuse(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "channels/wecom/login_error.html", {"message": message}, status=status)


@require_GET
def wecom_login(request: HttpRequest, key: str) -> HttpResponse:
    account = _account(key)
    next_url = request.GET.get("next") or reverse("contacts:sidebar")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("contacts:sidebar")
    state = secrets.token_urlsafe(16)
    request.session[SESSION_KEY] = {"state": state, "next": next_url, "account": account.pk}
    done = reverse("channels:wecom_login_done", args=[key])
    redirect_uri = request.build_absolute_uri(done)
    return redirect(jssdk.authorize_url(account=account, redirect_uri=redirect_uri, state=state))


@require_GET
def wecom_login_done(request: HttpRequest, key: str) -> HttpResponse:
    account = _account(key)
    pending = request.session.pop(SESSION_KEY, None) or {}
    state = request.GET.get("state") or ""
    if pending.get("account") != account.pk or not state or not constant_time_compare(state, pending.get("state", "")):
        return _refuse(request, _("登录链接已失效：请从企业微信里重新打开。"), 400)
    code = request.GET.get("code") or ""
    if not code:
        return _refuse(request, _("企业微信没有给出授权码：请从企业微信里重新打开。"), 400)
    client = WeComClient.for_account(account, max_wait=5.0)
    try:
        info = client.user_from_code(code)
    except TransientError:
        return _refuse(request, _("企业微信暂时无法访问，请稍后重试。"), 503)
    except PlatformError as exc:
        log.warning("wecom web login refused", extra={"account": account.pk, "code": exc.code})
        return _refuse(
            request, _("企业微信授权失败（错误码 %(code)s）：请从企业微信里重新打开。") % {"code": exc.code}, 400
        )
    userid = str(info.get("userid") or info.get("UserId") or "")
    if not userid:
        return _refuse(request, _("只有企业成员可以使用客户侧边栏。"), 403)
    staff = Staff.objects.filter(organization_id=account.organization_id, wecom_userid=userid).first()
    if staff is None:  # a member the sync has not met yet
        staff = wecom.staff_for(account, userid, client.user_get(userid).get("name") or userid)
    try:
        user = contacts.staff_login_user(staff=staff)
    except contacts.ContactsError as exc:
        return _refuse(request, str(exc), 403)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    next_url = str(pending.get("next") or "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("contacts:sidebar")
    return redirect(next_url)


@require_GET
@console_view(ALL_ROLES)
def wecom_jssdk(request: AuthenticatedHttpRequest) -> HttpResponse:
    actor = request.actor_obj
    url = request.GET.get("url") or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != request.get_host():
        return JsonResponse({"error": _("只能为本站页面签名")}, status=400)
    account = selectors.wecom_account_for(organization=actor.organization)
    if account is None:
        return JsonResponse({"error": _("还没有连接企业微信")}, status=404)
    try:
        return JsonResponse(jssdk.sign_page(account=account, url=url))
    except (PlatformError, TransientError) as exc:
        return JsonResponse({"error": _("获取企业微信 JS-SDK 票据失败：%(e)s") % {"e": exc}}, status=502)
