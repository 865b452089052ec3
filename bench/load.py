"""Load: the busiest console pages and API lists under 50 users, against gunicorn on loopback.

The data is bench/datagen.py's brand (``--customers``, 1,000,000 by default) with
bench/datagen_orders.py's orders and the analytics rollups rebuilt over them, in a scratch database
of its own (``scrm_bench_load``). gunicorn serves the real application as ``make run`` starts it
(scrm/launcher.py ``gunicorn_command``: its config, access log included) plus one bare Django view
(bench/load_site.py) behind the same middleware — the baseline.

Each page is a phase: ``--users`` virtual users (threads, each its own logged-in session or API
token) request it, then think for ``--think`` seconds (uniform ±50 %), for ``--duration`` seconds
after a short unmeasured warm-up. Reported per page: p50/p95 latency, requests per second, errors,
and the rate as a share of the bare view's rate in the same run (bare is measured first and last).
Targets (issue 14): p95 ≤ 300 ms and ≥ 50 % of the bare view's rate, with no errors.

    python -m bench.load [--customers 100000] [--duration 30] [--users 50] [--think 1.0]

Writes bench/results/load.json and bench/results/load.md (the markdown table).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common

DB = "scrm_bench_load"
USERNAME = "bench-load"
PASSWORD = "bench-load-password-1"  # noqa: S105 - a scratch database's benchmark login
P95_TARGET_MS = 300
SHARE_TARGET = 0.5
META_KEY = "load:prepared"


@dataclass
class Page:
    name: str
    label: str
    method: str
    make: Any  # (rng) -> (path, json body or None)
    api: bool = False


@dataclass
class Fixture:
    customer_ids: list[int]
    names: list[str]
    tag_ids: list[int]
    store_ids: list[int]
    token: str


@dataclass
class PhaseResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        ok = self.latencies_ms
        return {
            "p50_ms": round(common.percentile(ok, 50), 1) if ok else None,
            "p95_ms": round(common.percentile(ok, 95), 1) if ok else None,
            "per_s": round(len(ok) / self.seconds, 2) if self.seconds else 0.0,
            "requests": len(ok) + self.errors,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


def _csrf(session: Any) -> str:
    """The session's CSRF token. A page can set the cookie again (e.g. after login rotates it); requests
    then holds two and ``cookies.get`` raises, so the newest one wins."""
    values = [c.value for c in session.cookies if c.name == "csrftoken"]
    return values[-1] if values else ""


def pages(fx: Fixture) -> list[Page]:
    def pick(seq: list[Any]) -> Any:
        return lambda rng: rng.choice(seq)

    customer, name, tag, store = pick(fx.customer_ids), pick(fx.names), pick(fx.tag_ids), pick(fx.store_ids)
    return [
        Page("bare", "bare Django view (baseline)", "GET", lambda rng: ("/bench/bare/", None)),
        Page("customer_list", "客户列表 /customers/", "GET", lambda rng: ("/customers/", None)),
        Page("customer_search", "客户搜索 /customers/?q=", "GET", lambda rng: (f"/customers/?q={name(rng)}", None)),
        Page(
            "customer_profile", "客户详情 /customers/<id>/", "GET", lambda rng: (f"/customers/{customer(rng)}/", None)
        ),
        Page(
            "segment_preview",
            "分群预览 /segments/preview/",
            "POST",
            lambda rng: (
                "/segments/preview/",
                {"expression": {"tags": {"any": [tag(rng), tag(rng)]}, "stores": [store(rng)]}},
            ),
        ),
        Page("reports_overview", "报表总览 /reports/", "GET", lambda rng: ("/reports/", None)),
        Page("api_customers", "API /api/v1/customers/", "GET", lambda rng: ("/api/v1/customers/", None), api=True),
        Page(
            "api_customers_tag",
            "API /api/v1/customers/?tag=",
            "GET",
            lambda rng: (f"/api/v1/customers/?tag={tag(rng)}", None),
            api=True,
        ),
        Page("api_orders", "API /api/v1/orders/", "GET", lambda rng: ("/api/v1/orders/", None), api=True),
        Page("api_tags", "API /api/v1/tags/", "GET", lambda rng: ("/api/v1/tags/", None), api=True),
    ]


# -- data ----------------------------------------------------------------------------------------


def prepare(*, customers: int, orders: int) -> Fixture:
    """The datagen brand with orders and rebuilt rollups, an operator login and an API token."""
    from bench import datagen_orders

    ds, _n = datagen_orders.generate(customers=customers, orders=orders)
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from analytics import services as analytics_services
    from contacts.models import ApiToken, Organization, Role, Staff
    from contacts.services import api_token_create

    wanted = {"customers": customers, "orders": orders}
    if common.get_meta(META_KEY) != wanted:
        started = time.perf_counter()
        analytics_services.analytics_rebuild(organization_id=ds.organization_id)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(f"load: rollups rebuilt in {time.perf_counter() - started:.1f}s", flush=True)
        common.set_meta(META_KEY, wanted)
    org = Organization.objects.get(pk=ds.organization_id)
    user, _ = User.objects.get_or_create(username=USERNAME)
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(Group.objects.get_or_create(name=Role.OPERATOR.value)[0])
    staff, _ = Staff.objects.update_or_create(user=user, defaults={"organization": org, "name": "压测运营"})
    ApiToken.objects.filter(staff=staff).delete()
    _token, secret = api_token_create(staff=staff, by=None, name="bench.load", days=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name FROM contacts_customer WHERE organization_id = %s ORDER BY random() LIMIT 500",
            [org.pk],
        )
        rows = cursor.fetchall()
    return Fixture(
        customer_ids=[r[0] for r in rows],
        names=sorted({r[1] for r in rows if r[1]})[:200],
        tag_ids=ds.tags_by_rank[:20],
        store_ids=ds.store_ids,
        token=secret,
    )


# -- server --------------------------------------------------------------------------------------


def start_server(*, port: int, workers: int, threads: int, log_path: Path) -> subprocess.Popen[bytes]:
    from scrm.launcher import gunicorn_command

    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.load_settings", LOG_LEVEL="WARNING", DEBUG="0")
    log = log_path.open("wb")
    process = subprocess.Popen(
        gunicorn_command(f"127.0.0.1:{port}", str(workers), str(threads)),
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    import requests

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log_path.read_text()[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/login/", timeout=3).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("gunicorn did not answer in 90 s")


def sessions_for(base: str, n: int) -> list[Any]:
    """``n`` logged-in browser sessions of the bench operator, each its own session row.

    Made the way ``Client.force_login`` does (a session with the user's auth hash) rather than
    through the login form: 50 password hashes (PBKDF2, ~1 s each on a busy core) would be most of
    a quick run and are not what is measured. One real form login checks the login path works.
    """
    import requests
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import _get_new_csrf_string

    form = requests.Session()
    form.get(f"{base}/login/", timeout=60)
    response = form.post(
        f"{base}/login/",
        data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": form.cookies["csrftoken"]},
        headers={"Referer": f"{base}/login/"},
        allow_redirects=False,
        timeout=60,
    )
    if response.status_code != 302:
        raise RuntimeError(f"login failed: {response.status_code}")
    user = User.objects.get(username=USERNAME)
    sessions = [form]
    for _ in range(n - 1):
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        session = requests.Session()
        session.cookies.set(settings.SESSION_COOKIE_NAME, store.session_key)
        session.cookies.set(settings.CSRF_COOKIE_NAME, _get_new_csrf_string())
        sessions.append(session)
    return sessions


# -- load ----------------------------------------------------------------------------------------


def run_phase(
    page: Page, *, base: str, sessions: list[Any], token: str, think: float, duration: float, warmup: float, seed: int
) -> PhaseResult:
    """``len(sessions)`` users on one page for ``warmup + duration`` seconds; only the last ``duration`` counts."""
    import requests

    result = PhaseResult()
    lock = threading.Lock()
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + duration

    def user(n: int, session: Any) -> None:
        rng = random.Random(seed * 1000 + n)
        time.sleep(rng.uniform(0, think))  # users do not all arrive on the same tick
        api = requests.Session() if page.api else None
        if api is not None:
            api.headers["Authorization"] = f"Token {token}"
        client = api or session
        while time.monotonic() < stop_at:
            path, body = page.make(rng)
            headers = {}
            if page.method == "POST":
                headers = {"X-CSRFToken": _csrf(session), "Referer": f"{base}/segments/new/"}
            began = time.monotonic()
            try:
                response = client.request(page.method, base + path, json=body, headers=headers, timeout=30)
                status = response.status_code
            except requests.RequestException:
                status = 0
            ended = time.monotonic()
            if began >= measure_from and ended <= stop_at:
                with lock:
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    if 200 <= status < 300:
                        result.latencies_ms.append((ended - began) * 1000)
                    else:
                        result.errors += 1
            time.sleep(rng.uniform(think * 0.5, think * 1.5))

    threads = [threading.Thread(target=user, args=(n, s), daemon=True) for n, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(warmup + duration + 60)
    result.seconds = duration
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    common.setup_django(args.db)
    started = time.perf_counter()
    fx = prepare(customers=args.customers, orders=args.orders or args.customers * 2)
    prepare_s = time.perf_counter() - started
    import tempfile

    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.gettempdir()) / f"bench-load-gunicorn-{port}.log"
    server = start_server(port=port, workers=args.workers, threads=args.threads, log_path=log_path)
    results: dict[str, dict[str, Any]] = {}
    try:
        sessions = sessions_for(base, args.users)
        catalogue = pages(fx)
        order = [catalogue[0], *catalogue[1:], catalogue[0]]  # bare first and last: drift shows
        bare_runs = []
        for i, page in enumerate(order):
            if args.only and page.name != "bare" and page.name not in args.only:
                continue
            print(f"load: {page.name} ({args.users} users, {args.duration:.0f}s)…", flush=True)
            phase = run_phase(
                page, base=base, sessions=sessions, token=fx.token, think=args.think,
                duration=args.duration, warmup=args.warmup, seed=i,
            )  # fmt: skip
            summary = phase.summary()
            if page.name == "bare":
                bare_runs.append(summary)
            else:
                results[page.name] = {"label": page.label, **summary}
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    bare_per_s = sum(r["per_s"] for r in bare_runs) / len(bare_runs)
    bare_p95 = max(r["p95_ms"] or 0 for r in bare_runs)
    metrics: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    ok = True
    for name, r in results.items():
        r["share_of_bare"] = common.ratio(r["per_s"], bare_per_s)
        r["ok"] = bool(
            r["errors"] == 0 and r["p95_ms"] is not None and r["p95_ms"] <= P95_TARGET_MS
            and r["share_of_bare"] >= SHARE_TARGET
        )  # fmt: skip
        ok = ok and r["ok"]
        metrics[f"{name}_p95_ms"] = r["p95_ms"]
        metrics[f"{name}_p50_ms"] = r["p50_ms"]
        metrics[f"{name}_throughput_per_s"] = r["per_s"]
        metrics[f"{name}_errors"] = r["errors"]
        ratios[f"{name}_vs_bare_per_s"] = r["share_of_bare"]
        targets[f"{name}_p95_ms"] = P95_TARGET_MS
        targets[f"{name}_vs_bare_per_s"] = SHARE_TARGET
    scale = {
        "customers": args.customers,
        "orders": args.orders or args.customers * 2,
        "users": args.users,
        "think_s": args.think,
        "duration_s": args.duration,
        "gunicorn": f"{args.workers} workers x {args.threads} threads",
        "cpus": os.cpu_count(),
        "prepare_s": round(prepare_s, 1),
        # the machine's 1-minute load average before and after: the client and anything else running
        # share the CPUs with the server, and the figures mean little when this is far above "cpus"
        "loadavg": f"{load_before:.1f} → {os.getloadavg()[0]:.1f}",
    }
    if args.machine:
        scale["machine"] = args.machine
    path = common.write_result(
        name="load",
        scale=scale,
        metrics=metrics,
        baseline={"bare_throughput_per_s": round(bare_per_s, 2), "bare_p95_ms": bare_p95, "bare_runs": bare_runs},
        ratios=ratios,
        targets=targets,
        ok=ok,
        details={"pages": results},
        path=args.json,
    )
    table = markdown(results, bare_per_s=bare_per_s, bare_p95=bare_p95, scale=scale)
    Path(path).with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    print(f"load: wrote {path}")
    return {"ok": ok, "path": str(path)}


def markdown(results: dict[str, dict[str, Any]], *, bare_per_s: float, bare_p95: float, scale: dict[str, Any]) -> str:
    lines = [
        f"Load at {scale['customers']:,} customers / {scale['orders']:,} orders, {scale['users']} users, "
        f"{scale['think_s']} s think time, {scale['duration_s']:.0f} s per page, gunicorn {scale['gunicorn']} "
        f"on {scale['cpus']} CPUs shared with the client (load average {scale['loadavg']}). "
        f"Targets: p95 ≤ {P95_TARGET_MS} ms, ≥ {SHARE_TARGET:.0%} of the bare view's rate.",
        "",
        "| page | p50 ms | p95 ms | req/s | share of bare | errors | ok |",
        "|---|---:|---:|---:|---:|---:|:-:|",
        f"| bare Django view (baseline) | | {bare_p95} | {bare_per_s:.1f} | 100% | 0 | |",
    ]
    lines += [
        f"| {r['label']} | {r['p50_ms']} | {r['p95_ms']} | {r['per_s']:.1f} | {r['share_of_bare']:.0%} | "
        f"{r['errors']} | {'✓' if r['ok'] else '✗'} |"
        for r in results.values()
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load benchmark: console pages and API lists under 50 users")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, help="default: 2 per customer")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a user's requests (mean)")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per page")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds at the start of each page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (make run: WEB_WORKERS=2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--only", nargs="*", help="only these pages (the bare view always runs)")
    parser.add_argument("--db", default=DB, help="scratch database (created and reused)")
    parser.add_argument(
        "--machine", default="", help='what else ran on the machine, as the README should say (e.g. "shared with …")'
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    return 0 if run(args)["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
