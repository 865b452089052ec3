"""Accounts hardening: the login lockout page, API tokens that expire, and token revocation when a
password changes.

* Login throttling is django-axes (settings ``AXES_*``); :func:`lockout_response` renders the login
  page with a message that says why, until when, and what to do.
* API tokens are issued on the settings page (``contacts.models.ApiToken``: the secret shown once,
  stored hashed, with an expiry, revocable) or, for DRF's ``authtoken`` tokens, in the admin or with
  ``manage.py drf_create_token``. :class:`ExpiringTokenAuthentication` accepts both and refuses a DRF
  token older than ``API_TOKEN_TTL_DAYS``; a password change deletes or revokes the user's tokens
  (:func:`connect_signals`), so a token issued before the last password change never authenticates again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Model, Q
from django.db.models.signals import post_save, pre_save
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from contacts import services as contact_services
from contacts.models import ApiToken, AuditAction, AuditEntry, Staff
from contacts.services.organization import API_TOKEN_PREFIX


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
    """``Authorization: Token <key>``: the console's API tokens (``contacts.models.ApiToken``, keys
    starting ``scrm_``: hashed, named, with their own expiry, revocable, last use recorded) and DRF's
    authtoken tokens (the admin and ``drf_create_token``), refused when older than ``API_TOKEN_TTL_DAYS``."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if key.startswith(API_TOKEN_PREFIX):
            return _api_token_user(key)
        user, token = super().authenticate_credentials(key)
        ttl = timedelta(days=settings.API_TOKEN_TTL_DAYS)
        if token.created < timezone.now() - ttl:
            message = _("API 令牌已过期（有效期 %(days)s 天）：请让管理员重新签发一个令牌。")
            raise AuthenticationFailed(message % {"days": settings.API_TOKEN_TTL_DAYS})
        return user, token


def _api_token_user(key: str) -> tuple[Any, ApiToken]:
    token = ApiToken.objects.select_related("staff__user").filter(key_hash=contact_services.api_token_hash(key)).first()
    if token is None:
        raise AuthenticationFailed(_("API 令牌无效：请检查是否完整复制，或让管理员重新签发。"))
    now = timezone.now()
    if token.revoked_at is not None:
        raise AuthenticationFailed(_("API 令牌已被吊销：请让管理员重新签发一个令牌。"))
    if token.expires_at <= now:
        raise AuthenticationFailed(_("API 令牌已过期：请让管理员重新签发一个令牌。"))
    user = token.staff.user
    if user is None or not user.is_active or not token.staff.is_active:
        raise AuthenticationFailed(_("该令牌所属员工的登录账号已停用：请联系管理员。"))
    # At most one write a minute per token: the last use is for people, not an access log.
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
    ).update(last_used_at=now)
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
        contact_services.api_tokens_revoke_for_user(user_id=instance.pk, reason="password_change")
        setattr(instance, _CHANGED, False)


def _audit_lockout(sender: Any, request: Any = None, username: str | None = None, **kwargs: Any) -> None:
    """django-axes locked ``username`` out: an audit entry for the brand the account belongs to (an
    unknown username belongs to no brand, so nothing is written)."""
    staff = (
        Staff.objects.filter(user__username=username or "").values("pk", "organization_id", "user_id").first()
        if username
        else None
    )
    if staff is None:
        return
    # One entry per lockout: axes signals again on every attempt while locked, and a brute-force run
    # must not flood the audit log. A lockout that began within the cool-off is the same lockout.
    if AuditEntry.objects.filter(
        organization_id=staff["organization_id"],
        action=AuditAction.LOGIN_LOCKOUT,
        target_type="staff",
        target_id=str(staff["pk"]),
        at__gte=timezone.now() - settings.AXES_COOLOFF_TIME,
    ).exists():
        return
    contact_services.audit_record(
        organization_id=staff["organization_id"],
        action=AuditAction.LOGIN_LOCKOUT,
        target_type="staff",
        target_id=staff["pk"],
        actor_user_id=staff["user_id"],
        details={"failures": settings.AXES_FAILURE_LIMIT},
    )


def login_records_purge(*, now: datetime | None = None) -> dict[str, int]:
    """django-axes keeps usernames, IP addresses and user agents (PIPL: personal information) — keep them
    no longer than they serve. Failed-attempt counters (``AccessAttempt``) go once their cool-off has
    passed (they lock nobody any more); the login and failure logs (``AccessLog``, ``AccessFailureLog``)
    after ``LOGIN_LOG_RETENTION_DAYS``. Run daily by beat (``scrm.auth.login_records_retention``)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.LOGIN_LOG_RETENTION_DAYS)
    return {
        "attempts": AccessAttempt.objects.filter(attempt_time__lt=now - settings.AXES_COOLOFF_TIME)
        .delete()[1]
        .get(AccessAttempt._meta.label, 0),
        "logins": AccessLog.objects.filter(attempt_time__lt=cutoff).delete()[0],
        "failures": AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()[0],
    }


def connect_signals() -> None:
    user_locked_out.connect(_audit_lockout, dispatch_uid="scrm.auth.audit_lockout")
    user_model = get_user_model()
    pre_save.connect(_note_password_change, sender=user_model, dispatch_uid="scrm.auth.note_password_change")
    post_save.connect(_revoke_tokens, sender=user_model, dispatch_uid="scrm.auth.revoke_tokens")
