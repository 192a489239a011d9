"""The reference SP: a real Flask + pysaml2 + SQLite service provider for both bundled profiles.

`create_app(SPConfig(...))` gives the Flask app; serve it on a `harness.serving.LoopbackServer`
(or `samlconf sp serve`). See `docs/profiles.md` for the contract rules it implements and the
mutants that break them, and `reference_sp/admin.py` for the admin API the harness hooks call.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request
from lxml import etree
from markupsafe import escape

from . import mutants as _m
from .saml import ClientCache, IdPInfo, SPIdentity, check_key_strength, idp_info
from .store import Store

__all__ = ["SPConfig", "create_app", "PROFILES", "RefSP"]

log = logging.getLogger("reference_sp")

PROFILES = ("generic", "redis_cloud", "redflag")
REDIS_ROLES = ("owner", "member", "manager", "billing_admin", "viewer")
REDFLAG_ROLES = ("Super Administrator", "IT Administrator", "Administrator", "Editor")
REDFLAG_ALIASES = {"Super_Administrator": "Super Administrator"}
IDP_INITIATED = {"generic": True, "redis_cloud": True, "redflag": False}
SESSION_SECONDS = 8 * 3600
PENDING_SECONDS = 10 * 60
TXT_PREFIX = "samlconf-site-verification="


def _default_token() -> str:
    return os.environ.get("SAMLCONF_REFSP_TOKEN") or secrets.token_urlsafe(24)


@dataclass
class SPConfig:
    """Configuration of one reference SP instance.

    `idp_metadata` becomes the SAML configuration `idp_id` ("default"). Under `redis_cloud` the
    `domains` are pre-verified for it and the `accounts` are SAML-active accounts linked to it;
    under `redflag` the `tenants` are SAML-active tenants bound to it. More IdPs, accounts,
    tenants and domains come through the admin API.
    """

    base_url: str
    idp_metadata: bytes | None
    db_path: Path
    profile: str = "redis_cloud"
    mutants: frozenset[str] = frozenset()
    admin_token: str = field(default_factory=_default_token)
    entity_id: str | None = None
    key_dir: Path | None = None
    idp_id: str = "default"
    domains: tuple[str, ...] = ("example.com",)
    accounts: tuple[str, ...] = ("12345", "54321")
    tenants: tuple[str, ...] = ("pocketstop1", "pocketstop2")
    dns_resolver: str | None = None  # "127.0.0.1:5353"; None = the system resolver
    secret_key: bytes | None = None
    # what the SP metadata says about signed Assertions: "true" (the default, and what the SP
    # enforces), "false", or "absent" (no WantAssertionsSigned attribute) -- for the tests of the
    # scenarios whose expectation the metadata sets (SIG-03, POS-04)
    want_assertions_signed: str = "true"
    # a new session id at every sign-in, but the browser's earlier signed-in session left valid
    # (not a defect: many SPs do this; SES-01 must not call it fixation)
    keep_sessions_at_login: bool = False
    # sign every AuthnRequest (Redirect: SigAlg + Signature query parameters; POST: an enveloped
    # ds:Signature), rsa-sha256, and say AuthnRequestsSigned="true" in the metadata (AREQ-09/10)
    sign_authn_requests: bool = False
    # publish a second ACS, /saml/acs/1 (index 1), served like the first (DST-10)
    second_acs: bool = False
    # request this AuthnContextClassRef (RequestedAuthnContext, exact) and refuse any other (MAS-07)
    request_authn_context: str | None = None
    # seconds an AuthnRequest stays pending (its Response refused after that: IRT-08)
    request_lifetime: int = 600
    # ask for this NameID Format (NameIDPolicy) and refuse a NameID of another Format (NID-03)
    request_name_id_format: str | None = None
    # a scoped attribute (user@scope, e.g. eduPersonPrincipalName) the SP keeps only when its scope
    # is one the asserting IdP's metadata lists in <shibmd:Scope> (TEN-05); shown as `scoped`
    scoped_attribute: str | None = None
    # verify signatures through one `xmlsec1` process each (pysaml2's own backend, the old path)
    # instead of in-process with python-xmlsec; env SAMLCONF_SP_XMLSEC1=1 (for comparisons)
    xmlsec1_subprocess: bool = field(default_factory=lambda: os.environ.get("SAMLCONF_SP_XMLSEC1") == "1")

    def to_json(self) -> str:
        """The whole configuration as JSON (`sp serve --config FILE`: the harness starts the SP as a
        process of its own with exactly the configuration it would have used in-process)."""
        import base64
        import dataclasses
        import json

        def enc(v: Any) -> Any:
            if isinstance(v, bytes):
                return {"__bytes__": base64.b64encode(v).decode()}
            if isinstance(v, Path):
                return {"__path__": str(v)}
            if isinstance(v, frozenset):
                return {"__set__": sorted(v)}
            if isinstance(v, tuple):
                return {"__tuple__": list(v)}
            return v

        return json.dumps({f.name: enc(getattr(self, f.name)) for f in dataclasses.fields(self)})

    @classmethod
    def from_json(cls, text: str) -> "SPConfig":
        import base64
        import json

        def dec(v: Any) -> Any:
            if isinstance(v, dict) and len(v) == 1:
                (tag, x), = v.items()
                if tag == "__bytes__":
                    return base64.b64decode(x)
                if tag == "__path__":
                    return Path(x)
                if tag == "__set__":
                    return frozenset(x)
                if tag == "__tuple__":
                    return tuple(x)
            return v

        return cls(**{k: dec(v) for k, v in json.loads(text).items()})

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; known: {', '.join(PROFILES)}")
        self.mutants = _m.parse_mutants(self.mutants)
        if self.want_assertions_signed not in ("true", "false", "absent"):
            raise ValueError(f"want_assertions_signed {self.want_assertions_signed!r}: true, false or absent")
        self.db_path = Path(self.db_path)
        if self.entity_id is None:
            self.entity_id = f"{self.base_url}/saml/metadata"

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/saml/acs"

    @property
    def acs_urls(self) -> tuple[str, ...]:
        two = self.second_acs or _m.active(self, "acs_not_bound_to_request")  # the mutant needs two
        return (self.acs_url, f"{self.base_url}/saml/acs/1") if two else (self.acs_url,)

    @property
    def slo_url(self) -> str:
        return f"{self.base_url}/saml/slo"


class RefSP:
    """Everything one SP instance holds: config, store, SAML clients."""

    def __init__(self, cfg: SPConfig) -> None:
        self.cfg = cfg
        self.store = Store(cfg.db_path)
        self._metadata_cache: dict[Any, bytes] = {}
        self._metadata_lock = threading.Lock()
        from samlconf_common.keys import default_home, load_or_create, slug

        # Under the samlconf home (SAMLCONF_HOME or ~/.cache/samlconf), never a shared temp folder.
        key_dir = Path(cfg.key_dir) if cfg.key_dir else default_home() / "reference-sp"

        name = "refsp"  # one SP key pair per key directory (made once, cached 0600)
        pair = load_or_create(name, cache_dir=key_dir)
        kdir = key_dir / "keys" / slug(name)
        self.key_pem = pair.key_pem
        load_or_create("refsp-encryption", cache_dir=key_dir)  # separate keys (catalogue META-02)
        edir = key_dir / "keys" / slug("refsp-encryption")
        self.identity = SPIdentity(
            entity_id=str(cfg.entity_id), acs_url=cfg.acs_url, slo_url=cfg.slo_url,
            key_file=kdir / "key.pem", cert_file=kdir / "cert.pem", cert_pem=pair.cert_pem,
            enc_key_file=edir / "key.pem", enc_cert_file=edir / "cert.pem",
            authn_requests_signed=cfg.sign_authn_requests or any(self.m(x) for x in _m.SIGNING_AREQ),
            extra_acs_urls=cfg.acs_urls[1:],
        )
        self.clients = ClientCache(self.identity, xmlsec1_subprocess=cfg.xmlsec1_subprocess)
        # the `areq_wrong_key` mutant signs its AuthnRequests with a key its metadata does not publish
        self.request_clients = self.clients
        if self.m("areq_wrong_key"):
            load_or_create("refsp-unpublished", cache_dir=key_dir)
            rdir = key_dir / "keys" / slug("refsp-unpublished")
            self.request_clients = ClientCache(dataclasses.replace(
                self.identity, key_file=rdir / "key.pem", cert_file=rdir / "cert.pem"),
                xmlsec1_subprocess=cfg.xmlsec1_subprocess)
        # metadata an IdP configuration had before it was replaced (only the `keeps_old_idp_cert`
        # mutant ever uses it)
        self.retired_idp_metadata: dict[str, list[bytes]] = {}
        # the `replay_cache_in_memory` mutant's replay cache (lost at a restart)
        self.memory_replay: set[str] = set()
        self.seed()

    def restart(self) -> None:
        """What a process restart loses: every in-memory cache (the SQLite store stays)."""
        with self._metadata_lock:
            self._metadata_cache.clear()
        self.clients = ClientCache(self.identity)
        if self.request_clients is not self.clients:
            self.request_clients = ClientCache(self.request_clients.sp)
        else:
            self.request_clients = self.clients
        self.memory_replay.clear()

    @property
    def request_lifetime(self) -> float:
        """How long an AuthnRequest stays pending (the `pending_requests_never_expire` mutant: a year)."""
        return 365 * 86400 if self.m("pending_requests_never_expire") else self.cfg.request_lifetime

    # --- helpers -------------------------------------------------------------------------------
    def m(self, name: str) -> bool:
        return _m.active(self.cfg, name)

    @property
    def profile(self) -> str:
        return self.cfg.profile

    def seed(self, load_idp: bool = True) -> None:
        cfg = self.cfg
        if cfg.idp_metadata and load_idp:
            self.put_idp(cfg.idp_id, cfg.idp_metadata)
        if self.idp(cfg.idp_id) is None:
            return
        with self.store.tx() as c:
            if cfg.profile == "redis_cloud":
                for d in cfg.domains:
                    c.execute("INSERT OR IGNORE INTO domains (domain, idp_id, token, verified) "
                              "VALUES (?, ?, ?, 1)", (d.lower(), cfg.idp_id, secrets.token_hex(16)))
                for a in cfg.accounts:
                    c.execute("INSERT OR IGNORE INTO accounts (id, kind, name, idp_id, saml_active) "
                              "VALUES (?, 'account', ?, ?, 1)", (a, f"account {a}", cfg.idp_id))
            elif cfg.profile == "redflag":
                for t in cfg.tenants:
                    c.execute("INSERT OR IGNORE INTO accounts (id, kind, name, idp_id, saml_active) "
                              "VALUES (?, 'tenant', ?, ?, 1)", (t, t, cfg.idp_id))

    def put_idp(self, idp_id: str, metadata: bytes) -> IdPInfo:
        if self.m("ignores_metadata_valid_until"):  # the defect: validUntil dropped at import
            from .defects import without_valid_until

            metadata = without_valid_until(metadata)
        info = idp_info(metadata)
        if not info.signing_certs:
            raise ValueError("IdP metadata has no signing certificate")
        if not self.m("accepts_weak_idp_key"):
            check_key_strength(info.signing_certs)
        old = self.idp(idp_id)
        if old is not None and bytes(old["metadata"]) != metadata:
            self.retired_idp_metadata.setdefault(idp_id, []).append(bytes(old["metadata"]))
        with self.store.tx() as c:
            c.execute("INSERT OR REPLACE INTO idps (id, entity_id, metadata, updated) VALUES (?,?,?,?)",
                      (idp_id, info.entity_id, metadata, time.time()))
        return info

    def delete_idp(self, idp_id: str) -> dict[str, int]:
        """Remove a SAML configuration and what is bound to it: its accounts/tenants (and their
        memberships), domains, link requests and the sessions signed in through it. Counts removed."""
        with self.store.tx() as c:
            scopes = [r[0] for r in c.execute("SELECT id FROM accounts WHERE idp_id = ?", (idp_id,))]
            for scope in scopes:
                c.execute("DELETE FROM memberships WHERE scope_id = ?", (scope,))
            out = {
                "accounts": c.execute("DELETE FROM accounts WHERE idp_id = ?", (idp_id,)).rowcount,
                "domains": c.execute("DELETE FROM domains WHERE idp_id = ?", (idp_id,)).rowcount,
                "link_requests": c.execute("DELETE FROM link_requests WHERE idp_id = ?", (idp_id,)).rowcount,
                "sessions": c.execute("DELETE FROM sessions WHERE idp_id = ?", (idp_id,)).rowcount,
                "idps": c.execute("DELETE FROM idps WHERE id = ?", (idp_id,)).rowcount,
            }
        self.retired_idp_metadata.pop(idp_id, None)
        return out

    def idp(self, idp_id: str | None) -> Any:
        if not idp_id:
            return None
        return self.store.one("SELECT * FROM idps WHERE id = ?", (idp_id,))

    def idps(self) -> list[Any]:
        return self.store.all("SELECT * FROM idps ORDER BY id")

    def idp_by_entity(self, entity_id: str) -> Any:
        return self.store.one("SELECT * FROM idps WHERE entity_id = ? ORDER BY id", (entity_id,))

    def sp_metadata(self, idp_id: str | None = None) -> bytes:
        """The SP's metadata for one SAML configuration or all: built once per configuration (it is
        served unauthenticated, and building it costs ~0.2 s of CPU), rebuilt when an IdP changes."""
        rows = [self.idp(idp_id)] if idp_id else self.idps()
        rows = [r for r in rows if r is not None]
        key = (idp_id, tuple((r["id"], hashlib.sha256(bytes(r["metadata"])).hexdigest()) for r in rows))
        with self._metadata_lock:
            cached = self._metadata_cache.get(key)
            if cached is None:
                cached = self._build_sp_metadata(rows, stale_acs=bool(idp_id) and self.m("metadata_stale_acs"))
                if len(self._metadata_cache) >= 64:
                    self._metadata_cache.clear()
                self._metadata_cache[key] = cached
        return cached

    def _build_sp_metadata(self, rows: list[Any], stale_acs: bool = False) -> bytes:
        xml = self.clients.sp_metadata([bytes(r["metadata"]) for r in rows])
        root = etree.fromstring(xml.encode())
        # The document's ID is a digest of the configuration it belongs to (SP cert + the IdP
        # certificates it trusts), so changing the IdP certificate gives new SP metadata.
        h = hashlib.sha256(self.identity.cert_pem)
        for r in rows:
            for c in idp_info(bytes(r["metadata"])).signing_certs:
                h.update(c)
        root.set("ID", "_cfg-" + h.hexdigest()[:32])
        for desc in root.iter("{urn:oasis:names:tc:SAML:2.0:metadata}SPSSODescriptor"):
            if self.cfg.want_assertions_signed == "absent":
                desc.attrib.pop("WantAssertionsSigned", None)
            else:
                desc.set("WantAssertionsSigned", self.cfg.want_assertions_signed)
        ed = root if root.tag == f"{{{MD_NS}}}EntityDescriptor" else next(root.iter(f"{{{MD_NS}}}EntityDescriptor"))
        if not self.m("metadata_no_contact") and ed.find(f"{{{MD_NS}}}ContactPerson") is None:
            cp = etree.SubElement(ed, f"{{{MD_NS}}}ContactPerson", contactType="technical")
            etree.SubElement(cp, f"{{{MD_NS}}}EmailAddress").text = "mailto:saml-admin@" + \
                (urlsplit(self.cfg.base_url).hostname or "localhost")
        for desc in root.iter(f"{{{MD_NS}}}SPSSODescriptor"):
            if self.m("metadata_plain_http_acs"):  # the defect: an ACS over plain http (not the default)
                acs = desc.findall(f"{{{MD_NS}}}AssertionConsumerService")
                extra = etree.Element(f"{{{MD_NS}}}AssertionConsumerService",
                                      Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                                      Location="http://sp.samlconf.invalid/saml/acs", index=str(len(acs) + 1))
                acs[-1].addnext(extra)
            if self.m("metadata_shared_key"):  # the defect: the signing key also encrypts
                ds = "{http://www.w3.org/2000/09/xmldsig#}X509Certificate"
                kds = desc.findall(f"{{{MD_NS}}}KeyDescriptor")
                signing = [c.text for k in kds if k.get("use") == "signing" for c in k.iter(ds)]
                for k in kds:
                    if k.get("use") == "encryption" and signing:
                        for c in k.iter(ds):
                            c.text = signing[0]
        if stale_acs:
            # the defect: the per-configuration download names an ACS the SP no longer serves
            for acs in root.iter("{urn:oasis:names:tc:SAML:2.0:metadata}AssertionConsumerService"):
                acs.set("Location", acs.get("Location", "").replace("/saml/acs", "/saml2/acs"))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    # --- users ---------------------------------------------------------------------------------
    def me(self, uid: int) -> dict[str, Any] | None:
        u = self.store.user_by_id(uid)
        if u is None:
            return None
        return self.user_json(u)

    def user_json(self, u: Any) -> dict[str, Any]:
        mem = self.store.memberships(u["id"])
        is_rf = self.profile == "redflag"
        return {
            "id": u["id"],
            "email": u["email"],
            "name_id": u["name_id"],
            "first_name": u["first_name"],
            "last_name": u["last_name"],
            "username": u["username"],
            "kind": u["kind"],
            "bypass": bool(u["bypass"]),
            "role": u["role"],
            "accounts": {} if is_rf else mem,
            "tenants": sorted(mem) if is_rf else [],
            "idp_id": u["idp_id"],
            "logins": u["logins"],
            **({"scoped": u["scoped"]} if self.cfg.scoped_attribute else {}),
        }


# ------------------------------------------------------------------------------------------------
# HTML
# ------------------------------------------------------------------------------------------------
def page(title: str, body: str, status: int = 200) -> Response:
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"</head><body><h1>{escape(title)}</h1>{body}</body></html>")
    return Response(html, status=status, mimetype="text/html")


def error_page(title: str, message: str, status: int = 400, check: str = "") -> Response:
    log.warning("refused: %s: %s%s", title, message, f" [{check}]" if check else "")
    extra = f"<p class='check'>check: {escape(check)}</p>" if check else ""
    from flask import current_app

    sp = current_app.extensions.get("refsp")
    raw = sp is not None and sp.m("unescaped_error_page")
    shown = message if raw else escape(message)  # the mutant: the message goes out as HTML
    return page(title, f"<p class='error' id='error'>{shown}</p>{extra}", status)


MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"


def _safe_next(target: str | None, allow_any: bool) -> str:
    if not target:
        return "/"
    if allow_any:
        return target
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7f for c in target):
        # browsers drop tabs/newlines and read "\\" as "/": "/\t/evil" is "//evil" to them
        return "/"
    return target


# ------------------------------------------------------------------------------------------------
# the app
# ------------------------------------------------------------------------------------------------
def create_app(cfg: SPConfig) -> Flask:
    sp = RefSP(cfg)
    app = Flask("reference_sp")
    app.config.update(
        SECRET_KEY=cfg.secret_key or secrets.token_bytes(32),
        SESSION_COOKIE_NAME="refsp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # the `no_size_limit` mutant also lifts the request-body limit (XML-13 sends 20 MB)
        MAX_CONTENT_LENGTH=None if _m.active(cfg, "no_size_limit") else 2 * 1024 * 1024,
    )
    if _m.active(cfg, "no_size_limit"):
        app.config["MAX_FORM_MEMORY_SIZE"] = None
    app.extensions["refsp"] = sp

    from .admin import register_admin
    from .flows import register_flows

    register_flows(app, sp)
    register_admin(app, sp)

    @app.errorhandler(Exception)
    def _unhandled(e: Exception) -> Response:  # bad input never gives a 500 page with a trace
        from werkzeug.exceptions import HTTPException

        if isinstance(e, HTTPException):
            return error_page(e.name, e.description or e.name, e.code or 400)
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_page("Request refused", f"the request could not be processed "
                          f"({type(e).__name__})", 400)

    return app
