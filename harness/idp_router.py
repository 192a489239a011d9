"""One public mock-IdP endpoint for a run with several workers.

A real SP knows one IdP: one SSO URL, one metadata. With workers (`samlconf run --workers N`,
`pytest -n N`) every worker keeps its own mock IdP in its own process (its plans, faults and
signing stay there, on its own core), on a private loopback port, and the front-end process runs
this router on the target's IdP port. Each worker's IdP prefixes every token it hands out (the plan
cookie a login carries, the out-of-band URLs of XXE/XSLT faults) with its route name; the router
forwards a request to the worker named by that prefix, never by timing. Requests that carry no
token (metadata, a person's login page) go to the first worker: every worker's IdP has the same
keys and the same public base URL, so they answer alike.

Workers register at `POST /_samlconf/backends` with the run's token (loopback clients only).
"""
from __future__ import annotations

import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import unquote

import httpx

from .serving import LoopbackServer

PLAN_COOKIE = "samlconf_idp_plan"
REGISTER_PATH = "/_samlconf/backends"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "content-length", "host"}
MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True)
class RouterLink:
    """What a worker needs to join a run's router: its public URL, the run's token, its route name."""

    url: str
    token: str
    route: str

    def to_dict(self) -> dict[str, str]:
        return {"url": self.url, "token": self.token, "route": self.route}

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> "RouterLink":
        return cls(d["url"], d["token"], d["route"])

    def register(self, backend_url: str, timeout: float = 10.0) -> None:
        r = httpx.post(self.url + REGISTER_PATH, json={"route": self.route, "url": backend_url},
                       headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout)
        if r.status_code != 200:
            raise RuntimeError(f"IdP router {self.url}: registration refused (HTTP {r.status_code})")


def route_of(cookie_header: str, path: str) -> str | None:
    """The route name a request carries: the plan cookie's prefix, or an out-of-band URL's."""
    if path.startswith("/oob/"):
        token = unquote(path.split("/", 3)[2]) if path.count("/") >= 2 else ""
        if "." in token:
            return token.split(".", 1)[0]
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == PLAN_COOKIE and "." in value:
            return value.split(".", 1)[0]
    return None


class IdPRouter:
    """A small reverse proxy on the public IdP port, in the run's front-end process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = LoopbackServer(host, port)
        self.token = secrets.token_urlsafe(24)
        self._backends: dict[str, str] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0), follow_redirects=False,
                                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def link(self, route: str) -> RouterLink:
        return RouterLink(self.base_url, self.token, route)

    def start(self) -> "IdPRouter":
        self.server.start(self.app)
        return self

    def stop(self) -> None:
        self.server.stop()
        self._client.close()

    def backends(self) -> dict[str, str]:
        with self._lock:
            return dict(self._backends)

    # --- WSGI ----------------------------------------------------------------------------
    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            return _answer(start_response, 413, b"request body too large")
        body = environ["wsgi.input"].read(length) if length else b""
        if path == REGISTER_PATH:
            return self._register(environ, method, body, start_response)
        route = route_of(environ.get("HTTP_COOKIE", ""), path)
        with self._lock:
            backend = self._backends.get(route or "") or next(
                (self._backends[k] for k in sorted(self._backends)), None)
        if backend is None:
            return _answer(start_response, 503, b"no mock IdP has joined this run yet")
        url = backend + path + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items()
                   if k.startswith("HTTP_") and k[5:].replace("_", "-").lower() not in HOP_BY_HOP}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        # the worker's IdP sees the public host (its own-origin checks) and who asked
        if environ.get("HTTP_HOST"):
            headers["Host"] = environ["HTTP_HOST"]
        headers["X-Forwarded-For"] = environ.get("REMOTE_ADDR", "")
        try:
            resp = self._client.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            return _answer(start_response, 502, f"mock IdP worker {backend} did not answer: {exc}".encode())
        out = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in HOP_BY_HOP
               and k.lower() != "content-encoding"]
        start_response(f"{resp.status_code} {resp.reason_phrase}", out)
        return [resp.content]

    def _register(self, environ: dict[str, Any], method: str, body: bytes,
                  start_response: Callable[..., Any]) -> Iterable[bytes]:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        given = auth[7:] if auth.startswith("Bearer ") else ""
        if method != "POST" or not hmac.compare_digest(given.encode(), self.token.encode()):
            return _answer(start_response, 403, b"forbidden")
        try:
            data = json.loads(body)
            route, url = str(data["route"]), str(data["url"])
        except (ValueError, KeyError, TypeError):
            return _answer(start_response, 400, b"give route and url")
        if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
            return _answer(start_response, 400, b"workers register loopback URLs only")
        with self._lock:
            self._backends[route] = url.rstrip("/")
        return _answer(start_response, 200, b"ok")


def _answer(start_response: Callable[..., Any], status: int, text: bytes) -> list[bytes]:
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 413: "Payload Too Large", 502: "Bad Gateway",
              503: "Service Unavailable"}.get(status, "")
    start_response(f"{status} {reason}", [("Content-Type", "text/plain; charset=utf-8")])
    return [text]
