"""A small threaded WSGI server for the platform fakes, and a router mounting several fakes by path."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class ThreadingWSGIServer(WSGIServer):
    daemon_threads = True
    request_queue_size = 128

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self._handle, args=(request, client_address), daemon=True)
        thread.start()

    def _handle(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # a broken client must not kill the fake
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


@dataclass
class Running:
    server: WSGIServer
    thread: threading.Thread
    base_url: str

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Serve ``app`` on ``host:port`` (0 = a free port) from a daemon thread."""
    server = make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return Running(server=server, thread=thread, base_url=f"http://{host}:{server.server_address[1]}")


def json_response(start_response: Callable[..., Any], body: Any, status: int = 200) -> list[bytes]:
    data = json.dumps(body, ensure_ascii=False).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]


class Router:
    """Dispatch by path prefix to mounted fakes (``/cgi-bin/`` → WeCom, ``/open_api/`` → Ocean Engine…)."""

    def __init__(self) -> None:
        self.mounts: list[tuple[str, WSGIApp]] = []

    def mount(self, prefix: str, app: WSGIApp) -> None:
        self.mounts.append((prefix, app))
        self.mounts.sort(key=lambda m: -len(m[0]))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, app in self.mounts:
            if path.startswith(prefix):
                return app(environ, start_response)
        if path in ("/", ""):
            return json_response(start_response, {"sandbox": [p for p, _ in self.mounts]})
        return json_response(start_response, {"error": f"no fake serves {path}"}, 404)
