"""Accounts hardening: the login lockout page, API tokens that expire, and token revocation when a
password changes.

* Login throttling is django-axes (settings ``AXES_*``); :func:`lockout_response` renders the login
  page with a message that says why, until when, and what to do.
* API tokens are DRF's ``authtoken`` tokens (issued in the admin or with ``manage.py
  drf_create_token``). :class:`ExpiringTokenAuthentication` refuses one older than
  ``API_TOKEN_TTL_DAYS``; a password change deletes the user's tokens (:func:`connect_signals`), so
  a token issued before the last password change never authenticates again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Model
from django.db.models.signals import post_save, pre_save
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def lockout_ends_at(username: str) -> datetime:
    """When the lockout of ``username`` ends: its last failure plus the cool-off."""
    from axes.models import AccessAttempt

    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    last = (
        AccessAttempt.objects.filter(username=username).order_by("-attempt_time").values_list("attempt_time", flat=True)
    ).first()
    return (last or timezone.now()) + cool_off


def lockout_message(username: str) -> str:
    ends = timezone.localtime(lockout_ends_at(username))
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    today = timezone.localdate()
    when = ends.strftime("%H:%M") if ends.date() == today else ends.strftime("%Y-%m-%d %H:%M")
    return _(
        "密码连续输错 %(limit)s 次，账号已被暂时锁定。请在 %(when)s（北京时间）之后再试，"
        "锁定期间再次尝试会重新计时 %(minutes)s 分钟；忘记密码或需要提前解锁，请联系品牌管理员。"
    ) % {"limit": settings.AXES_FAILURE_LIMIT, "when": when, "minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """django-axes' ``AXES_LOCKOUT_CALLABLE``: the login page, with the lockout message, as 429."""
    username = str((credentials or {}).get("username") or request.POST.get("username") or "")
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "lockout_message": lockout_message(username), "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=429)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF token authentication that refuses a token older than ``API_TOKEN_TTL_DAYS``."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        ttl = timedelta(days=settings.API_TOKEN_TTL_DAYS)
        if token.created < timezone.now() - ttl:
            message = _("API 令牌已过期（有效期 %(days)s 天）：请让管理员重新签发一个令牌。")
            raise AuthenticationFailed(message % {"days": settings.API_TOKEN_TTL_DAYS})
        return user, token


_CHANGED = "_scrm_password_changed"


def _note_password_change(sender: type[Model], instance: Any, raw: bool = False, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if raw or instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    old = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    setattr(instance, _CHANGED, old is not None and old != instance.password)


def _revoke_tokens(sender: type[Model], instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if getattr(instance, _CHANGED, False):
        Token.objects.filter(user=instance).delete()
        setattr(instance, _CHANGED, False)


def connect_signals() -> None:
    user_model = get_user_model()
    pre_save.connect(_note_password_change, sender=user_model, dispatch_uid="scrm.auth.note_password_change")
    post_save.connect(_revoke_tokens, sender=user_model, dispatch_uid="scrm.auth.revoke_tokens")
