"""The mock IdP: SP registry, response issuing (with faults), replay memory, and the Flask app."""
from __future__ import annotations

import copy
import secrets
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from lxml import etree

from . import faults as _faults
from .bindings import BINDING_REDIRECT, AuthnRequestInfo, encode_post, post_form_html
from .builder import (
    STATUS_SUCCESS,
    ResponseSpec,
    SAML,
    build_response,
    build_status_response,
    q,
)
from .faults import Fault, FaultContext, SigningOptions
from .keys import KeyPair, load_or_create
from .metadata import MetadataError, SPInfo, fetch_metadata, idp_metadata, parse_sp_metadata
from .signing import sign
from .users import PROFILES, User, generate_user

__all__ = ["MockIdP", "IssuedResponse", "Plan", "PLAN_COOKIE", "UnknownSP", "ResponseError"]

PLAN_COOKIE = "samlconf_idp_plan"
SESSION_COOKIE = "samlconf_idp_session"
_SPEC_FIELDS = {f.name for f in fields(ResponseSpec)} - {"issuer", "acs_url", "user", "in_response_to"}
_SIGNING_FIELDS = {f.name for f in fields(SigningOptions)}
REPLAY_MEMORY = 2000


class UnknownSP(LookupError):
    def __init__(self, entity_id: str | None) -> None:
        super().__init__(f"unknown SP {entity_id!r}: register its metadata first")
        self.entity_id = entity_id


class ResponseError(ValueError):
    pass


@dataclass(frozen=True)
class IssuedResponse:
    xml: bytes
    saml_response_b64: str
    acs_url: str
    relay_state: str | None
    response_id: str
    assertion_id: str | None
    sp_entity_id: str | None = None
    faults: tuple[str, ...] = ()
    notes: dict[str, Any] = field(default_factory=dict, compare=False)
    # whom the IdP named (before any fault): the NameID actually issued (e.g. a fresh transient one
    # when the SP asked for it) and the user's attributes; what an SP's whoami is matched against
    name_id: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict, compare=False)

    def form_html(self) -> str:
        return post_form_html(self.acs_url, self.saml_response_b64, self.relay_state)

    def redirect_url(self) -> str:
        """The response over HTTP-Redirect (DEFLATE + base64 in the query; BND-01: SPs must refuse it)."""
        from urllib.parse import urlencode

        from .bindings import encode_redirect

        q = {"SAMLResponse": encode_redirect(self.xml)}
        if self.relay_state is not None:
            q["RelayState"] = self.relay_state
        return self.acs_url + ("&" if "?" in self.acs_url else "?") + urlencode(q)

    def deflated_b64(self) -> str:
        """The response DEFLATE-compressed then base64 (a compressed POST body, BND-03)."""
        from .bindings import encode_redirect

        return encode_redirect(self.xml)

    def form_fields(self) -> dict[str, str]:
        out = {"SAMLResponse": self.saml_response_b64}
        if self.relay_state is not None:
            out["RelayState"] = self.relay_state
        return out


@dataclass
class Plan:
    """What the IdP answers a login with, chosen ahead (by a test or a person) and named by a token."""

    user: User
    faults: tuple[Fault, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    sp_entity_id: str | None = None  # restrict to one SP (None: any)
    uses: int = 0
    issued: list[str] = field(default_factory=list)  # IDs of the Responses answered with (newest last)

    MAX_ISSUED = 20

    def note_issued(self, response_id: str) -> None:
        self.issued.append(response_id)
        del self.issued[: -self.MAX_ISSUED]


class MockIdP:
    def __init__(
        self,
        entity_id: str = "urn:samlconf:mock-idp",
        *,
        base_url: str,
        key: KeyPair | None = None,
        profile: str = "generic",
        key_dir: Path | None = None,
        users: Sequence[User] | None = None,
        extra_signing_keys: Sequence[KeyPair] = (),
        encryption_keys: Sequence[KeyPair] = (),
        require_signed_requests: bool = False,
        metadata_key_use: str | None = "signing",
        scopes: Sequence[str] = (),
        allow_remote_metadata: bool = False,
        route: str = "",
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown attribute profile {profile!r}; known: {', '.join(PROFILES)}")
        self.entity_id = entity_id
        self.base_url = base_url.rstrip("/")
        self.key = key or load_or_create(entity_id, key_dir)
        self.key_dir = key_dir
        self.profile = profile
        self.extra_signing_keys = list(extra_signing_keys)
        self.encryption_keys = list(encryption_keys)
        self.metadata_key_use = metadata_key_use
        self.scopes = list(scopes)
        self.require_signed_requests = require_signed_requests
        self.allow_remote_metadata = allow_remote_metadata
        # Several IdP processes behind one public endpoint (a run with workers): every token this IdP
        # hands out (plan cookies, out-of-band URLs) starts with "<route>." so the front routes to it.
        self.route = route
        self.users: list[User] = list(users) if users else [
            generate_user(profile, seed=i) for i in range(1, 4)
        ]
        self._sps: dict[str, SPInfo] = {}
        self._plans: dict[str, Plan] = {}
        self._issued: OrderedDict[str, IssuedResponse] = OrderedDict()
        self._baselines: OrderedDict[str, tuple[Any, SigningOptions]] = OrderedDict()
        self._pending: OrderedDict[str, tuple[AuthnRequestInfo, str | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._attacker: KeyPair | None = None
        self._oob: deque[dict[str, Any]] = deque(maxlen=self.MAX_OOB_HITS)
        self._oob_seq = 0  # hits ever recorded: a watcher remembers it and asks for what came after
        self.events: list[dict[str, Any]] = []  # what the IdP saw (requests, logins, errors), newest last

    MAX_EVENTS = 10_000
    MAX_OOB_HITS = 1_000  # out-of-band hits kept (oldest dropped): a flood never grows memory
    MAX_OOB_QUERY = 2_048  # characters of a hit's query string kept

    def record(self, event: dict[str, Any]) -> None:
        """Append to `events` (bounded: the oldest are dropped past MAX_EVENTS)."""
        with self._lock:
            self.events.append(event)
            if len(self.events) > self.MAX_EVENTS:
                del self.events[: len(self.events) - self.MAX_EVENTS]

    # ----------------------------------------------------------------- keys and metadata
    @property
    def attacker_key(self) -> KeyPair:
        """A throw-away key pair the SP has never seen (untrusted-signer faults)."""
        with self._lock:
            if self._attacker is None:
                from .keys import ephemeral

                self._attacker = ephemeral("samlconf attacker")
            return self._attacker

    def metadata_xml(self, *, sign: bool = False, valid_until: datetime | None = None,
                     cache_duration: str | None = None) -> bytes:
        """The IdP's metadata; `sign=True` signs the EntityDescriptor with the IdP key (META-03).

        `metadata_key_use=None` (constructor) leaves `use` off the signing KeyDescriptor (KEY-08);
        `encryption_keys` are published with use="encryption" (KEY-06).
        """
        return idp_metadata(
            self.entity_id,
            self.base_url,
            [self.key, *self.extra_signing_keys],
            encryption_keys=self.encryption_keys,
            want_authn_requests_signed=self.require_signed_requests,
            signing_use=self.metadata_key_use,
            sign_with=self.key if sign else None,
            valid_until=valid_until,
            cache_duration=cache_duration,
            scopes=self.scopes,
        )

    # ----------------------------------------------------------------- SPs
    def register_sp(self, metadata_xml: bytes) -> SPInfo:
        sp = parse_sp_metadata(metadata_xml)
        with self._lock:
            self._sps[sp.entity_id] = sp
        return sp

    MAX_METADATA_BYTES = 2 * 1024 * 1024

    def register_sp_url(self, url: str, *, timeout: float = 10.0) -> SPInfo:
        """Fetch SP metadata from `url` and trust it. Only loopback URLs unless the IdP was built with
        `allow_remote_metadata=True`; redirects are not followed; the body is streamed and cut at 2 MiB."""
        return self.register_sp(fetch_metadata(url, timeout=timeout, allow_remote=self.allow_remote_metadata,
                                               limit=self.MAX_METADATA_BYTES))

    def register_sp_file(self, path: Path | str) -> SPInfo:
        p = Path(path)
        try:
            return self.register_sp(p.read_bytes())
        except OSError as e:
            raise MetadataError(f"{p}: cannot read SP metadata ({e.strerror})") from None

    def add_sp(self, sp: SPInfo) -> SPInfo:
        with self._lock:
            self._sps[sp.entity_id] = sp
        return sp

    def sp(self, entity_id: str | None) -> SPInfo:
        with self._lock:
            found = self._sps.get(entity_id or "")
        if found is None:
            raise UnknownSP(entity_id)
        return found

    @property
    def sps(self) -> list[SPInfo]:
        with self._lock:
            return list(self._sps.values())

    # ----------------------------------------------------------------- plans
    def plan_login(
        self, user: User, faults: Sequence[Fault | str] = (), *, sp_entity_id: str | None = None, **options: Any
    ) -> str:
        """Decide ahead what the next login(s) carrying this token in the plan cookie get; return the token."""
        self._check_options(options)
        token = self._routed(secrets.token_urlsafe(24))
        with self._lock:
            self._plans[token] = Plan(user, tuple(_faults.resolve(faults)), dict(options), sp_entity_id)
        return token

    def get_plan(self, token: str | None) -> Plan | None:
        if not token:
            return None
        with self._lock:
            return self._plans.get(token)

    def forget_plan(self, token: str) -> None:
        with self._lock:
            self._plans.pop(token, None)

    # ----------------------------------------------------------------- issuing
    @staticmethod
    def _check_options(options: dict[str, Any]) -> None:
        unknown = set(options) - _SPEC_FIELDS - _SIGNING_FIELDS - {"acs_binding", "returned_relay_state", "logout_status", "logout_subcode",
                                                                      "answer_acs_index"}
        if unknown:
            raise TypeError(f"unknown response option(s): {', '.join(sorted(unknown))}")

    def _resolve_acs(self, sp: SPInfo | None, acs_url: str | None, acs_index: int | None = None) -> str:
        if acs_url:
            return acs_url
        if sp is None:
            raise ResponseError("no ACS URL: the SP is unknown and none was given")
        if acs_index is not None:
            ep = sp.acs_by_index(acs_index)
            if ep is None:
                raise ResponseError(f"SP {sp.entity_id} has no ACS with index {acs_index}")
            return ep.location
        return sp.default_acs().location

    def issue_response(
        self,
        sp_entity_id: str | None,
        user: User,
        *,
        in_response_to: str | None = None,
        acs_url: str | None = None,
        faults: Sequence[Fault | str] | Fault | str = (),
        relay_state: str | None = None,
        **options: Any,
    ) -> IssuedResponse:
        """Build, sign (and fault) a Response for `user` to the SP; remember it for `replay`.

        `options` are `ResponseSpec` fields (lifetime, now, audience, destination, status_code,
        ...) and `SigningOptions` fields (sign_response, sign_assertion, algorithm, digest, key,
        key_info, key_info_cert, encrypt, encryption).
        """
        self._check_options(options)
        options = dict(options)
        options.pop("acs_binding", None)
        for k in ("returned_relay_state", "logout_status", "logout_subcode"):
            options.pop(k, None)
        sp: SPInfo | None
        try:
            sp = self.sp(sp_entity_id)
        except UnknownSP:
            if not acs_url:
                raise
            sp = None
        acs = self._resolve_acs(sp, acs_url)
        spec_kw = {k: options.pop(k) for k in list(options) if k in _SPEC_FIELDS}
        signing = SigningOptions(**{k: options.pop(k) for k in list(options) if k in _SIGNING_FIELDS})
        spec_kw.setdefault("destination", acs)
        spec_kw.setdefault("audience", sp.entity_id if sp else sp_entity_id)
        spec = ResponseSpec(
            issuer=self.entity_id, acs_url=acs, user=user, in_response_to=in_response_to, **spec_kw
        )
        flist = _faults.resolve(faults)
        baseline = (copy.deepcopy(spec), replace(signing)) if flist else None  # for the report's diff
        ctx = FaultContext(idp=self, sp=sp, spec=spec, signing=signing)
        for f in flist:
            if f.spec:
                new = f.spec(ctx.spec, ctx)
                if new is not None:
                    ctx.spec = new
        for f in flist:
            if f.signing:
                f.signing(ctx.signing, ctx)
        spec, signing = ctx.spec, ctx.signing
        root = build_response(spec)
        for f in flist:
            if f.tree:
                new_root = f.tree(root, ctx)
                if new_root is not None:
                    root = new_root
        self._sign_assertions(root, signing)
        if signing.encrypt:
            from .encryption import encrypt_assertions

            encrypt_assertions(root, ctx)
        for f in flist:
            if f.encrypted:
                f.encrypted(root, ctx)
        self._sign_response(root, signing)
        for f in flist:
            if f.signed:
                new_root = f.signed(root, ctx)
                if new_root is not None:
                    root = new_root
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        for f in flist:
            if f.bytes_:
                xml = f.bytes_(xml, ctx)
        replayed = ctx.notes.get("replayed_response_id")
        if replayed:
            # A replay sends the earlier bytes: report the earlier IDs, and remember nothing new.
            old = self.replay(replayed)
            return replace(
                old, acs_url=acs, relay_state=relay_state, faults=tuple(f.label for f in flist), notes=dict(ctx.notes)
            )
        issued = IssuedResponse(
            xml=xml,
            saml_response_b64=encode_post(xml),
            acs_url=acs,
            relay_state=relay_state,
            response_id=spec.response_id,
            assertion_id=spec.assertion_id if spec.wants_assertion else None,
            sp_entity_id=sp.entity_id if sp else sp_entity_id,
            faults=tuple(f.label for f in flist),
            notes=dict(ctx.notes),
            name_id=user.name_id,
            attributes={k: list(v) for k, v in user.attributes.items()},
        )
        self._remember(issued, baseline)
        return issued

    def _signing_kw(self, signing: SigningOptions) -> tuple[KeyPair, dict[str, Any]]:
        return signing.key or self.key, dict(algorithm=signing.algorithm, digest=signing.digest,
                                             key_info=signing.key_info, key_info_cert=signing.key_info_cert)

    def _sign_assertions(self, root: etree._Element, signing: SigningOptions) -> None:
        if signing.sign_assertion:
            key, skw = self._signing_kw(signing)
            for a in root.findall(q(SAML, "Assertion")):
                if a.get("ID"):
                    sign(root, a, key, **skw)  # type: ignore[arg-type]

    def _sign_response(self, root: etree._Element, signing: SigningOptions) -> None:
        if signing.sign_response and root.get("ID"):
            key, skw = self._signing_kw(signing)
            sign(root, root, key, **skw)  # type: ignore[arg-type]

    def baseline_xml(self, response_id: str) -> bytes | None:
        """The valid Response the faulted one `response_id` was made from (same IDs and instants,
        signed alike, no fault): what a report diffs the faulted message against."""
        with self._lock:
            found = self._baselines.get(response_id)
        if found is None:
            return None
        spec, signing = found
        root = build_response(spec)
        self._sign_assertions(root, signing)
        self._sign_response(root, signing)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def sent_records(self, token: str) -> list[dict[str, Any]]:
        """What the IdP answered the logins of plan `token` with, for the scenario's evidence: the
        faults (id, parameters, description, refs), the user's NameID and attributes, the Response
        as pretty XML and its diff against the valid baseline."""
        from .xmldiff import pretty, unified

        plan = self.get_plan(token)
        if plan is None:
            return []
        out: list[dict[str, Any]] = []
        for rid in list(plan.issued):
            with self._lock:
                issued = self._issued.get(rid)
            if issued is None:
                continue
            rec: dict[str, Any] = {
                "response_id": rid,
                "acs_url": issued.acs_url,
                "relay_state": issued.relay_state,
                "faults": [{"id": f.id, "label": f.label, "params": {k: str(v) for k, v in f.params},
                            "description": f.description, "refs": list(f.refs)} for f in plan.faults],
                "name_id": issued.name_id or plan.user.name_id,
                "attributes": {k: list(v) for k, v in plan.user.attributes.items()},
                "xml": pretty(issued.xml),
            }
            base = self.baseline_xml(rid)
            if base is not None:
                rec["diff"] = unified(pretty(base), rec["xml"])
            out.append(rec)
        return out

    def issue_status(
        self,
        sp_entity_id: str | None,
        *,
        status_code: str,
        status_subcode: str | None = None,
        status_message: str | None = None,
        in_response_to: str | None = None,
        acs_url: str | None = None,
        relay_state: str | None = None,
        sign_response: bool = True,
    ) -> IssuedResponse:
        """A signed error Response (Requester/Responder + subcode), no assertion."""
        sp = None
        try:
            sp = self.sp(sp_entity_id)
        except UnknownSP:
            if not acs_url:
                raise
        acs = self._resolve_acs(sp, acs_url)
        root = build_status_response(
            issuer=self.entity_id,
            destination=acs,
            in_response_to=in_response_to,
            status_code=status_code,
            status_subcode=status_subcode,
            status_message=status_message,
        )
        if sign_response:
            sign(root, root, self.key)
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        issued = IssuedResponse(
            xml, encode_post(xml), acs, relay_state, root.get("ID") or "", None, sp_entity_id
        )
        self._remember(issued)
        return issued

    def _remember(self, issued: IssuedResponse, baseline: tuple[Any, Any] | None = None) -> None:
        with self._lock:
            self._issued[issued.response_id] = issued
            while len(self._issued) > REPLAY_MEMORY:
                self._issued.popitem(last=False)
            if baseline is not None:
                self._baselines[issued.response_id] = baseline
                while len(self._baselines) > REPLAY_MEMORY:
                    self._baselines.popitem(last=False)

    def replay(self, response_id: str) -> IssuedResponse:
        """The response issued earlier under `response_id`, byte for byte (replay faults)."""
        with self._lock:
            found = self._issued.get(response_id)
        if found is None:
            raise KeyError(f"no response {response_id!r} was issued (or it was forgotten)")
        return found

    @property
    def issued(self) -> list[IssuedResponse]:
        with self._lock:
            return list(self._issued.values())

    def recent_responses(self, n: int | None = None) -> list[IssuedResponse]:
        """The latest issued Responses (oldest first), at most `n`."""
        with self._lock:
            items = list(self._issued.values())
        return items if n is None else items[-n:]

    def apply_name_id_policy(self, user: User, fmt: str | None, sp_entity_id: str) -> User:
        """The user as the SP asked to name them (NameIDPolicy Format): persistent is a stable
        pseudonym per (IdP, SP, user), transient a fresh random value, email the Email attribute."""
        from .users import NAMEID_EMAIL, NAMEID_PERSISTENT, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED

        if not fmt or fmt == NAMEID_UNSPECIFIED or fmt == user.name_id_format:
            return user
        if fmt == NAMEID_PERSISTENT:
            import hashlib

            digest = hashlib.sha256(f"{self.entity_id}\0{sp_entity_id}\0{user.name_id}".encode()).hexdigest()
            return replace(user, name_id="_" + digest[:40], name_id_format=fmt)
        if fmt == NAMEID_TRANSIENT:
            return replace(user, name_id="_" + secrets.token_hex(20), name_id_format=fmt)
        if fmt == NAMEID_EMAIL:
            email = next((v[0] for k, v in user.attributes.items() if k.lower() in ("email", "mail") and v), None)
            if email or "@" in user.name_id:
                return replace(user, name_id=email or user.name_id, name_id_format=fmt)
        return user

    # ----------------------------------------------------------------- single logout
    _DEFAULT = object()

    def logout_request(
        self,
        sp_entity_id: str,
        name_id: str | None,
        *,
        session_index: str | None = None,
        name_id_format: str | None = None,
        name_qualifier: str | None = None,
        sp_name_qualifier: str | None = None,
        binding: str = BINDING_REDIRECT,
        relay_state: str | None = None,
        sign: bool = True,
        algorithm: str = "rsa-sha256",
        key: KeyPair | None = None,
        issuer: Any = _DEFAULT,
        destination: Any = _DEFAULT,
        lifetime: int = 300,
        signed_order: str = "standard",
        relay_state_sent: str | None = None,
        wrap_assertion_from: bytes | None = None,
    ) -> Any:
        """An IdP-initiated LogoutRequest to the SP's SLO endpoint (OutgoingMessage: URL or form).

        Name the principal exactly as asserted (SAML Core 3.7.1): the NameID value with its Format,
        NameQualifier and SPNameQualifier (`mock_idp.slo.asserted_name` reads them from an issued
        Response); SPs such as mod_auth_mellon and SimpleSAMLphp match all of them.

        For the SLO checks: sign=False (SLO-01), key=idp.attacker_key (SLO-02), issuer=None or
        another entity (SLO-03), lifetime<0 (SLO-04), destination=another URL or None (SLO-05),
        name_id of another user (SLO-06) or None (SLO-07); Redirect only: signed_order="swapped"
        (SLO-02: signature over another parameter order), relay_state_sent (RLY-07: RelayState
        changed after signing); wrap_assertion_from=<an issued response's xml> puts its signed
        Assertion into samlp:Extensions of the (then usually unsigned) request (SLO-10).
        """
        from .slo import build_logout_request, send

        sp = self.sp(sp_entity_id)
        ep = sp.slo_endpoint(binding)
        if ep is None:
            raise ResponseError(f"SP {sp.entity_id} has no SingleLogoutService endpoint")
        req = build_logout_request(
            issuer=self.entity_id if issuer is MockIdP._DEFAULT else issuer,
            destination=ep.location if destination is MockIdP._DEFAULT else destination,
            name_id=name_id, name_id_format=name_id_format, name_qualifier=name_qualifier,
            sp_name_qualifier=sp_name_qualifier, session_index=session_index, lifetime=lifetime,
        )
        if wrap_assertion_from is not None:
            from .bindings import safe_parse
            from .builder import SAMLP

            captured = safe_parse(wrap_assertion_from, "captured response").find(q(SAML, "Assertion"))
            if captured is None:
                raise ResponseError("wrap_assertion_from: the captured response has no plain Assertion")
            ext = etree.Element(q(SAMLP, "Extensions"))
            ext.append(captured)
            issuer_el = req.find(q(SAML, "Issuer"))
            if issuer_el is not None:
                issuer_el.addnext(ext)
            else:
                req.insert(0, ext)
        return send(req, ep.location, ep.binding, (key or self.key) if sign else None,
                    relay_state=relay_state, algorithm=algorithm, signed_order=signed_order,
                    relay_state_sent=relay_state_sent)

    def logout_response(
        self,
        sp_entity_id: str,
        in_response_to: str | None,
        *,
        status: str | None = STATUS_SUCCESS,
        subcode: str | None = None,
        binding: str = BINDING_REDIRECT,
        relay_state: str | None = None,
        sign: bool = True,
        key: KeyPair | None = None,
        issuer: Any = _DEFAULT,
    ) -> Any:
        """A LogoutResponse to the SP's SLO endpoint (answering an SP-initiated logout).

        For the SLO checks: in_response_to of another request (SLO-12), sign=False (SLO-13),
        status Responder / subcode PartialLogout (SLO-14), status=None: no Status (SLO-15).
        """
        from .slo import build_logout_response, send

        sp = self.sp(sp_entity_id)
        ep = sp.slo_endpoint(binding)
        if ep is None:
            raise ResponseError(f"SP {sp.entity_id} has no SingleLogoutService endpoint")
        url = ep.response_location or ep.location
        resp = build_logout_response(
            issuer=self.entity_id if issuer is MockIdP._DEFAULT else issuer,
            destination=url, in_response_to=in_response_to, status=status, subcode=subcode,
        )
        return send(resp, url, ep.binding, (key or self.key) if sign else None, relay_state=relay_state)

    # ----------------------------------------------------------------- out-of-band watch (XXE, XSLT)
    def oob_url(self, token: str, kind: str = "x") -> str:
        """A loopback URL on this IdP; any fetch of it is recorded (an SP resolving entities, running XSLT)."""
        return f"{self.base_url}/oob/{self._routed(token)}/{kind}"

    def _routed(self, token: str) -> str:
        return f"{self.route}.{token}" if self.route else token

    def record_oob(self, token: str, kind: str, info: dict[str, Any]) -> None:
        if self.route and token.startswith(self.route + "."):
            token = token[len(self.route) + 1:]
        hit = {k: (v[: self.MAX_OOB_QUERY] if isinstance(v, str) else v) for k, v in info.items()}
        with self._lock:
            self._oob_seq += 1
            self._oob.append({"seq": self._oob_seq, "token": token[:64], "kind": kind[:64], **hit})

    def oob_seq(self) -> int:
        """How many out-of-band hits were ever recorded (a watcher's starting point)."""
        with self._lock:
            return self._oob_seq

    def oob_hits(self, token: str | None = None, *, since: int = 0) -> list[dict[str, Any]]:
        """Recorded hits (the newest MAX_OOB_HITS), for `token` or all, after sequence number `since`."""
        with self._lock:
            return [h for h in self._oob if h["seq"] > since and (token is None or h["token"] == token)]

    # ----------------------------------------------------------------- the web app
    def app(self) -> Any:
        from .web import create_app

        return create_app(self)
