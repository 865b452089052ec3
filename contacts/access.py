"""Who may see what: the one place where organization and store scoping is applied.

Every request (page or API) gets an :class:`Actor`. Views never filter by organization or store
themselves: they call ``actor.scope(Model.objects…)`` (pages through :class:`ConsoleMixin`/
:func:`console_view`, the API through :class:`ScopedQuerysetMixin`). Each model declares its scope
paths (``SCOPE_ORG``/``SCOPE_STORE``, see ``contacts.models``), so adding a model adds no view-side filter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from contacts.models import Organization, Role, Staff

if TYPE_CHECKING:
    # Only for the annotation: importing rest_framework.views reads DEFAULT_PERMISSION_CLASSES, which
    # names HasActor in this module.
    from rest_framework.views import APIView

M = TypeVar("M", bound=Model)
P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)

ALL_ROLES = frozenset(Role)
OPERATOR_ONLY = frozenset({Role.OPERATOR})
OPERATOR_AND_MANAGER = frozenset({Role.OPERATOR, Role.MANAGER})


@dataclass(frozen=True)
class Actor:
    """The signed-in staff member, their organization, role and store scope.

    ``store_ids`` is ``None`` when the actor reads every store of the organization (operators only);
    a manager or store staff member with no store has an empty set and sees nothing.
    """

    user_id: int
    organization: Organization
    staff: Staff
    role: Role
    store_ids: frozenset[int] | None

    @property
    def organization_id(self) -> int:
        return self.organization.pk

    @property
    def is_operator(self) -> bool:
        return self.role == Role.OPERATOR

    @property
    def is_store_staff(self) -> bool:
        return self.role == Role.STORE_STAFF

    @property
    def sees_full_phone(self) -> bool:
        # Store staff see masked numbers only.
        return self.role != Role.STORE_STAFF

    def scope(self, queryset: QuerySet[M]) -> QuerySet[M]:
        """Limit a queryset to this actor's organization and, where it applies, stores."""
        return scope_queryset(queryset, organization_id=self.organization_id, store_ids=self.store_ids)

    def can_access_store(self, store_id: int | None) -> bool:
        return store_in_scope(self.store_ids, store_id)

    def require_role(self, roles: Iterable[Role]) -> None:
        if self.role not in set(roles):
            raise PermissionDenied("你的角色无权执行此操作")


def scope_queryset(queryset: QuerySet[M], *, organization_id: int, store_ids: frozenset[int] | None) -> QuerySet[M]:
    """:meth:`Actor.scope` for code that holds the actor's scope but not the actor (an import worker).

    ``store_ids`` is the actor's: ``None`` for every store, an empty set for none.
    """
    model = queryset.model
    org_path = getattr(model, "SCOPE_ORG", None)
    if org_path is None:
        raise TypeError(f"{model.__name__} declares no SCOPE_ORG; it cannot be read through the console.")
    queryset = queryset.filter(**{org_path: organization_id})
    store_path = getattr(model, "SCOPE_STORE", None)
    if store_ids is not None and store_path is not None:
        queryset = queryset.filter(**{f"{store_path}__in": store_ids})
    return queryset


def store_in_scope(store_ids: frozenset[int] | None, store_id: int | None) -> bool:
    """Whether a row of ``store_id`` is inside the scope ``store_ids`` (as :func:`scope_queryset` filters:
    a row with no store is outside every store-limited scope)."""
    if store_ids is None:
        return True
    return store_id is not None and store_id in store_ids


def role_of(user: Any) -> Role | None:
    if user.is_superuser:
        return Role.OPERATOR
    names = {g.name for g in user.groups.all()}
    for role in (Role.OPERATOR, Role.MANAGER, Role.STORE_STAFF):
        if role.value in names:
            return role
    return None


def actor_for_user(user: Any) -> Actor | None:
    """Build the actor for an authenticated user, or ``None`` (no staff profile or no role)."""
    if not user or not user.is_authenticated or not user.is_active:
        return None
    staff = Staff.objects.select_related("organization", "store").filter(user=user, is_active=True).first()
    if staff is None:
        return None
    role = role_of(user)
    if role is None:
        return None
    store_ids: frozenset[int] | None
    if role == Role.OPERATOR:
        store_ids = None
    elif role == Role.MANAGER:
        managed = set(staff.managed_stores.values_list("id", flat=True))
        if staff.store_id:
            managed.add(staff.store_id)
        # No own and no managed store: an empty scope (nothing until given a store), never "all".
        store_ids = frozenset(managed)
    else:
        store_ids = frozenset({staff.store_id}) if staff.store_id else frozenset()
    return Actor(user_id=user.pk, organization=staff.organization, staff=staff, role=role, store_ids=store_ids)


class ActorHttpRequest(HttpRequest):
    """Typing only, never instantiated: what :class:`ActorMiddleware` adds to every page request."""

    actor: Callable[[], Actor | None]
    _actor_cache: Actor | None


class AuthenticatedHttpRequest(ActorHttpRequest):
    """A page request that passed :func:`console_view`: ``actor_obj`` is the signed-in, role-checked actor.

    Typing only: at run time the object is Django's own request with the attribute set. A view
    decorated with :func:`console_view` takes it as its first parameter and needs no cast::

        @console_view(OPERATOR_ONLY)
        def store_list(request: AuthenticatedHttpRequest) -> HttpResponse:
            stores = request.actor_obj.scope(Store.objects.all())

    A helper the view calls takes the same type. DRF views use :class:`AuthenticatedRequest`.
    """

    actor_obj: Actor


class AuthenticatedRequest(Request):
    """The DRF request after :class:`HasActor` (every API view by default): ``actor_obj`` is the actor.

    Typing only, like :class:`AuthenticatedHttpRequest`. A handler annotates its parameter::

        class StoreList(APIView):
            allowed_roles = OPERATOR_ONLY

            def get(self, request: AuthenticatedRequest) -> Response:
                stores = request.actor_obj.scope(Store.objects.all())

    A generic view whose handler the stubs already declare with ``Request`` (``ListAPIView.get``)
    cannot narrow the parameter; it reads the actor once in a base, as ``ContactsAPIView.actor`` does.
    """

    actor_obj: Actor


def get_actor(request: HttpRequest) -> Actor | None:
    cached = cast("ActorHttpRequest", request)
    if not hasattr(cached, "_actor_cache"):
        cached._actor_cache = actor_for_user(getattr(request, "user", None))
    return cached._actor_cache


class ActorMiddleware:
    """Makes ``request.actor`` available (lazily) to pages and templates."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        cast("ActorHttpRequest", request).actor = functools.partial(get_actor, request)
        return self.get_response(request)


def require_actor(request: HttpRequest, roles: Iterable[Role] = ALL_ROLES) -> Actor:
    actor = get_actor(request)
    if actor is None:
        raise PermissionDenied("此账号未关联员工档案或角色，请联系管理员")
    actor.require_role(roles)
    return actor


def console_view(
    roles: Iterable[Role] = ALL_ROLES,
) -> Callable[
    [Callable[Concatenate[AuthenticatedHttpRequest, P], R]],
    Callable[Concatenate[HttpRequest, P], R | HttpResponseRedirect],
]:
    """Decorator for function views: login required, actor resolved, role checked.

    The view receives an :class:`AuthenticatedHttpRequest`: the actor is ``request.actor_obj``.
    """
    allowed = frozenset(roles)

    def decorator(
        view: Callable[Concatenate[AuthenticatedHttpRequest, P], R],
    ) -> Callable[Concatenate[HttpRequest, P], R | HttpResponseRedirect]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> R | HttpResponseRedirect:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            authenticated = cast("AuthenticatedHttpRequest", request)
            authenticated.actor_obj = require_actor(request, allowed)
            return view(authenticated, *args, **kwargs)

        return wrapped

    return decorator


class ConsoleMixin(LoginRequiredMixin):
    """Class-based page views: login required, ``self.actor`` resolved, ``allowed_roles`` checked."""

    allowed_roles: frozenset[Role] = ALL_ROLES
    actor: Actor

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.actor = require_actor(request, self.allowed_roles)
        return super().dispatch(request, *args, **kwargs)


class HasActor(BasePermission):
    """Default DRF permission: authenticated, with a staff profile and an allowed role.

    A view narrows roles with ``allowed_roles``; the view's handlers receive an
    :class:`AuthenticatedRequest` (``request.actor_obj``).
    """

    message = "此账号未关联员工档案或无权访问"

    def has_permission(self, request: Request, view: APIView) -> bool:
        actor = actor_for_user(request.user)
        if actor is None:
            return False
        allowed = getattr(view, "allowed_roles", ALL_ROLES)
        write_roles = getattr(view, "write_roles", None)
        if write_roles is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
            allowed = write_roles
        if actor.role not in allowed:
            return False
        cast("AuthenticatedRequest", request).actor_obj = actor
        return True


class ScopedQuerysetMixin:
    """DRF views: ``get_queryset`` is the model's queryset scoped to the actor."""

    request: Any  # the view's own (APIView declares Request, django's View HttpRequest: a mixin can name neither)
    base_queryset: QuerySet[Any]

    def get_queryset(self) -> QuerySet[Any]:
        # HasActor ran before any handler, so the request carries the actor.
        return cast("AuthenticatedRequest", self.request).actor_obj.scope(self.base_queryset.all())
