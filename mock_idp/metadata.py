"""IdP metadata out, SP metadata in (parsed safely)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from lxml import etree

from .bindings import BINDING_POST, BINDING_REDIRECT, BindingError, safe_parse
from .builder import DS, MD, q
from .keys import KeyPair
from .users import NAMEID_FORMATS

__all__ = ["Endpoint", "SPInfo", "MetadataError", "idp_metadata", "parse_sp_metadata", "MAX_METADATA"]

MAX_METADATA = 2 * 1024 * 1024
SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"


class MetadataError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class Endpoint:
    binding: str
    location: str
    index: int | None = None
    is_default: bool | None = None
    response_location: str | None = None


@dataclass
class SPInfo:
    entity_id: str
    acs: list[Endpoint] = field(default_factory=list)
    slo: list[Endpoint] = field(default_factory=list)
    signing_certs: list[str] = field(default_factory=list)  # base64 DER
    encryption_certs: list[str] = field(default_factory=list)
    name_id_formats: list[str] = field(default_factory=list)
    want_assertions_signed: bool = False
    authn_requests_signed: bool = False
    metadata_xml: bytes | None = None

    def default_acs(self) -> Endpoint:
        """SAML metadata 2.2.3: isDefault="true", else the first not marked false, else the first."""
        post = [e for e in self.acs if e.binding == BINDING_POST] or self.acs
        if not post:
            raise MetadataError(f"SP {self.entity_id} has no AssertionConsumerService")
        for e in post:
            if e.is_default:
                return e
        for e in post:
            if e.is_default is None:
                return e
        return post[0]

    def acs_by_index(self, index: int) -> Endpoint | None:
        return next((e for e in self.acs if e.index == index), None)

    def acs_by_url(self, url: str) -> Endpoint | None:
        return next((e for e in self.acs if e.location == url), None)

    def slo_endpoint(self, binding: str | None = None) -> Endpoint | None:
        if binding:
            found = next((e for e in self.slo if e.binding == binding), None)
            if found:
                return found
        return self.slo[0] if self.slo else None


def _bool_attr(v: str | None) -> bool | None:
    if v is None:
        return None
    return v.strip() in ("true", "1")


def _certs(desc: etree._Element, use: str) -> list[str]:
    out: list[str] = []
    for kd in desc.findall(q(MD, "KeyDescriptor")):
        u = kd.get("use")
        if u is not None and u != use:
            continue
        for c in kd.iter(q(DS, "X509Certificate")):
            if c.text and c.text.strip():
                out.append("".join(c.text.split()))
    return out


def parse_sp_metadata(xml: bytes, entity_id: str | None = None) -> SPInfo:
    """The SP described by `xml` (an EntityDescriptor, or the one named `entity_id` in EntitiesDescriptor)."""
    try:
        root = safe_parse(xml, "SP metadata", limit=MAX_METADATA)
    except BindingError as e:
        raise MetadataError(str(e)) from None
    if root.tag == q(MD, "EntitiesDescriptor"):
        eds = [
            ed for ed in root.iter(q(MD, "EntityDescriptor")) if ed.find(q(MD, "SPSSODescriptor")) is not None
        ]
        if entity_id:
            eds = [ed for ed in eds if ed.get("entityID") == entity_id]
        if not eds:
            raise MetadataError("SP metadata: no EntityDescriptor with an SPSSODescriptor" + (f" for {entity_id}" if entity_id else ""))
        ed = eds[0]
    elif root.tag == q(MD, "EntityDescriptor"):
        ed = root
    else:
        raise MetadataError(f"SP metadata: root element is {etree.QName(root).localname!r}, expected EntityDescriptor")
    eid = ed.get("entityID")
    if not eid:
        raise MetadataError("SP metadata: EntityDescriptor has no entityID")
    sp = ed.find(q(MD, "SPSSODescriptor"))
    if sp is None:
        raise MetadataError(f"SP metadata for {eid}: no SPSSODescriptor")
    if SAML2_PROTOCOL not in (sp.get("protocolSupportEnumeration") or "").split():
        raise MetadataError(f"SP metadata for {eid}: SPSSODescriptor does not support SAML 2.0")
    acs: list[Endpoint] = []
    for e in sp.findall(q(MD, "AssertionConsumerService")):
        loc, binding = e.get("Location"), e.get("Binding")
        if not loc or not binding:
            raise MetadataError(f"SP metadata for {eid}: AssertionConsumerService without Location or Binding")
        idx = e.get("index")
        try:
            index = int(idx) if idx is not None else None
        except ValueError:
            raise MetadataError(f"SP metadata for {eid}: AssertionConsumerService index {idx!r} is not an integer") from None
        acs.append(Endpoint(binding, loc, index, _bool_attr(e.get("isDefault"))))
    if not acs:
        raise MetadataError(f"SP metadata for {eid}: no AssertionConsumerService")
    slo = [
        Endpoint(e.get("Binding", ""), e.get("Location", ""), response_location=e.get("ResponseLocation"))
        for e in sp.findall(q(MD, "SingleLogoutService"))
        if e.get("Location")
    ]
    return SPInfo(
        entity_id=eid,
        acs=acs,
        slo=slo,
        signing_certs=_certs(sp, "signing"),
        encryption_certs=_certs(sp, "encryption"),
        name_id_formats=[(e.text or "").strip() for e in sp.findall(q(MD, "NameIDFormat")) if e.text],
        want_assertions_signed=bool(_bool_attr(sp.get("WantAssertionsSigned"))),
        authn_requests_signed=bool(_bool_attr(sp.get("AuthnRequestsSigned"))),
        metadata_xml=xml,
    )


def idp_metadata(
    entity_id: str,
    base_url: str,
    keys: Sequence[KeyPair],
    *,
    encryption_keys: Sequence[KeyPair] = (),
    want_authn_requests_signed: bool = False,
    signing_use: str | None = "signing",
    sign_with: KeyPair | None = None,
    valid_until: "datetime | None" = None,
    cache_duration: str | None = None,
    scopes: Sequence[str] = (),
) -> bytes:
    """IDPSSODescriptor with signing KeyDescriptor(s), SSO and SLO endpoints (Redirect and POST).

    `scopes`: shibmd:Scope values the IdP may assert (for scoped attributes such as subject-id).
    """
    from .builder import new_id, xml_time

    nsmap = {"md": MD, "ds": DS}
    ed = etree.Element(q(MD, "EntityDescriptor"), nsmap=nsmap, entityID=entity_id)
    if sign_with is not None:
        ed.set("ID", new_id())
    if valid_until is not None:
        ed.set("validUntil", xml_time(valid_until))
    if cache_duration:
        ed.set("cacheDuration", cache_duration)
    idp = etree.SubElement(
        ed,
        q(MD, "IDPSSODescriptor"),
        protocolSupportEnumeration=SAML2_PROTOCOL,
        WantAuthnRequestsSigned="true" if want_authn_requests_signed else "false",
    )
    if scopes:
        shib = "urn:mace:shibboleth:metadata:1.0"
        ext = etree.SubElement(idp, q(MD, "Extensions"))
        for sc in scopes:
            etree.SubElement(ext, f"{{{shib}}}Scope", nsmap={"shibmd": shib}, regexp="false").text = sc
    for use, pairs in ((signing_use, keys), ("encryption", encryption_keys)):
        for k in pairs:
            kd = etree.SubElement(idp, q(MD, "KeyDescriptor"))
            if use:
                kd.set("use", use)
            ki = etree.SubElement(kd, q(DS, "KeyInfo"))
            x = etree.SubElement(ki, q(DS, "X509Data"))
            etree.SubElement(x, q(DS, "X509Certificate")).text = k.cert_b64
    base = base_url.rstrip("/")
    for b in (BINDING_REDIRECT, BINDING_POST):
        etree.SubElement(idp, q(MD, "SingleLogoutService"), Binding=b, Location=f"{base}/slo")
    for fmt in NAMEID_FORMATS.values():
        etree.SubElement(idp, q(MD, "NameIDFormat")).text = fmt
    for b in (BINDING_REDIRECT, BINDING_POST):
        etree.SubElement(idp, q(MD, "SingleSignOnService"), Binding=b, Location=f"{base}/sso")
    if sign_with is not None:
        from .signing import sign

        etree.indent(ed)
        sig = sign(ed, ed, sign_with)
        ed.remove(sig)
        ed.insert(0, sig)  # md schema: Signature is the first child of EntityDescriptor
        return etree.tostring(ed, xml_declaration=True, encoding="UTF-8")
    return etree.tostring(ed, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs whose host is `localhost` or a loopback IP literal (no DNS lookup, so a
    name that resolves to loopback today and elsewhere tomorrow is not trusted)."""
    import ipaddress
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fetch_metadata(url: str, *, timeout: float = 10.0, allow_remote: bool = False,
                   limit: int = 2 * 1024 * 1024) -> bytes:
    """GET SP metadata: loopback only unless `allow_remote`, no redirects, the body streamed and refused
    as soon as it passes `limit` bytes (memory stays bounded whatever the server sends)."""
    import httpx

    if not allow_remote and not is_loopback_url(url):
        raise MetadataError(f"SP metadata URL {url}: only loopback URLs (127.0.0.1, ::1, localhost) are "
                            "fetched; start the IdP with --allow-remote-metadata to fetch others")
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=False) as r:
            if r.is_redirect:
                raise MetadataError(f"SP metadata URL {url} redirects to {r.headers.get('location', '?')}; "
                                    "give the final URL (redirects are not followed)")
            r.raise_for_status()
            declared = r.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise MetadataError(f"SP metadata at {url} is larger than {limit // (1024 * 1024)} MiB")
            body = bytearray()
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise MetadataError(f"SP metadata at {url} is larger than {limit // (1024 * 1024)} MiB")
    except httpx.HTTPError as e:
        raise MetadataError(f"cannot fetch SP metadata from {url}: {e}") from None
    return bytes(body)
