"""Issue 14: schemathesis against the project's own OpenAPI schema, in-process through the WSGI app.

Every operation in the generated schema (no list kept here: endpoints added later are covered by the
next run) is fuzzed with schema-conforming and schema-violating data and checked with every check
schemathesis has (server errors, documented status codes and content types, response schemas,
negative data rejected, positive data accepted, ignored auth, ...). A fixed seed, a bounded number of
examples per operation and a total time budget keep the run the same each time and inside ~4 minutes.

It runs twice: as an operator of a small loaded organization (path ids drawn from that organization's
own objects as well as random ones, so the cases reach real code) and unauthenticated. Each case runs
in a savepoint rolled back afterwards, so every case starts from the same data. The figures are
printed and written to ``bench/results/schemathesis.json``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.openapi.checks import RejectedPositiveData

from scrm.wsgi import application
from tests.analytics.factories import generate
from tests.factories import TagFactory, TagGroupFactory

pytestmark = pytest.mark.django_db

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "schemathesis.json"
SCHEMA_PATH = "/api/v1/schema/"
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 6}  # per operation, per mode, per run
UNAUTHENTICATED_EXAMPLES = 2
SEED = 14
# Both runs together (about a minute on an idle 2-core machine); the test fails rather than test less.
BUDGET_SECONDS = float(os.environ.get("SCHEMATHESIS_BUDGET_SECONDS", "220"))
ID_PARAM = re.compile(r"\{(\w+)\}")


@dataclass
class Figures:
    operations: int = 0
    cases: int = 0
    server_errors: int = 0
    failure_count: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    no_negative: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    not_run: list[str] = field(default_factory=list)
    rule_refusals: dict[str, dict[str, Any]] = field(default_factory=dict)  # operation: count, an example


@contextmanager
def keeping_connection() -> Iterator[None]:
    """The raw WSGI app closes the database connection when a request ends; the test's transaction
    lives on that connection, so keep it open (as Django's own test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def all_checks() -> list[Any]:
    load_all_checks()
    return list(CHECKS.get_all())


def load_schema(token: str | None = None) -> Any:
    """The schema as the app serves it; with ``token``, schemathesis sends it as the ``tokenAuth``
    credentials the schema declares (so ``ignored_auth`` can probe without it)."""
    options: dict[str, Any] = {"seed": SEED}
    if token:
        options["auth"] = {"openapi": {"tokenAuth": {"api_key": f"Token {token}"}}}
    with keeping_connection():
        return schemathesis.openapi.from_wsgi(SCHEMA_PATH, application, config=schemathesis.Config.from_dict(options))


def real_path_values(schema: Any, client: Client) -> dict[str, dict[str, Any]]:
    """For each templated path, values of its parameters taken from the loaded organization: the first
    item the collection (the path up to the parameter) lists for the operator."""
    values: dict[str, dict[str, Any]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        names = ID_PARAM.findall(operation.path)
        if not names:
            continue
        found: dict[str, Any] = {}
        prefix = operation.path
        for name in names:
            collection = prefix.split("{" + name + "}", 1)[0]
            collection = collection.format(**found) if found else collection
            response = client.get(collection)
            if response.status_code != 200 or "json" not in response.get("Content-Type", ""):
                break
            body = response.json()
            items = body.get("results", body) if isinstance(body, dict) else body
            if not isinstance(items, list) or not items or not isinstance(items[0], dict):
                break
            key = next((k for k in (name, "id", "pk", "code", "key") if k in items[0]), None)
            if key is None:
                break
            found[name] = items[0][key]
        if len(found) == len(names):
            values[operation.path] = found
    return values


def rule_refusal(error: BaseException, response: Any) -> str | None:
    """The one answer to schema-valid data that is not a failure: a 400 that names the refused field and
    why, for a rule no JSON schema can state — a referenced tag, group or customer that does not exist
    in the caller's organization, "one of these two fields", a range whose ends are reversed. Anything
    else (another status, a bare or HTML 400, any other check failing alongside) is a failure."""
    failures = error.exceptions if isinstance(error, BaseExceptionGroup) else (error,)
    if response is None or response.status_code != 400 or not failures:
        return None
    if not all(isinstance(failure, RejectedPositiveData) for failure in failures):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    named = isinstance(body, dict) and any(
        key != "detail" or (isinstance(value, str) and not value.isascii()) for key, value in body.items() if value
    )
    return json.dumps(body, ensure_ascii=False)[:200] if named else None


def has_inputs(operation: Any) -> bool:
    return any(
        len(group) for group in (operation.path_parameters, operation.query, operation.headers, operation.cookies)
    ) or bool(operation.definition.raw.get("requestBody"))


def run_operation(
    operation: Any,
    *,
    mode: GenerationMode,
    examples: int,
    real: dict[str, Any] | None,
    checks: list[Any],
    figures: Figures,
) -> None:
    strategies = [operation.as_strategy(generation_mode=mode)]
    if real:
        strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=real))
    failures: list[str] = []
    started = time.monotonic()

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is reported as found
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=st.one_of(strategies))
    def run(case: Any) -> None:
        figures.cases += 1
        with transaction.atomic(), keeping_connection():
            response = None
            try:
                response = case.call()
                if response.status_code >= 500:
                    figures.server_errors += 1
                case.validate_response(response, checks=checks)
            except (Exception, BaseExceptionGroup) as error:
                reason = rule_refusal(error, response)
                if reason is not None:
                    seen = figures.rule_refusals.setdefault(operation.label, {"cases": 0, "example": reason})
                    seen["cases"] += 1
                else:
                    figures.failure_count += 1
                    failures.append(f"{operation.label} [{mode.value}]: {type(error).__name__}: {str(error)[:2500]}")
            finally:
                transaction.set_rollback(True)

    try:
        run()
    except Unsatisfiable:  # nothing in this operation can be made invalid (no parameters, no body)
        figures.no_negative.append(operation.label)
    figures.timings[operation.label] = figures.timings.get(operation.label, 0.0) + time.monotonic() - started
    figures.failures.extend(failures[:3])  # the same defect repeats; keep a few per operation and mode


def fuzz(schema: Any, *, real: dict[str, dict[str, Any]], examples: dict[GenerationMode, int],
         deadline: float) -> Figures:
    figures = Figures()
    checks = all_checks()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if time.monotonic() > deadline:
            figures.not_run.append(operation.label)  # reported and failed below, never silently skipped
            continue
        figures.operations += 1
        for mode, count in examples.items():
            if mode == GenerationMode.NEGATIVE and not has_inputs(operation):
                figures.no_negative.append(operation.label)  # nothing the client sends can be made invalid
                continue
            run_operation(
                operation, mode=mode, examples=count, real=real.get(operation.path), checks=checks,
                figures=figures,
            )
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


@pytest.fixture
def loaded_org(world):
    groups = [TagGroupFactory(organization=world.org, name=f"组{i}") for i in range(2)]
    for group in groups:
        for i in range(3):
            TagFactory(group=group, name=f"{group.name}标签{i}")
    generate(org=world.org, stores=[world.store_a, world.store_b], staff=[world.operator], customers=12)
    return world


def test_schemathesis_all_operations_all_checks(loaded_org, capsys) -> None:
    deadline = time.monotonic() + BUDGET_SECONDS
    token = Token.objects.create(user=loaded_org.operator.user)
    schema = load_schema(token.key)
    operator = Client()
    operator.force_login(loaded_org.operator.user)
    real = real_path_values(schema, operator)

    authenticated = fuzz(schema, real=real, examples=EXAMPLES, deadline=deadline)
    anonymous = fuzz(
        load_schema(), real=real, examples={GenerationMode.POSITIVE: UNAUTHENTICATED_EXAMPLES}, deadline=deadline
    )

    report = {
        "schemathesis": schemathesis.__version__,
        "checks": [check.__name__ for check in all_checks()],
        "modes": [mode.value for mode in EXAMPLES],
        "examples_per_operation": {mode.value: count for mode, count in EXAMPLES.items()},
        "operations": authenticated.operations,
        "operations_with_real_ids": len(real),
        "runs": {
            name: {
                "cases": figures.cases,
                "server_errors": figures.server_errors,
                "failures": figures.failure_count,
                "seconds": figures.seconds,
                "operations_without_negative_cases": len(figures.no_negative),
                "operations_not_run_out_of_time": len(figures.not_run),
                "valid_requests_refused_by_rules_the_schema_cannot_state": figures.rule_refusals,
            }
            for name, figures in (("operator", authenticated), ("unauthenticated", anonymous))
        },
    }
    report["cases"] = authenticated.cases + anonymous.cases
    report["failures"] = authenticated.failure_count + anonymous.failure_count
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    with capsys.disabled():
        print("\nschemathesis:", json.dumps(report, ensure_ascii=False))
        slowest = sorted(authenticated.timings.items(), key=lambda item: -item[1])[:8]
        print("slowest operations:", ", ".join(f"{label} {seconds:.1f}s" for label, seconds in slowest))
    not_run = authenticated.not_run + anonymous.not_run
    failures = authenticated.failures + anonymous.failures
    late = f"time budget of {BUDGET_SECONDS}s spent before these operations ran: {not_run}\n\n" if not_run else ""
    assert not failures and not not_run, late + f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
