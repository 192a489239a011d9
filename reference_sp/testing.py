"""Run a mock IdP and a reference SP side by side on loopback, and drive logins over real HTTP.

Used by the reference SP's own tests; handy for any test that needs a correct (or mutated) SP.
"""
from __future__ import annotations

import re
import secrets
import tempfile
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any, Iterable, Sequence

import httpx

from samlconf_common.serving import LoopbackServer

from .app import SPConfig, create_app

__all__ = ["SPUnderTest", "IdPUnderTest", "form_fields", "shared_key_dir"]

_KEY_DIR: Path | None = None


def shared_key_dir() -> Path:
    """One key cache per process, so RSA keys are made once."""
    global _KEY_DIR
    if _KEY_DIR is None:
        _KEY_DIR = Path(tempfile.mkdtemp(prefix="samlconf-refsp-keys-"))
    return _KEY_DIR


def form_fields(html: str) -> tuple[str, dict[str, str]]:
    """(action, {name: value}) of the first HTML form (the IdP's auto-POST page)."""
    m = re.search(r"<form[^>]*action=\"([^\"]+)\"", html) or re.search(r"<form[^>]*action='([^']+)'", html)
    if not m:
        raise AssertionError(f"no form in page: {html[:300]}")
    fields = {}
    for inp in re.finditer(r"<input[^>]*>", html):
        tag = inp.group(0)
        n = re.search(r"name=[\"']([^\"']+)[\"']", tag)
        v = re.search(r"value=[\"']([^\"']*)[\"']", tag)
        if n:
            fields[n.group(1)] = unescape(v.group(1)) if v else ""
    return unescape(m.group(1)), fields


@dataclass
class IdPUnderTest:
    idp: Any
    server: LoopbackServer

    @classmethod
    def start(cls, entity_id: str = "urn:samlconf:mock-idp", profile: str = "redis_cloud",
              key_dir: Path | None = None) -> "IdPUnderTest":
        from mock_idp.idp import MockIdP

        from mock_idp.keys import load_or_create

        server = LoopbackServer()
        kd = key_dir or shared_key_dir()
        # as the harness's runtime IdP: a second (rollover) signing key and an encryption-only key
        idp = MockIdP(entity_id, base_url=server.base_url, profile=profile, key_dir=kd,
                      extra_signing_keys=[load_or_create(entity_id + " rollover", kd)],
                      encryption_keys=[load_or_create(entity_id + " encryption", kd)],
                      scopes=["example.com"])  # shibmd:Scope, as the runtime's (its users' domain)
        server.start(idp.app())
        return cls(idp, server)

    def stop(self) -> None:
        _stop_soon(self.server)


def _stop_soon(server: LoopbackServer) -> None:
    """Stop a server without waiting out its shutdown poll (half a second per server)."""
    import threading

    threading.Thread(target=server.stop, daemon=True).start()


def _client() -> httpx.Client:
    # Loopback HTTP only: verify=False skips loading the CA bundle (~30 ms per client).
    return httpx.Client(follow_redirects=False, timeout=10, verify=False)


@dataclass
class SPUnderTest:
    cfg: SPConfig
    server: LoopbackServer
    idp: IdPUnderTest
    clients: list[httpx.Client] = field(default_factory=list)
    # Options for every Response the helpers ask the IdP for. By default only the Assertion is
    # signed (catalogue POS-03, which a correct SP accepts): one pysaml2/xmlsec1 check per login
    # instead of two keeps the test suite fast. Set to {} for the full POS-01 shape.
    default_options: dict[str, Any] = field(default_factory=lambda: {"sign_response": False})

    @classmethod
    def start(cls, idp: IdPUnderTest, profile: str = "redis_cloud", mutants: Iterable[str] = (),
              db_dir: Path | None = None, **overrides: Any) -> "SPUnderTest":
        server = LoopbackServer()
        d = db_dir or Path(tempfile.mkdtemp(prefix="samlconf-refsp-db-"))
        cfg = SPConfig(base_url=server.base_url, idp_metadata=idp.idp.metadata_xml(),
                       db_path=d / f"sp-{server.port}.sqlite", profile=profile,
                       mutants=frozenset(mutants), admin_token=secrets.token_urlsafe(16),
                       key_dir=shared_key_dir(), **overrides)
        server.start(create_app(cfg))
        sp = cls(cfg, server, idp)
        idp.idp.register_sp(sp.metadata())
        return sp

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        _stop_soon(self.server)

    # --- plumbing ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def entity_id(self) -> str:
        return str(self.cfg.entity_id)

    def browser(self) -> httpx.Client:
        """A fresh cookie jar (a new browser)."""
        c = _client()
        self.clients.append(c)
        return c

    @property
    def _admin_client(self) -> httpx.Client:
        c = self.__dict__.get("_admin")
        if c is None:
            c = self.__dict__["_admin"] = self.browser()
        return c

    def metadata(self) -> bytes:
        return self._admin_client.get(self.url + "/saml/metadata").content

    def admin(self, method: str, path: str, json: Any = None) -> httpx.Response:
        r = self._admin_client.request(method, self.url + path, json=json,
                                       headers={"Authorization": f"Bearer {self.cfg.admin_token}"})
        self._admin_client.cookies.clear()
        return r

    def users(self) -> list[dict[str, Any]]:
        r = self.admin("GET", "/admin/api/users")
        assert r.status_code == 200, r.text
        return r.json()["users"]

    def user(self, email: str) -> dict[str, Any] | None:
        from urllib.parse import quote

        r = self.admin("GET", "/admin/api/users/" + quote(email.lower()))
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return r.json()

    def me(self, browser: httpx.Client) -> httpx.Response:
        return browser.get(self.url + "/api/me")

    # --- flows ---------------------------------------------------------------------------------
    def start_login(self, browser: httpx.Client, **params: str) -> httpx.Response:
        """GET /login?...; returns the SP's answer (a redirect to the IdP when all is well)."""
        return browser.get(self.url + "/login", params=params)

    def sp_login(self, browser: httpx.Client, user: Any, faults: Sequence[Any] = (),
                 params: dict[str, str] | None = None, **options: Any) -> httpx.Response:
        """The full SP-initiated round trip; returns the ACS's answer."""
        from mock_idp.idp import PLAN_COOKIE

        r = self.start_login(browser, **(params or self.default_login_params(user)))
        assert r.status_code == 302, f"/login answered {r.status_code}: {r.text[:300]}"
        token = self.idp.idp.plan_login(user, faults, **{**self.default_options, **options})
        loc = r.headers["location"]
        assert loc.startswith(self.idp.server.base_url), loc
        idp_browser = self.browser()
        idp_browser.cookies.set(PLAN_COOKIE, token)
        r2 = idp_browser.get(loc)
        assert r2.status_code == 200, f"IdP /sso answered {r2.status_code}: {r2.text[:300]}"
        action, fields = form_fields(r2.text)
        return browser.post(action, data=fields)

    def post_issued(self, browser: httpx.Client, issued: Any) -> httpx.Response:
        return browser.post(issued.acs_url, data=issued.form_fields())

    def pending_request_id(self, browser: httpx.Client, **params: str) -> str:
        """Start SP-initiated login and return the AuthnRequest ID (decoded from the redirect)."""
        import base64
        import zlib
        from urllib.parse import parse_qs, urlsplit

        from lxml import etree

        r = self.start_login(browser, **params)
        assert r.status_code == 302, r.text[:300]
        q = parse_qs(urlsplit(r.headers["location"]).query)
        xml = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15)
        return etree.fromstring(xml).get("ID")

    def idp_response(self, user: Any, *, in_response_to: str | None = None,
                     faults: Sequence[Any] = (), relay_state: str | None = None,
                     **options: Any) -> Any:
        return self.idp.idp.issue_response(self.entity_id, user, in_response_to=in_response_to,
                                           faults=faults, relay_state=relay_state,
                                           **{**self.default_options, **options})

    def solicited(self, browser: httpx.Client, user: Any, faults: Sequence[Any] = (),
                  params: dict[str, str] | None = None, **options: Any) -> httpx.Response:
        """SP-initiated without the IdP round trip: ask the IdP object directly, POST to the ACS."""
        rid = self.pending_request_id(browser, **(params or self.default_login_params(user)))
        issued = self.idp_response(user, in_response_to=rid, faults=faults, **options)
        return self.post_issued(browser, issued)

    def default_login_params(self, user: Any) -> dict[str, str]:
        if self.cfg.profile == "redflag":
            t = user.attributes.get("tenantid", [""])[0].split(",")[0].strip()
            return {"saml": t}
        email = (user.attributes.get("Email") or [user.name_id])[0]
        return {"email": email}
