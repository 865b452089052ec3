"""Webhook ingest and inbox processing rates (issue 4), against a bare Django view on the same server.

* **ingest** — WeCom callbacks POSTed to ``/hooks/wecom/<key>/`` on a real gunicorn server: signature
  verified, AES-decrypted, stored in the inbox (``INSERT … ON CONFLICT``), enqueued on commit, answered;
* **bare view** — the same requests to ``/hooks-bench/bare/`` on the same server (no verification, no
  storage): the same-run baseline. Rounds alternate so machine noise hits both alike;
* **processing** — a real Celery worker drains the stored events (each re-reads the customer from the
  WeCom sandbox and writes through the contacts services).

Target: ingest ≥ 50% of the bare view's rate. Writes bench/results/ingest.json.

    python -m bench.ingest [--events 2000] [--clients 8] [--web-workers 2] [--rounds 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from bench import common

TARGETS = {"ingest_vs_bare_view": 0.5}
BASE_DIR = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f}s")


def _fire(url_bodies: list[tuple[str, bytes]], clients: int) -> tuple[float, int]:
    """POST every (url, body) with ``clients`` concurrent sessions; returns (seconds, non-200 count)."""
    import requests

    errors = [0]
    lock = threading.Lock()
    chunks = [url_bodies[i::clients] for i in range(clients)]

    def run(chunk: list[tuple[str, bytes]]) -> None:
        session = requests.Session()
        bad = 0
        for url, body in chunk:
            response = session.post(url, data=body, headers={"Content-Type": "text/xml"}, timeout=30)
            if response.status_code != 200:
                bad += 1
        with lock:
            errors[0] += bad

    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, errors[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events per round")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--process", type=int, default=500, help="events to process with a real worker (0 = skip)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    common.setup_django()
    from django.conf import settings
    from django.db import connection

    from channels.models import ChannelAccount, InboxEvent, InboxStatus
    from channels.sandbox.server import serve
    from channels.sandbox.wecom import WeComFake
    from channels.selectors import callback_url
    from channels.services import channel_account_connect
    from channels.wecom.crypto import WXBizMsgCrypt
    from contacts.models import Organization

    corp_id, secret, token, aes_key = "bench_corp", "bench-secret", "benchToken", "B" * 43
    fake = WeComFake()
    sandbox = serve(fake)
    fake.base_url = sandbox.base_url
    fake.add_corp(corp_id, secret, token=token, aes_key=aes_key)
    fake.add_member("bench_guide", "导购")

    org, _ = Organization.objects.get_or_create(slug="bench-ingest", defaults={"name": "入站基准"})
    account = channel_account_connect(
        organization=org, platform="wecom", name="bench", external_id=corp_id,
        credentials={"secret": secret, "token": token, "aes_key": aes_key}, api_base=sandbox.base_url,
        rate_limits={"default": {"per_minute": None, "per_hour": None, "concurrency": 50}},
    )  # fmt: skip
    ChannelAccount.objects.filter(pk=account.pk).update(api_base=sandbox.base_url)
    InboxEvent.objects.filter(account=account).delete()

    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "scrm.settings", "SCRM_SANDBOX": "1", "LOG_LEVEL": "WARNING"}
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "scrm.wsgi:application", "-w", str(args.web_workers),
         "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=BASE_DIR, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    results: dict[str, list[float]] = {"bare": [], "ingest": []}
    errors = 0
    try:
        _wait_http(base + "/healthz")
        crypt = WXBizMsgCrypt(token, aes_key, corp_id)
        hook = callback_url(account).split("/hooks/", 1)[1]
        run_id = uuid.uuid4().hex[:6]
        for round_no in range(args.rounds + 1):  # round 0 warms up both
            bodies = []
            for i in range(args.events):
                ext = fake.seed_customer("bench_guide", external_userid=f"wm{run_id}{round_no}_{i}", name=f"顾客{i}")
                xml = (
                    f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
                    f"<CreateTime>{1700000000 + i}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                    "<Event><![CDATA[change_external_contact]]></Event>"
                    "<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[bench_guide]]></UserID>"
                    f"<ExternalUserID><![CDATA[{ext}]]></ExternalUserID><State><![CDATA[]]></State></xml>"
                )
                body, query = crypt.encrypt_message(xml, nonce=str(i))
                qs = "&".join(f"{k}={v}" for k, v in query.items())
                bodies.append((qs, body.encode()))
            order = ["bare", "ingest"] if round_no % 2 else ["ingest", "bare"]
            for name in order:
                path = "/hooks-bench/bare/" if name == "bare" else f"/hooks/{hook}"
                seconds, bad = _fire([(f"{base}{path}?{qs}", body) for qs, body in bodies], args.clients)
                if round_no:
                    results[name].append(args.events / seconds)
                    errors += bad
        stored = InboxEvent.objects.filter(account=account).count()
        expected = args.events * (args.rounds + 1)
    finally:
        web.terminate()
        web.wait(timeout=30)

    processed_per_s = None
    if args.process:
        # Keep the first N events pending; mark the rest done so the worker drains exactly N.
        ids = list(InboxEvent.objects.filter(account=account).order_by("id").values_list("id", flat=True))
        keep = ids[: args.process]
        InboxEvent.objects.filter(account=account).exclude(id__in=keep).update(status=InboxStatus.DONE)
        import redis

        redis.Redis.from_url(settings.REDIS_CLIENT_URL).delete("inbox")  # drop the ingest's queued tasks
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "scrm", "worker", "-Q", "inbox", "--concurrency", "2",
             "--loglevel", "WARNING", "-n", f"bench-{run_id}@%h", "--without-gossip", "--without-mingle"],
            cwd=BASE_DIR, env=env,
        )  # fmt: skip
        try:
            time.sleep(4)  # worker start-up is not part of the rate
            from channels.inbox import inbox_enqueue

            start = time.perf_counter()
            inbox_enqueue(event_ids=keep)
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                left = InboxEvent.objects.filter(id__in=keep, status=InboxStatus.PENDING).count()
                left += InboxEvent.objects.filter(id__in=keep, status=InboxStatus.PROCESSING).count()
                if not left:
                    break
                time.sleep(0.2)
            elapsed = time.perf_counter() - start
            failed = InboxEvent.objects.filter(id__in=keep, status=InboxStatus.FAILED).count()
            processed_per_s = round((len(keep) - failed) / elapsed, 1)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    connection.close()
    sandbox.stop()

    ingest = round(sorted(results["ingest"])[len(results["ingest"]) // 2], 1)
    bare = round(sorted(results["bare"])[len(results["bare"]) // 2], 1)
    metrics = {"ingest_per_s": ingest, "processed_per_s": processed_per_s, "non_200_responses": errors,
               "stored_events": stored, "expected_events": expected}  # fmt: skip
    baseline = {"bare_view_per_s": bare}
    ratios = {"ingest_vs_bare_view": common.ratio(ingest, bare)}
    ok = ratios["ingest_vs_bare_view"] >= TARGETS["ingest_vs_bare_view"] and errors == 0 and stored == expected
    common.write_result(
        name="ingest",
        scale={"events_per_round": args.events, "rounds": args.rounds, "clients": args.clients,
               "web_workers": args.web_workers, "processed": args.process},
        metrics=metrics, baseline=baseline, ratios=ratios, targets=TARGETS, ok=ok,
        details={"ingest_rounds_per_s": [round(x, 1) for x in results["ingest"]],
                 "bare_rounds_per_s": [round(x, 1) for x in results["bare"]]},
        path=args.json,
    )  # fmt: skip
    common.print_table(
        [["ingest (verify+decrypt+store+enqueue)", ingest], ["bare Django view", bare],
         ["ingest / bare", ratios["ingest_vs_bare_view"]], ["processed by 1 worker ×2", processed_per_s]],
        ["figure", "events/s"],
    )  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
