"""Every route, as a user of another organization: nothing of the demo brand is ever shown.

The demo brand is loaded into one organization; an operator of a second organization then requests every
GET route of the site (parameterless ones as they are, ``<int:…>`` ones with the ids of the demo brand's rows of
every scoped model). No response may carry the demo brand's store names, its organization name or its
customers' names. New routes are covered automatically.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from contacts.models import Customer, Organization, Role, Store
from tests.factories import OrganizationFactory, StaffFactory, StoreFactory, UserFactory

# Routes that are public by design (webhooks, lead forms, health, auth) or not ours (admin, static, i18n).
SKIP_PREFIXES = ("admin/", "hooks/", "f/", "healthz", "login/", "logout/", "i18n/", "static/", "media/", "sandbox/")
PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def _walk(patterns: list, prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def _routes() -> list[str]:
    routes = []
    for route in _walk(get_resolver().url_patterns):
        if route.startswith("^") or route.startswith(SKIP_PREFIXES):
            continue
        routes.append(route)
    return sorted(set(routes))


@pytest.fixture
def demo_and_outsider(db):  # type: ignore[no-untyped-def]
    call_command("demo_load", customers=300, seed=7, verbosity=0)
    demo = Organization.objects.get(slug="demo")
    rival = OrganizationFactory(slug="rival-co", name="另一家品牌")
    store = StoreFactory(organization=rival, code="R1", name="别家门店")
    outsider = StaffFactory(organization=rival, store=store, user=UserFactory(username="rival-op", role=Role.OPERATOR))
    client = Client()
    client.force_login(outsider.user)
    names = [c.name for c in Customer.objects.filter(organization=demo) if len(c.name) >= 3]
    markers = [demo.name, *Store.objects.filter(organization=demo).values_list("name", flat=True)]
    markers += random.Random(1).sample(names, k=min(40, len(names)))
    ids: set[int] = set()
    for model in apps.get_models():
        org_path = getattr(model, "SCOPE_ORG", None)
        if org_path and model._meta.app_label in {"contacts", "channels", "campaigns", "analytics"}:
            ids.update(model.objects.filter(**{org_path: demo.pk}).order_by("pk").values_list("pk", flat=True)[:2])
    return client, markers, sorted(ids)


def _leaks(body: str, markers: list[str]) -> list[str]:
    return [m for m in markers if m and m in body]


@pytest.mark.django_db
def test_no_route_shows_another_organizations_data(demo_and_outsider) -> None:  # type: ignore[no-untyped-def]
    client, markers, ids = demo_and_outsider
    checked = 0
    problems = []
    for route in _routes():
        params = PARAM.findall(route)
        if not params:
            paths = [route]
        elif len(params) == 1 and params[0][0] in ("int", ""):
            paths = [PARAM.sub(str(pk), route) for pk in ids]
        else:
            continue  # slug/str routes are public forms or sandbox paths, skipped above
        for path in paths:
            response = client.get("/" + path, follow=False)
            checked += 1
            if response.status_code >= 500:
                problems.append(f"/{path}: {response.status_code}")
                continue
            body = b"".join(response.streaming_content) if response.streaming else response.content
            leaked = _leaks(body.decode("utf-8", errors="replace"), markers)
            if leaked:
                problems.append(f"/{path}: shows {leaked[:3]}")
    assert checked >= 100, checked  # every route, with every scoped model's ids
    assert not problems, "\n".join(problems[:30])
