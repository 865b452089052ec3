"""The web server's access log carries no personal data (issue 14): gunicorn started the way
``make run`` and the Docker image start it logs paths without query strings or referers, through
the same redaction filter as every other log line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from scrm.launcher import gunicorn_command

BASE_DIR = Path(__file__).resolve().parents[2]
PHONES = ("13812345678", "13912345678", "15900001111", "17700002222")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "gunicorn exited during start-up"
        try:
            requests.get(f"http://127.0.0.1:{port}/login/", timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            # The master accepts connections before its worker has imported Django: on a busy
            # machine the first request can time out rather than be refused.
            time.sleep(0.3)
    raise AssertionError("gunicorn did not start")


@pytest.mark.slow
def test_a_phone_number_in_a_query_string_never_reaches_the_access_log(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "scrm.settings"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            gunicorn_command(f"127.0.0.1:{port}", "1", "1"), cwd=BASE_DIR, env=env, stdout=out, stderr=out
        )
        try:
            _wait_listening(port, proc)
            base = f"http://127.0.0.1:{port}"
            requests.get(f"{base}/api/v1/customers/?q={PHONES[0]}", timeout=10)
            requests.get(
                f"{base}/customers/?q=138-1234-5678&mobile={PHONES[1]}",
                headers={"Referer": f"{base}/sidebar/?q={PHONES[2]}"},
                timeout=10,
            )
            requests.get(f"{base}/login/?next=/customers/%3Fq%3D{PHONES[3]}", timeout=10)
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    text = log.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [record["message"] for record in records if record["logger"] == "gunicorn.access"]
    assert any('"GET /api/v1/customers/ HTTP/1.1" 403' in line for line in access), text
    assert any('"GET /customers/ HTTP/1.1" 302' in line for line in access), text
    assert any('"GET /login/ HTTP/1.1" 200' in line for line in access), text
    # Nowhere in the server's output: not the access log, not Django's own request warnings.
    for phone in (*PHONES, "138-1234-5678", "1234-5678"):
        assert phone not in text, phone


def test_every_way_of_starting_the_web_server_uses_the_logging_config() -> None:
    assert "python:scrm.gunicorn_conf" in gunicorn_command("127.0.0.1:8000", "2")
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert '"--config", "python:scrm.gunicorn_conf"' in cmd and "--access-logfile" not in cmd
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    assert "gunicorn" not in compose.split("web:", 1)[1].split("worker:", 1)[0]  # web runs the image's CMD


def test_the_access_log_format_has_no_query_string_referer_or_user() -> None:
    from scrm import gunicorn_conf

    for atom in ("%(r)s", "%(q)s", "%(f)s", "%(u)s", "%({"):
        assert atom not in gunicorn_conf.access_log_format
    handlers = gunicorn_conf.logconfig_dict["handlers"]
    assert all(handler["filters"] == ["redact"] for handler in handlers.values())  # type: ignore[index]
