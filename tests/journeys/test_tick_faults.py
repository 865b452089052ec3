"""A tick process SIGKILLed mid-run, then run again: every due step ran exactly once.

The tick runs in a real child process on the test database (small rounds, so the kill lands between
and inside them); the parent kills it with SIGKILL as soon as the first rounds are committed, checks
that nothing half-done was committed (a StepRun is committed only with its action and its move), then
ticks again and checks every enrollment ran each step once, with one to-do and one tag each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from contacts.access import actor_for_user
from contacts.models import CustomerTag
from journeys import services
from journeys.engine import journeys_tick
from journeys.models import Enrollment, StepKind, StepRun, TriggerKind
from journeys.services import StepSpec
from tests.campaigns.factories import reachable_customers
from tests.factories import StaffFactory, TagFactory
from todos.models import Todo

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parents[2]
N = 1200
CHILD = "import django; django.setup()\nfrom journeys.engine import journeys_tick\njourneys_tick(batch=100)\n"


def _child_env() -> dict[str, str]:
    db = connection.settings_dict
    env = os.environ.copy()
    env["DATABASE_URL"] = (
        f"postgres://{db.get('USER') or 'postgres'}:{quote(db.get('PASSWORD') or '')}@{db.get('HOST') or ''}"
        f"{':' + str(db['PORT']) if db.get('PORT') else ''}/{db['NAME']}"
    )
    env["REDIS_URL"] = settings.REDIS_URL
    env["DJANGO_SETTINGS_MODULE"] = "scrm.settings_test"
    return env


def test_a_tick_killed_mid_run_then_rerun_runs_every_due_step_exactly_once(transactional_db, world):
    org = world.org
    staff = [StaffFactory(organization=org, store=world.store_a) for _ in range(3)]
    customers = reachable_customers(org, N, staff=staff, store=world.store_a)
    tag = TagFactory(group__organization=org)
    actor = actor_for_user(world.operator.user)
    journey = services.journey_create(actor=actor, name="故障", trigger=TriggerKind.MANUAL)
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.TASK, text="您好"))
    services.step_add(actor=actor, journey=journey, spec=StepSpec(kind=StepKind.TAG, tag_id=tag.pk))
    now = timezone.now()
    services.journey_set_status(actor=actor, journey=journey, status="active", now=now)
    services.journey_enrol_manual(actor=actor, journey=journey, customer_ids=[c.pk for c in customers], now=now)

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=BASE_DIR, env=_child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    committed = 0
    while time.monotonic() < deadline and child.poll() is None:
        committed = StepRun.objects.filter(step__journey=journey).count()
        if committed >= 200:
            break
        time.sleep(0.01)
    assert child.poll() is None, child.stderr.read().decode()[-2000:] if child.stderr else "child ended early"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    time.sleep(0.5)  # the server notices the dead connection and rolls its transaction back
    at_kill = StepRun.objects.filter(step__journey=journey).count()
    assert 200 <= at_kill < 2 * N, at_kill  # killed part-way
    # Nothing half-done was committed: every committed run has its outcome and its to-do / tag.
    assert not StepRun.objects.filter(outcome="claimed").exists()
    task_runs = StepRun.objects.filter(step__kind=StepKind.TASK, step__journey=journey).count()
    assert Todo.objects.filter(organization=org).count() == task_runs

    journeys_tick(now=timezone.now())  # the restart

    runs = list(StepRun.objects.filter(step__journey=journey).values_list("enrollment_id", "step__position"))
    assert len(runs) == 2 * N and len(set(runs)) == 2 * N
    assert set(Enrollment.objects.filter(journey=journey).values_list("state", flat=True)) == {"done"}
    assert Todo.objects.filter(organization=org).count() == N
    assert Todo.objects.values("customer_id").distinct().count() == N
    assert CustomerTag.objects.filter(tag=tag).count() == N
