"""`make run` end to end: embedded services, migrations, demo brand, web + worker + beat, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

BASE_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_run_command_serves_the_console_with_demo_logins_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    port, sandbox_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        {
            "SCRM_DATA_DIR": str(tmp_path / "data"),
            "PORT": str(port),
            "SANDBOX_PORT": str(sandbox_port),
            "WEB_WORKERS": "1",
            "WORKER_CONCURRENCY": "1",
        }
    )
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scrm.launcher"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while "SCRM is running" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text(errors="replace")[-4000:]
            assert time.monotonic() < deadline, (
                "did not start in time:\n" + log_path.read_text(errors="replace")[-4000:]
            )
            time.sleep(0.2)
        output = log_path.read_text(errors="replace")
        assert f"http://127.0.0.1:{port}/" in output
        for login in ("operator", "manager", "staff"):
            assert re.search(rf"\b{login}\b", output)
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert len(descendants) >= 3  # gunicorn, worker, beat (and their own children)

        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/healthz", timeout=10).json()["status"] == "ok"
        assert requests.get(f"http://127.0.0.1:{sandbox_port}/cgi-bin/gettoken", timeout=10).status_code == 200
        for username in ("operator", "manager", "staff"):
            session = requests.Session()
            session.get(f"{base}/login/", timeout=10)
            response = session.post(
                f"{base}/login/",
                data={
                    "username": username,
                    "password": "demo1234",
                    "csrfmiddlewaretoken": session.cookies["csrftoken"],
                },
                headers={"Referer": f"{base}/login/"},
                timeout=30,
            )
            assert response.status_code == 200, username
            assert "客户总数" in response.text, username
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does to the foreground process group
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0, log_path.read_text(errors="replace")[-3000:]
    assert "embedded services stopped" in log_path.read_text(errors="replace")
    # Every descendant is gone within a second of the launcher's exit (checked as soon as it is).
    deadline = time.monotonic() + 1
    while alive := [p for p in descendants if _alive(p)]:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not alive, [p.cmdline() for p in alive]
    leftovers = [
        p.info["cmdline"]
        for p in psutil.process_iter(attrs=["cmdline"])
        if p.info["cmdline"] and any(str(tmp_path) in part for part in p.info["cmdline"])
    ]
    assert not leftovers, leftovers
