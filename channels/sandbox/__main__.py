"""``python -m channels.sandbox --port 8001``: serve every platform fake on one loopback port.

Mounted by path: ``/cgi-bin/``, ``/sandbox/wecom/`` and ``/ca/`` (获客链接) → the WeCom fake; ``/open_api/`` → Ocean
Engine, ``/ddzh/`` … → Meituan, ``/channels/`` and the shop's ``/cgi-bin/token`` → 视频号 / 微信小店.
The WeCom corp of the demo is created from the environment (``SANDBOX_WECOM_CORP_ID`` …,
defaults in ``channels.sandbox.defaults``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from channels.sandbox import defaults
from channels.sandbox.douyin import OceanEngineFake
from channels.sandbox.meituan import MeituanFake
from channels.sandbox.server import Router, serve
from channels.sandbox.video import WeChatShopFake
from channels.sandbox.wecom import WeComFake


def build(base_url: str) -> tuple[Router, WeComFake]:
    router = Router()
    fake = WeComFake(base_url=base_url)
    defaults.seed_demo_corp(fake)
    router.mount("/cgi-bin/", fake)
    router.mount("/sandbox/wecom/", fake)
    router.mount("/ca/", fake)  # 获客链接 pages
    # Each lead-source fake seeds its demo state (``for_demo``).
    mounts: list[tuple[Any, list[str]]] = [
        (OceanEngineFake.for_demo(), ["/open_api/"]),
        (MeituanFake.for_demo(), ["/ddzh/", "/router/", "/tuangou/"]),
        (WeChatShopFake.for_demo(), ["/channels/", "/cgi-bin/token"]),
    ]
    for app, prefixes in mounts:
        for prefix in prefixes:
            router.mount(prefix, app)
    return router, fake


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the platform fakes on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    base_url = f"http://{args.host}:{args.port}"
    router, _fake = build(base_url)
    running = serve(router, host=args.host, port=args.port)
    print(f"sandbox serving on {running.base_url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    running.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
