"""Every route, as a user of another organization: nothing of the demo brand is ever shown.

And every route as a store clerk of the demo brand: nothing of the other stores' customers is shown.
Both runs record what they tried (probes, leaks, 5xx) in ``bench/results/isolation.json``, which
``python -m bench.report_reliability`` puts in the README.

The demo brand is loaded into one organization; an operator of a second organization then requests every
GET route of the site (parameterless ones as they are, ``<int:…>`` ones with the ids of the demo brand's rows of
every scoped model). No response may carry the demo brand's store names, its organization name or its
customers' names. New routes are covered automatically.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from contacts.models import Customer, Organization, Role, Store
from tests.factories import OrganizationFactory, StaffFactory, StoreFactory, UserFactory

# Routes that are public by design (webhooks, lead forms, health, auth) or not ours (admin, static, i18n).
SKIP_PREFIXES = ("admin/", "hooks/", "f/", "healthz", "login/", "logout/", "i18n/", "static/", "media/", "sandbox/")
RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "isolation.json"
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


def _probe(client: Client, markers: list[str], ids: list[int]) -> tuple[int, list[str], list[str]]:
    """Every GET route (``<int:…>`` ones with each of ``ids``): (requests made, leaks, server errors)."""
    checked = 0
    leaks, errors = [], []
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
                errors.append(f"/{path}: {response.status_code}")
                continue
            body = b"".join(response.streaming_content) if response.streaming else response.content
            leaked = _leaks(body.decode("utf-8", errors="replace"), markers)
            if leaked:
                leaks.append(f"/{path}: shows {leaked[:3]}")
    return checked, leaks, errors


def _record(run: str, *, checked: int, leaks: list[str], errors: list[str], markers: int, seconds: float) -> None:
    """This run's figures into bench/results/isolation.json (the other run's kept)."""
    try:
        data = json.loads(RESULTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    runs = data.get("runs") if isinstance(data.get("runs"), dict) else {}
    runs[run] = {
        "probes": checked,
        "leaks": len(leaks),
        "server_errors": len(errors),
        "markers": markers,
        "seconds": round(seconds, 1),
        "test": f"tests/scrm/test_route_isolation.py ({run})",
    }
    data = {"routes": len(_routes()), "runs": runs}
    data["probes"] = sum(r["probes"] for r in runs.values())
    data["leaks"] = sum(r["leaks"] for r in runs.values())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@pytest.mark.django_db
def test_no_route_shows_another_organizations_data(demo_and_outsider) -> None:  # type: ignore[no-untyped-def]
    client, markers, ids = demo_and_outsider
    started = time.monotonic()
    checked, leaks, errors = _probe(client, markers, ids)
    _record(
        "organization",
        checked=checked,
        leaks=leaks,
        errors=errors,
        markers=len(markers),
        seconds=time.monotonic() - started,
    )
    assert checked >= 100, checked  # every route, with every scoped model's ids
    assert not errors and not leaks, "\n".join((errors + leaks)[:30])


@pytest.mark.django_db
def test_no_route_shows_a_store_clerk_another_stores_customers(db) -> None:  # type: ignore[no-untyped-def]
    call_command("demo_load", customers=300, seed=7, verbosity=0)
    demo = Organization.objects.get(slug="demo")
    store = Store.objects.filter(organization=demo).order_by("code").first()
    assert store is not None
    clerk = StaffFactory(
        organization=demo, store=store, user=UserFactory(username="probe-clerk", role=Role.STORE_STAFF)
    )
    client = Client()
    client.force_login(clerk.user)
    mine = set(Customer.objects.filter(organization=demo, home_store=store).values_list("name", flat=True))
    others = [
        c.name
        for c in Customer.objects.filter(organization=demo).exclude(home_store=store).order_by("pk")
        if len(c.name) >= 3 and c.name not in mine
    ]
    # A name that two customers share is no proof of anything: only names held once in the brand.
    names = Customer.objects.filter(organization=demo, name__in=others).values_list("name", flat=True)
    once = sorted({n for n in others if list(names).count(n) == 1})
    markers = random.Random(2).sample(once, k=min(40, len(once)))
    ids: set[int] = set()
    for model in apps.get_models():
        store_path = getattr(model, "SCOPE_STORE", None)
        org_path = getattr(model, "SCOPE_ORG", None)
        if store_path and org_path and model._meta.app_label in {"contacts", "channels", "campaigns", "analytics"}:
            rows = model.objects.filter(**{org_path: demo.pk}).exclude(**{store_path: store.pk})
            ids.update(rows.order_by("pk").values_list("pk", flat=True)[:1])
    # Every ``<int:…>`` route is asked for each id: a sample keeps the run within seconds.
    sample = random.Random(3).sample(sorted(ids), k=min(3, len(ids)))
    started = time.monotonic()
    checked, leaks, errors = _probe(client, markers, sorted(sample))
    _record(
        "store", checked=checked, leaks=leaks, errors=errors, markers=len(markers), seconds=time.monotonic() - started
    )
    assert checked >= 100 and len(markers) >= 10, (checked, len(markers))
    assert not errors and not leaks, "\n".join((errors + leaks)[:30])
