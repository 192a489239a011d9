"""A real HTTP server on loopback, in a background thread.

The socket is bound when the object is made, so the port (and the base URL an app needs for its
own configuration) is known before the WSGI app exists; `start(app)` then serves it.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

WSGIApp = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102 - keep test output clean
        pass


def _probe_bind(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself will
        probe.bind((host, port))


class LoopbackServer:
    """Threaded WSGI server bound to 127.0.0.1 (or `host`) on `port` (0 = a free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app: WSGIApp | None = None
        if port:
            _probe_bind(host, port)  # an OSError of our own, before Werkzeug prints and exits
        try:
            self._server: BaseWSGIServer = make_server(
                host, port, self._dispatch, threaded=True, request_handler=_QuietHandler
            )
        except SystemExit:  # Werkzeug prints two lines and exits when it cannot bind: make it an OSError
            import errno
            import os

            raise OSError(errno.EADDRINUSE, f"cannot listen on {host}:{port} ({os.strerror(errno.EADDRINUSE)})") from None
        self.host = host
        self.port: int = self._server.server_port
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _dispatch(self, environ: dict, start_response: Callable) -> Any:
        if self._app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"not started"]
        return self._app(environ, start_response)

    def start(self, app: WSGIApp) -> "LoopbackServer":
        self._app = app
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"loopback:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "LoopbackServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
