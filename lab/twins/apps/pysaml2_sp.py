"""A minimal SP on pysaml2, the same for every pysaml2 twin (4.9.0, 5.0.0, 6.4.1, 6.5.0).

Standard library HTTP (wsgiref, one thread per request) + the pinned pysaml2 in the twin's own venv.
It does what the pysaml2 documentation's SP example does and nothing more:

  GET  /metadata             SP metadata (pysaml2's own create_metadata_string)
  GET  /login?email=...      SP-initiated login: AuthnRequest by HTTP-Redirect to the IdP
  POST /acs                  parse_authn_request_response(..., outstanding=<this SP's requests>)
  GET  /whoami               200 {"email", "name_id", "attributes"} for the session, else 401
  GET  /logout               forget the session

Config: want_assertions_signed=True, want_response_signed=False, allow_unsolicited=False
(pysaml2's documented defaults for an SP that signs nothing itself; SP-initiated only),
allow_unknown_attributes=True, accepted_time_diff=120 s, xmlsec1 backend. The identity (whoami "email") is the NameID when
it is an email address, else the "Email" attribute (transient NameIDs), else the NameID. A refusal is a 403 page with no session.

Usage: python pysaml2_sp.py --port P --idp-metadata FILE
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import logging
import secrets
import sys
import threading
from http.cookies import SimpleCookie
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# pysaml2 < 5.1 calls base64.decodestring/encodestring, removed in Python 3.9. Aliasing the two
# names to their Python 3 spellings changes nothing in pysaml2's own logic.
if not hasattr(base64, "decodestring"):
    base64.decodestring = base64.decodebytes  # type: ignore[attr-defined]
    base64.encodestring = base64.encodebytes  # type: ignore[attr-defined]

import saml2  # noqa: E402
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.client import Saml2Client  # noqa: E402
from saml2.config import SPConfig  # noqa: E402
from saml2.metadata import create_metadata_string  # noqa: E402

log = logging.getLogger("pysaml2-twin")

try:
    from importlib.metadata import version as _dist_version

    PYSAML2_VERSION = _dist_version("pysaml2")
except Exception:  # pragma: no cover
    PYSAML2_VERSION = getattr(saml2, "__version__", "unknown")


class App:
    def __init__(self, port: int, idp_metadata: str) -> None:
        base = f"http://127.0.0.1:{port}"
        self.base = base
        self.conf = SPConfig()
        self.conf.load(
            {
                "entityid": f"{base}/metadata",
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "metadata": {"local": [idp_metadata]},
                "accepted_time_diff": 120,  # clock skew, as the xml-crypto twin
                "service": {
                    "sp": {
                        "endpoints": {
                            "assertion_consumer_service": [(f"{base}/acs", BINDING_HTTP_POST)],
                        },
                        "want_assertions_signed": True,
                        "want_response_signed": False,
                        "authn_requests_signed": False,
                        "allow_unsolicited": False,
                        "allow_unknown_attributes": True,
                    }
                },
            }
        )
        self.client = Saml2Client(config=self.conf)
        self.outstanding: dict[str, str] = {}  # AuthnRequest ID -> came from
        self.sessions: dict[str, dict] = {}
        self.lock = threading.Lock()

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path == "/metadata":
                body = create_metadata_string(None, config=self.conf, valid=4)
                if isinstance(body, str):
                    body = body.encode()
                return self._send(start_response, "200 OK", body, "application/samlmetadata+xml")
            if path == "/login":
                return self.login(environ, start_response)
            if path == "/acs" and method == "POST":
                return self.acs(environ, start_response)
            if path == "/whoami":
                sess = self.sessions.get(self._sid(environ) or "")
                if not sess:
                    return self._json(start_response, "401 Unauthorized", {"error": "not signed in"})
                return self._json(start_response, "200 OK", sess)
            if path == "/logout":
                sid = self._sid(environ)
                if sid:
                    self.sessions.pop(sid, None)
                return self._send(start_response, "200 OK", b"signed out", "text/plain")
            if path == "/":
                return self._send(start_response, "200 OK", f"pysaml2 {PYSAML2_VERSION} twin".encode(), "text/plain")
            return self._send(start_response, "404 Not Found", b"not found", "text/plain")
        except Exception as exc:  # the SP's own failure page: no session
            log.exception("unhandled")
            return self._send(start_response, "500 Internal Server Error", f"error: {exc}".encode(), "text/plain")

    def login(self, environ, start_response):
        qs = parse_qs(environ.get("QUERY_STRING", ""))
        relay = (qs.get("RelayState") or [""])[0]
        reqid, info = self.client.prepare_for_authenticate(relay_state=relay, binding=BINDING_HTTP_REDIRECT)
        with self.lock:
            self.outstanding[reqid] = "/whoami"
            if len(self.outstanding) > 5000:  # bounded
                self.outstanding.pop(next(iter(self.outstanding)))
        location = dict(info["headers"])["Location"]
        start_response("303 See Other", [("Location", location), ("Content-Length", "0")])
        return [b""]

    def acs(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"))
        saml_response = (form.get("SAMLResponse") or [""])[0]
        try:
            with self.lock:
                outstanding = dict(self.outstanding)
            resp = self.client.parse_authn_request_response(saml_response, BINDING_HTTP_POST, outstanding=outstanding)
            if resp is None:
                raise ValueError("no response")
            name_id = resp.name_id.text if resp.name_id is not None else None
            if not name_id:
                raise ValueError("no NameID")
            ava = resp.get_identity() or {}
            email = name_id if "@" in name_id else (_attribute(resp, "Email") or name_id)
        except Exception as exc:
            log.info("refused: %s: %s", type(exc).__name__, exc)
            page = f"<html><body><h1>Login refused</h1><p>{html.escape(type(exc).__name__)}</p></body></html>"
            return self._send(start_response, "403 Forbidden", page.encode(), "text/html")
        with self.lock:
            self.outstanding.pop(getattr(resp, "in_response_to", None) or "", None)
        old = self._sid(environ)
        if old:  # a sign-in replaces the browser's previous session (no fixation, no stale session)
            self.sessions.pop(old, None)
        sid = secrets.token_urlsafe(24)
        self.sessions[sid] = {"email": email, "name_id": name_id, "attributes": ava}
        log.info("signed in: %s (NameID %s)", email, name_id)
        start_response(
            "303 See Other",
            [("Location", "/whoami"), ("Set-Cookie", f"twin_sid={sid}; Path=/; HttpOnly"), ("Content-Length", "0")],
        )
        return [b""]

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _sid(environ) -> str | None:
        c = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        return c["twin_sid"].value if "twin_sid" in c else None

    @staticmethod
    def _send(start_response, status, body: bytes, ctype: str):
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def _json(self, start_response, status, obj):
        return self._send(start_response, status, json.dumps(obj).encode(), "application/json")


def _attribute(resp, name: str) -> str | None:
    """The first value of the assertion's attribute `name`, read from pysaml2's parsed assertion
    (independent of pysaml2's attribute-name converters, which differ across versions)."""
    assertion = getattr(resp, "assertion", None)
    found = [attr for statement in getattr(assertion, "attribute_statement", None) or []
             for attr in statement.attribute or [] if attr.name == name]
    if len(found) > 1:
        raise ValueError(f"duplicated attribute {name}")
    if found and found[0].attribute_value:
        return (found[0].attribute_value[0].text or "").strip() or None
    return None


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, fmt, *args):  # one line per request on stderr, like any access log
        sys.stderr.write("%s\n" % (fmt % args))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--idp-metadata", required=True)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    app = App(a.port, a.idp_metadata)
    log.info("pysaml2 %s twin on 127.0.0.1:%d", PYSAML2_VERSION, a.port)
    make_server("127.0.0.1", a.port, app, server_class=_Server, handler_class=_Quiet).serve_forever()


if __name__ == "__main__":
    main()
