"""The lab's independent truth probe: its own IdP (key, certificate, metadata), its own SAML Response
builder and signer (python `xmlsec` calls written here), its own HTTP walk through a real SP.

Nothing here imports samlconf (harness/, mock_idp/, scenarios/): the facts it measures are the
ground truth the lab's expected matrix is checked against, so they must not share samlconf's bugs.

    python -m lab.probekit --target shibboleth-sp      # start the target with the probe's IdP, run its
                                                       # cases (lab/<dir>/probe.py), update lab/truth.toml
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import secrets
import sys
import time
import tomllib
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
EMAIL_FMT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
PROBE_IDP = "urn:samlconf-lab:probe-idp"
TRUTH_FILE = Path(__file__).resolve().parent / "truth.toml"


# --- the probe's IdP ------------------------------------------------------------------------
class ProbeIdP:
    """A fresh RSA-2048 key and self-signed certificate per probe run (never samlconf's)."""

    def __init__(self, entity_id: str = PROBE_IDP, sso_url: str = "http://127.0.0.1/sso") -> None:
        self.entity_id, self.sso_url = entity_id, sso_url
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "samlconf lab probe IdP")])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
                     .sign(self.key, hashes.SHA256()))
        self.key_pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_b64(self) -> str:
        return "".join(self.cert_pem.decode().strip().splitlines()[1:-1])

    def metadata(self) -> bytes:
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{self.entity_id}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="{SAMLP}">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{self.cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>{EMAIL_FMT}</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{self.sso_url}"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{self.sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
""".encode()

    def sign(self, root: etree._Element, element: etree._Element, *, sig_alg: str = "rsa-sha256",
             digest: str = "sha256") -> None:
        """Enveloped signature over `element` (by its ID), placed right after its Issuer."""
        transform = {"rsa-sha256": xmlsec.Transform.RSA_SHA256, "rsa-sha1": xmlsec.Transform.RSA_SHA1}[sig_alg]
        dtransform = {"sha256": xmlsec.Transform.SHA256, "sha1": xmlsec.Transform.SHA1}[digest]
        sig = xmlsec.template.create(element, xmlsec.Transform.EXCL_C14N, transform, ns="ds")
        issuer = element.find(f"{{{SAML}}}Issuer")
        if issuer is not None:
            issuer.addnext(sig)
        else:
            element.insert(0, sig)
        ref = xmlsec.template.add_reference(sig, dtransform, uri="#" + element.get("ID"))
        xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
        xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
        self.complete(root, sig)

    def complete(self, root: etree._Element, sig: etree._Element) -> None:
        """KeyInfo with the certificate, then the signature value over the template `sig` in `root`."""
        xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
        xmlsec.tree.add_ids(root, ["ID"])
        ctx = xmlsec.SignatureContext()
        key = xmlsec.Key.from_memory(self.key_pem, xmlsec.KeyFormat.PEM)
        key.load_cert_from_memory(self.cert_pem, xmlsec.KeyFormat.PEM)
        ctx.key = key
        ctx.sign(sig)


# --- building a Response --------------------------------------------------------------------
def _t(delta: float = 0.0) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id() -> str:
    return "_p" + secrets.token_hex(16)


@dataclass
class Shape:
    """What the probe's IdP asserts; each field is one knob a case may turn."""

    email: str
    acs: str
    audience: str | None
    in_response_to: str | None = None
    issuer: str = PROBE_IDP
    attributes: dict[str, list[str]] = field(default_factory=dict)
    sign_assertion: bool = True
    sign_response: bool = False
    with_conditions: bool = True
    with_audience: bool = True
    recipient: str | None = None  # default: acs; "" leaves it out
    destination: str | None = None  # default: acs; "" leaves it out
    not_on_or_after: float = 300.0  # seconds from now, SubjectConfirmationData and Conditions
    not_before: float = -60.0
    sig_alg: str = "rsa-sha256"
    digest: str = "sha256"
    after_sign: Callable[[etree._Element], None] | None = None  # change the XML after signing


def build_response(idp: ProbeIdP, s: Shape) -> bytes:
    rid, aid, now = _id(), _id(), _t()
    irt = {"InResponseTo": s.in_response_to} if s.in_response_to else {}
    dest = {} if s.destination == "" else {"Destination": s.destination or s.acs}
    resp = etree.Element(f"{{{SAMLP}}}Response", nsmap={"samlp": SAMLP, "saml": SAML},
                         ID=rid, Version="2.0", IssueInstant=now, **dest, **irt)
    etree.SubElement(resp, f"{{{SAML}}}Issuer").text = s.issuer
    st = etree.SubElement(resp, f"{{{SAMLP}}}Status")
    etree.SubElement(st, f"{{{SAMLP}}}StatusCode", Value=SUCCESS)
    a = etree.SubElement(resp, f"{{{SAML}}}Assertion", ID=aid, Version="2.0", IssueInstant=now)
    etree.SubElement(a, f"{{{SAML}}}Issuer").text = s.issuer
    subj = etree.SubElement(a, f"{{{SAML}}}Subject")
    etree.SubElement(subj, f"{{{SAML}}}NameID", Format=EMAIL_FMT).text = s.email
    sc = etree.SubElement(subj, f"{{{SAML}}}SubjectConfirmation", Method=BEARER)
    rcpt = {} if s.recipient == "" else {"Recipient": s.recipient or s.acs}
    etree.SubElement(sc, f"{{{SAML}}}SubjectConfirmationData", **rcpt, NotOnOrAfter=_t(s.not_on_or_after), **irt)
    if s.with_conditions:
        cond = etree.SubElement(a, f"{{{SAML}}}Conditions", NotBefore=_t(s.not_before),
                                NotOnOrAfter=_t(s.not_on_or_after))
        if s.with_audience and s.audience:
            ar = etree.SubElement(cond, f"{{{SAML}}}AudienceRestriction")
            etree.SubElement(ar, f"{{{SAML}}}Audience").text = s.audience
    an = etree.SubElement(a, f"{{{SAML}}}AuthnStatement", AuthnInstant=now, SessionIndex=_id())
    ac = etree.SubElement(an, f"{{{SAML}}}AuthnContext")
    etree.SubElement(ac, f"{{{SAML}}}AuthnContextClassRef").text = \
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    attrs = s.attributes or {"Email": [s.email]}
    ats = etree.SubElement(a, f"{{{SAML}}}AttributeStatement")
    for name, values in attrs.items():
        at = etree.SubElement(ats, f"{{{SAML}}}Attribute", Name=name, NameFormat=BASIC)
        for v in values:
            etree.SubElement(at, f"{{{SAML}}}AttributeValue").text = v
    if s.sign_assertion:
        idp.sign(resp, a, sig_alg=s.sig_alg, digest=s.digest)
    if s.sign_response:
        idp.sign(resp, resp, sig_alg=s.sig_alg, digest=s.digest)
    if s.after_sign:
        s.after_sign(resp)
    return etree.tostring(resp, xml_declaration=True, encoding="UTF-8")


# --- walking the SP -------------------------------------------------------------------------
@dataclass
class Login:
    """One SP-initiated login attempt as the probe saw it."""

    request_id: str | None = None
    acs: str | None = None
    relay_state: str | None = None
    acs_status: int | None = None
    acs_page: str = ""
    hops: list[str] = field(default_factory=list)
    whoami_status: int | None = None
    whoami: str = ""

    def lines(self) -> list[str]:
        return self.hops + [f"whoami -> {self.whoami_status} {self.whoami[:400]}"]


def decode_redirect_request(url: str) -> tuple[etree._Element, str | None]:
    q = parse_qs(urlsplit(url).query)
    xml = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(xml, parser), (q.get("RelayState") or [None])[0]


def page_text(text: str) -> str:
    """The visible text of an HTML page (or the text as it is), on one line."""
    from lxml import html as lhtml

    try:
        body = lhtml.document_fromstring(text.encode() if text else b"<html/>").find("body")
        text = body.text_content() if body is not None else text
    except (etree.ParserError, ValueError):
        pass
    return " ".join(text.split())


class Browser:
    """httpx with a cookie jar, redirects followed by hand (bounded) so every hop is seen."""

    def __init__(self, ca_file: Path | None, idp_origin: str) -> None:
        import ssl

        verify: Any = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self.http = httpx.Client(verify=verify, timeout=20.0, follow_redirects=False)
        self.idp_origin = idp_origin

    def close(self) -> None:
        self.http.close()

    def walk(self, resp: httpx.Response, hops: list[str], limit: int = 8) -> httpx.Response:
        for _ in range(limit):
            hops.append(f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}"
                        + (f" Location {resp.headers['location'][:70]}" if "location" in resp.headers else ""))
            if resp.status_code not in (301, 302, 303, 307, 308) or "location" not in resp.headers:
                return resp
            nxt = urljoin(str(resp.request.url), resp.headers["location"])
            if nxt.startswith(self.idp_origin):
                return resp
            resp = self.http.get(nxt)
        return resp

    def start_login(self, login_url: str) -> Login:
        lg = Login()
        r = self.walk(self.http.get(login_url), lg.hops)
        loc = urljoin(str(r.request.url), r.headers.get("location", ""))
        if not loc.startswith(self.idp_origin):
            raise RuntimeError(f"login {login_url} did not redirect to the probe IdP ({lg.hops[-1]})")
        req, lg.relay_state = decode_redirect_request(loc)
        lg.request_id, lg.acs = req.get("ID"), req.get("AssertionConsumerServiceURL")
        return lg

    def post_response(self, lg: Login, acs: str, xml: bytes) -> None:
        data = {"SAMLResponse": base64.b64encode(xml).decode()}
        if lg.relay_state is not None:
            data["RelayState"] = lg.relay_state
        first = self.http.post(acs, data=data)
        lg.acs_status = first.status_code
        lg.acs_page = page_text(first.text)
        self.walk(first, lg.hops)

    def look(self, lg: Login, whoami_url: str) -> None:
        r = self.http.get(whoami_url)
        lg.whoami_status, lg.whoami = r.status_code, " ".join(r.text.split())


# --- running a target's cases ---------------------------------------------------------------
@dataclass
class Fact:
    key: str
    claim: str  # what the lab's expected rows rely on, in one line
    holds: bool
    output: list[str]


@dataclass
class ProbeContext:
    idp: ProbeIdP
    base_url: str
    ca_file: Path | None
    idp_port: int
    facts: list[Fact] = field(default_factory=list)
    settle: Callable[[], None] | None = None  # called before every attempt (e.g. wait for a restarted daemon)

    def browser(self) -> Browser:
        return Browser(self.ca_file, f"http://127.0.0.1:{self.idp_port}")

    def user(self, tag: str) -> str:
        return f"probe.{tag}.{secrets.token_hex(3)}@example.com"

    def fact(self, key: str, claim: str, holds: bool, output: list[str]) -> bool:
        self.facts.append(Fact(key, claim, bool(holds), output))
        mark = "holds" if holds else "DOES NOT HOLD"
        print(f"[{key}] {mark}: {claim}")
        for line in output:
            print(f"    {line}")
        return holds


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _key(name: str) -> str:
    """A TOML key: bare when it can be (letters, digits, - and _), else quoted (node-saml-5.0.1)."""
    import re

    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_str(name)


def write_truth(target: str, product: str, version: str, facts: list[Fact], path: Path = TRUTH_FILE) -> None:
    """Replace `target`'s section of truth.toml, keeping the other targets' sections as they are."""
    text = path.read_text(encoding="utf-8") if path.exists() else TRUTH_HEADER
    data = tomllib.loads(text)
    data[target] = {"product": product, "version": version, "measured_at": _t(),
                    "probe": "python -m lab.probekit --target " + target,
                    "facts": {f.key: {"claim": f.claim, "holds": f.holds, "output": f.output} for f in facts}}
    lines = [TRUTH_HEADER.rstrip(), ""]
    for name in sorted(data):
        sec = data[name]
        lines.append(f"[{_key(name)}]")
        for k in ("product", "version", "measured_at", "probe"):
            lines.append(f"{k} = {_toml_str(str(sec.get(k, '')))}")
        lines.append("")
        for key, f in sec.get("facts", {}).items():
            lines.append(f"[{_key(name)}.facts.{_key(key)}]")
            lines.append(f"claim = {_toml_str(f['claim'])}")
            lines.append(f"holds = {'true' if f['holds'] else 'false'}")
            lines.append("output = [")
            lines.extend(f"  {_toml_str(o)}," for o in f["output"])
            lines.append("]")
            lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


TRUTH_HEADER = """\
# Facts about the lab's targets, measured WITHOUT samlconf: `python -m lab.probekit --target NAME`
# starts the target with the probe's own IdP (its own key, metadata and signing code in
# lab/probekit.py), runs the target's cases (lab/<dir>/probe.py) and rewrites that target's section.
# Each fact: the claim the expected matrix (lab/expected.toml) relies on, whether it held, and the
# probe's output that showed it (HTTP hops at the SP, then what the SP's whoami page said).
"""


def main(argv: list[str] | None = None) -> int:
    import importlib.util

    from . import run as labrun

    p = argparse.ArgumentParser(prog="lab.probekit", description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, action="append", metavar="NAME")
    p.add_argument("--no-write", action="store_true", help="print the facts, leave lab/truth.toml alone")
    args = p.parse_args(argv)
    manifests = {m.name: m for m in labrun.discover()}
    worst = 0
    for name in args.target:
        m = manifests.get(name)
        if m is None:
            print(f"probe: no lab target {name!r}", file=sys.stderr)
            return 2
        probe_file = m.dir / "probe.py"
        if not probe_file.exists():
            print(f"probe: {name}: no probe.py in {m.dir}", file=sys.stderr)
            return 2
        spec = importlib.util.spec_from_file_location(f"lab_probe_{m.dir.name}", probe_file)
        mod = importlib.util.module_from_spec(spec)
        assert spec.loader is not None
        spec.loader.exec_module(mod)
        tdata = tomllib.loads((m.dir / m.target).read_text(encoding="utf-8"))
        ca = tdata.get("ca_file")
        idp = ProbeIdP(sso_url=f"http://127.0.0.1:{m.idp_port}/sso")
        lab = labrun.Lab(labrun.REPO / "lab-report" / "probe", labrun.REPO / "build" / "lab-probe", sys.executable)
        ctx = ProbeContext(idp, str(tdata.get("base_url", "")).rstrip("/"), (m.dir / ca) if ca else None, m.idp_port)
        t0 = time.monotonic()
        with lab.started(m, idp_metadata=idp.metadata(), idp_entity_id=idp.entity_id) as problem:
            if problem:
                print(f"probe: {name}: {problem}", file=sys.stderr)
                return 1
            mod.run(ctx)
        print(f"probe: {name}: {len(ctx.facts)} facts in {time.monotonic() - t0:.1f}s")
        if not all(f.holds for f in ctx.facts if f.key in ("golden-login", "refusal-signal")):
            worst = 1  # the other facts are measurements either way (holds = the leniency exists)
        if not args.no_write:
            write_truth(name, m.product, m.version, ctx.facts)
    return worst


if __name__ == "__main__":
    sys.exit(main())


# --- the cases every real SP is probed with -------------------------------------------------
@dataclass
class SPPaths:
    """Where a target's login, ACS and echo page are (relative to its base URL)."""

    login: str
    acs: str
    whoami: str
    entity_id: str  # the SP's entityID (the Audience of unsolicited responses)


def whoami_email(lg: Login) -> str | None:
    if lg.whoami_status != 200:
        return None
    try:
        return json.loads(lg.whoami).get("email")
    except (ValueError, AttributeError):
        return None


def attempt(ctx: ProbeContext, paths: SPPaths, tag: str, *, solicited: bool = True,
            xml_hook: Callable[[etree._Element, ProbeIdP], bytes] | None = None, relay_state: str | None = None,
            **shape: Any) -> tuple[str, Login]:
    """One login in a fresh browser: SP-initiated (the AuthnRequest's ID, ACS and Issuer taken from
    the redirect) or unsolicited; `shape` turns the Response's knobs; `xml_hook` may rebuild it."""
    if ctx.settle is not None:
        ctx.settle()
    email = ctx.user(tag)
    b = ctx.browser()
    try:
        lg = b.start_login(ctx.base_url + paths.login) if solicited else Login(acs=ctx.base_url + paths.acs)
        if relay_state is not None:
            lg.relay_state = relay_state
        s = Shape(email=email, acs=lg.acs or ctx.base_url + paths.acs, audience=paths.entity_id,
                  in_response_to=lg.request_id if solicited else None)
        for k, v in shape.items():
            setattr(s, k, v)
        xml = build_response(ctx.idp, s)
        if xml_hook is not None:
            xml = xml_hook(etree.fromstring(xml), ctx.idp)
        b.post_response(lg, s.acs, xml)
        b.look(lg, ctx.base_url + paths.whoami)
    finally:
        b.close()
    return email, lg


def _duplicate_email(root: etree._Element, idp: ProbeIdP) -> bytes:
    """Two Attribute elements named Email (the second says other@example.com), signed together."""
    a = root.find(f"{{{SAML}}}Assertion")
    a.remove(a.find(f"{{{DS}}}Signature"))
    ats = a.find(f"{{{SAML}}}AttributeStatement")
    clone = etree.fromstring(etree.tostring(ats.find(f"{{{SAML}}}Attribute")))
    clone.find(f"{{{SAML}}}AttributeValue").text = "other@example.com"
    ats.append(clone)
    idp.sign(root, a)
    return etree.tostring(root)


def standard_cases(ctx: ProbeContext, paths: SPPaths, refusal_page: Callable[[Login], str] | None = None) -> None:
    """The facts the expected matrix leans on for every real SP: the golden login works, how a
    refusal looks, and the leniencies the suite's fail/warn rows claim (each measured here)."""
    email, lg = attempt(ctx, paths, "golden")
    ctx.fact("golden-login", "a Response with a signed Assertion for the SP's own AuthnRequest signs the user in "
             "(whoami shows the asserted email)", whoami_email(lg) == email,
             [f"AuthnRequest {lg.request_id} ACS {lg.acs}"] + lg.lines())

    email, lg = attempt(ctx, paths, "unsigned", sign_assertion=False)
    page = refusal_page(lg) if refusal_page else lg.acs_page[:200]
    ctx.fact("refusal-signal", f"a refused Response (unsigned Assertion) gets HTTP {lg.acs_status} from the ACS "
             "and leaves no session (whoami 401)", lg.whoami_status == 401, lg.lines() + [f"ACS page: {page}"])

    email, lg = attempt(ctx, paths, "wrong-audience", audience="https://other-sp.example/metadata")
    ctx.fact("refuses-wrong-audience", "an Assertion for another SP's Audience is refused (no session)",
             whoami_email(lg) is None, lg.lines())

    def holds_if_signed_in(key: str, claim: str, tag: str, **kw: Any) -> None:
        email, lg = attempt(ctx, paths, tag, **kw)
        seen = whoami_email(lg)
        ctx.fact(key, claim + (" -- measured: signed in" if seen == email else " -- measured: refused"),
                 seen == email, lg.lines())

    holds_if_signed_in("accepts-unsolicited", "an unsolicited Response (no InResponseTo, IdP-initiated) signs the "
                       "user in", "unsolicited", solicited=False)
    holds_if_signed_in("accepts-unknown-inresponseto", "a Response whose InResponseTo names no request this SP sent "
                       "signs the user in (no request correlation)", "irt-unknown",
                       in_response_to="_never_requested_by_this_sp")
    holds_if_signed_in("accepts-missing-inresponseto", "a Response with no InResponseTo, posted in an SP-initiated "
                       "login, signs the user in", "irt-missing", in_response_to="")
    holds_if_signed_in("accepts-no-audience-restriction", "an Assertion whose Conditions hold no "
                       "AudienceRestriction signs the user in", "no-audience", with_audience=False)
    holds_if_signed_in("accepts-no-conditions", "an Assertion without Conditions signs the user in",
                       "no-conditions", with_conditions=False)
    holds_if_signed_in("accepts-signed-response-unsigned-assertion", "a signed Response carrying an unsigned "
                       "Assertion signs the user in", "response-signed", sign_assertion=False, sign_response=True)
    holds_if_signed_in("accepts-rsa-sha1", "an Assertion signed with RSA-SHA1 over a SHA-1 digest signs the user in",
                       "rsa-sha1", sig_alg="rsa-sha1", digest="sha1")
    holds_if_signed_in("accepts-wrong-destination", "a Response whose Destination is another URL signs the user in",
                       "wrong-destination", destination="https://other-sp.example/acs")
    holds_if_signed_in("accepts-wrong-recipient", "a bearer SubjectConfirmationData whose Recipient is another URL "
                       "signs the user in", "wrong-recipient", recipient="https://other-sp.example/acs")
    holds_if_signed_in("accepts-expired-subject-confirmation", "a SubjectConfirmationData NotOnOrAfter 10 minutes "
                       "in the past (Conditions still valid) signs the user in", "scd-expired",
                       xml_hook=_expire_scd)

    holds_if_signed_in("accepts-signed-response-without-destination", "a signed Response (and signed Assertion) "
                       "without Destination signs the user in", "no-destination", destination="", sign_response=True)
    holds_if_signed_in("accepts-no-recipient", "a bearer SubjectConfirmationData without Recipient signs the user in",
                       "no-recipient", recipient="")
    holds_if_signed_in("accepts-no-bearer-confirmation", "a Subject whose only SubjectConfirmation is sender-vouches "
                       "(no bearer) signs the user in", "no-bearer", xml_hook=_resign(_sender_vouches))
    holds_if_signed_in("accepts-scd-without-notonorafter", "a bearer SubjectConfirmationData without NotOnOrAfter "
                       "signs the user in", "scd-no-expiry", xml_hook=_resign(_scd_no_expiry))
    holds_if_signed_in("accepts-empty-nameid", "an Assertion whose NameID is empty (Email attribute present) signs "
                       "someone in", "empty-nameid", xml_hook=_resign(_empty_nameid))
    holds_if_signed_in("accepts-response-issuer-mismatch", "a Response whose (unsigned) Issuer is another entity, "
                       "its signed Assertion's Issuer right, signs the user in", "issuer-mismatch",
                       xml_hook=_response_issuer("urn:samlconf-lab:someone-else"))
    holds_if_signed_in("accepts-assertion-issuer-mismatch", "a signed Assertion whose Issuer is another entity, "
                       "the Response's Issuer right, signs the user in", "assertion-issuer",
                       xml_hook=_resign(_assertion_issuer))
    holds_if_signed_in("accepts-second-audience-restriction", "an Assertion with a second AudienceRestriction naming "
                       "only another SP signs the user in", "second-audience", xml_hook=_resign(_second_audience))
    holds_if_signed_in("accepts-doctype", "a Response carrying a DOCTYPE (an internal subset, no entity used) signs "
                       "the user in", "doctype", xml_hook=_with_doctype)

    email, lg = attempt(ctx, paths, "foreign-relaystate", solicited=False, relay_state="https://evil.example/phish")
    went = [h for h in lg.hops if "evil.example" in h]
    ctx.fact("redirects-to-foreign-relaystate", "an unsolicited Response with RelayState https://evil.example/phish "
             f"is followed by a redirect there -- measured: {'redirected' if went else 'not redirected'}, "
             f"{'signed in' if whoami_email(lg) == email else 'no session'} (ACS HTTP {lg.acs_status})",
             bool(went), lg.lines() + [f"ACS page: {lg.acs_page[:200]}"])

    email, lg = attempt(ctx, paths, "dup-attr", xml_hook=_duplicate_email)
    seen = whoami_email(lg) or ""
    ctx.fact("accepts-duplicated-attribute", "two Attribute elements named Email (second value other@example.com) "
             f"sign the user in, the app seeing both values -- measured: whoami email {seen!r}",
             email in seen and "other@example.com" in seen, lg.lines())

    signature_shape_cases(ctx, holds_if_signed_in)

    # replay: the same signed Response posted again in a fresh browser
    email = ctx.user("replay")
    first, second = ctx.browser(), ctx.browser()
    try:
        s = Shape(email=email, acs=ctx.base_url + paths.acs, audience=paths.entity_id)
        xml = build_response(ctx.idp, s)
        one, two = Login(), Login()
        first.post_response(one, s.acs, xml)
        first.look(one, ctx.base_url + paths.whoami)
        second.post_response(two, s.acs, xml)
        second.look(two, ctx.base_url + paths.whoami)
    finally:
        first.close()
        second.close()
    ctx.fact("accepts-replay", "the same signed unsolicited Response posted a second time (fresh browser) signs the "
             f"user in again -- measured: first {whoami_email(one) == email}, second {whoami_email(two) == email}",
             whoami_email(one) == email and whoami_email(two) == email,
             ["first post:"] + one.lines() + ["second post:"] + two.lines())


def _expire_scd(root: etree._Element, idp: ProbeIdP) -> bytes:
    a = root.find(f"{{{SAML}}}Assertion")
    a.remove(a.find(f"{{{DS}}}Signature"))
    a.find(f".//{{{SAML}}}SubjectConfirmationData").set("NotOnOrAfter", _t(-600))
    idp.sign(root, a)
    return etree.tostring(root)


def _resign(change: Callable[[etree._Element], None]) -> Callable[[etree._Element, ProbeIdP], bytes]:
    """Change the Assertion, then sign it again (so only the change is under test)."""
    def hook(root: etree._Element, idp: ProbeIdP) -> bytes:
        a = root.find(f"{{{SAML}}}Assertion")
        a.remove(a.find(f"{{{DS}}}Signature"))
        change(a)
        idp.sign(root, a)
        return etree.tostring(root)
    return hook


def _sender_vouches(a: etree._Element) -> None:
    a.find(f".//{{{SAML}}}SubjectConfirmation").set("Method", "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches")


def _scd_no_expiry(a: etree._Element) -> None:
    del a.find(f".//{{{SAML}}}SubjectConfirmationData").attrib["NotOnOrAfter"]


def _empty_nameid(a: etree._Element) -> None:
    a.find(f".//{{{SAML}}}NameID").text = ""


def _assertion_issuer(a: etree._Element) -> None:
    a.find(f"{{{SAML}}}Issuer").text = "urn:samlconf-lab:someone-else"


def _second_audience(a: etree._Element) -> None:
    cond = a.find(f"{{{SAML}}}Conditions")
    ar = etree.SubElement(cond, f"{{{SAML}}}AudienceRestriction")
    etree.SubElement(ar, f"{{{SAML}}}Audience").text = "https://other-sp.example/metadata"


def _response_issuer(issuer: str) -> Callable[[etree._Element, ProbeIdP], bytes]:
    def hook(root: etree._Element, idp: ProbeIdP) -> bytes:
        root.find(f"{{{SAML}}}Issuer").text = issuer
        return etree.tostring(root)
    return hook


def _with_doctype(root: etree._Element, idp: ProbeIdP) -> bytes:
    body = etree.tostring(root)
    return b'<?xml version="1.0"?>\n<!DOCTYPE samlp:Response [ <!ELEMENT samlp:Response ANY> ]>\n' + body


# --- signature shapes SAML's signature profile forbids (Core 5.4), each a real IdP signature -------
def _shaped_sign(root: etree._Element, a: etree._Element, idp: ProbeIdP, *, c14n: Any = None, uri: str | None = None,
                 three_transforms: bool = False, decoy_id: str | None = None) -> None:
    """Re-sign Assertion `a` (its old Signature removed) in one forbidden shape: another SignedInfo
    canonicalization, another Reference URI, enveloped twice, or a second Reference to `decoy_id`."""
    old = a.find(f"{{{DS}}}Signature")
    if old is not None:
        a.remove(old)
    sig = xmlsec.template.create(a, c14n or xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
    a.find(f"{{{SAML}}}Issuer").addnext(sig)
    ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#" + a.get("ID") if uri is None else uri)
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    if three_transforms:
        xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    if decoy_id:
        ref2 = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#" + decoy_id)
        xmlsec.template.add_transform(ref2, xmlsec.Transform.EXCL_C14N)
    idp.complete(root, sig)


def _extensions(root: etree._Element) -> etree._Element:
    ext = etree.Element(f"{{{SAMLP}}}Extensions")
    root.find(f"{{{SAML}}}Issuer").addnext(ext)
    return ext


def _sig_after_subject(root: etree._Element, idp: ProbeIdP) -> bytes:
    a = root.find(f"{{{SAML}}}Assertion")
    a.find(f"{{{SAML}}}Subject").addnext(a.find(f"{{{DS}}}Signature"))  # moved whole: still a valid signature
    return etree.tostring(root)


def _decoy_same_id(root: etree._Element, idp: ProbeIdP) -> bytes:
    a = root.find(f"{{{SAML}}}Assertion")
    etree.SubElement(_extensions(root), "{urn:samlconf-lab:probe}Decoy", ID=a.get("ID")).text = "decoy"
    return etree.tostring(root)


def _two_references(root: etree._Element, idp: ProbeIdP) -> bytes:
    etree.SubElement(_extensions(root), "{urn:samlconf-lab:probe}Decoy", ID="_probe_decoy").text = "decoy"
    _shaped_sign(root, root.find(f"{{{SAML}}}Assertion"), idp, decoy_id="_probe_decoy")
    return etree.tostring(root)


def _reshaped(**kw: Any) -> Callable[[etree._Element, ProbeIdP], bytes]:
    def hook(root: etree._Element, idp: ProbeIdP) -> bytes:
        _shaped_sign(root, root.find(f"{{{SAML}}}Assertion"), idp, **kw)
        return etree.tostring(root)
    return hook


def signature_shape_cases(ctx: ProbeContext, holds_if_signed_in: Callable[..., None]) -> None:
    """The signature-profile leniencies the matrix's SIG/ALG fail rows claim, each one real IdP
    signature in a shape SAML forbids (Core 5.4) but a generic XML-DSig verifier accepts."""
    holds_if_signed_in("accepts-signature-after-subject", "an Assertion whose (valid) ds:Signature sits after Subject, "
                       "not right after Issuer (the schema's position), signs the user in (samlconf SIG-16)",
                       "sig-after-subject", xml_hook=_sig_after_subject)
    holds_if_signed_in("accepts-duplicate-id-decoy", "a signed Assertion whose ID is also carried by a decoy element in "
                       "samlp:Extensions (an ID twice in the message) signs the user in (samlconf SIG-18)",
                       "duplicate-id", xml_hook=_decoy_same_id)
    holds_if_signed_in("accepts-two-references", "an Assertion signature whose SignedInfo has two References (the "
                       "Assertion and a decoy in samlp:Extensions), validly signed, signs the user in (samlconf SIG-12)",
                       "two-references", xml_hook=_two_references)
    holds_if_signed_in("accepts-empty-reference-uri", "an Assertion signature whose Reference URI is \"\" (the whole "
                       "document, not the Assertion's #ID), validly signed, signs the user in (samlconf SIG-14)",
                       "empty-uri", xml_hook=_reshaped(uri=""))
    holds_if_signed_in("accepts-c14n11", "an Assertion signature whose SignedInfo is canonicalized with inclusive "
                       "c14n 1.1, validly signed, signs the user in (samlconf ALG-07)", "c14n11",
                       xml_hook=_reshaped(c14n=xmlsec.Transform.C14N11))
    holds_if_signed_in("accepts-three-transforms", "an Assertion signature whose Reference has three transforms "
                       "(enveloped twice + exc-c14n), validly signed, signs the user in (samlconf ALG-08)",
                       "three-transforms", xml_hook=_reshaped(three_transforms=True))
