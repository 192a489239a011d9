"""Truth probe for the lab's SimpleSAMLphp SP (run: python -m lab.probekit --target simplesamlphp).

SP-initiated login at the app's /login.php (SimpleSAML\\Auth\\Simple::requireAuth), the Response
signed by the probe's own IdP posted to SimpleSAMLphp's ACS, then the app's /whoami.php."""
from __future__ import annotations

from lab.probekit import Login, ProbeContext, SPPaths, standard_cases

SP = "/simplesamlphp/module.php/saml/sp"


def _error_page(lg: Login) -> str:
    page = lg.acs_page
    i = page.find("Caused by")
    return page[:80] + (f" ... {page[i:][:160]}" if i >= 0 else "")


def run(ctx: ProbeContext) -> None:
    standard_cases(ctx, SPPaths(login="/login.php", acs=f"{SP}/saml2-acs.php/default-sp", whoami="/whoami.php",
                                entity_id=f"{ctx.base_url}{SP}/metadata.php/default-sp"), _error_page)
    unsigned_logout(ctx)
    from lab.ruby_saml.probe import attlist_namespace_confusion, void_canonicalization

    paths = SPPaths(login="/login.php", acs=f"{SP}/saml2-acs.php/default-sp", whoami="/whoami.php",
                    entity_id=f"{ctx.base_url}{SP}/metadata.php/default-sp")
    void_canonicalization(ctx, paths)
    void_canonicalization(ctx, paths, key="bad-namespace-char-takeover", at=b"<saml:Assertion ",
                          marker='<saml:Assertion xmlns:x="http://example.com\u0080" '.encode(),
                          what="a namespace URI with U+0080 on the Assertion")
    attlist_namespace_confusion(ctx, paths)


def unsigned_logout(ctx: ProbeContext) -> None:
    """Signed in by a valid Response, then a LogoutRequest arrives at the SP's SLO endpoint by
    HTTP-Redirect: is the session still there? Unsigned and for that NameID; signed by a key that is
    not the IdP's (SLO-02); unsigned, expired 10 minutes ago (SLO-04); unsigned, for another NameID
    (SLO-06)."""
    logout_case(ctx, "accepts-unsigned-logoutrequest", "an unsigned LogoutRequest (HTTP-Redirect, no Signature) for "
                "that NameID")
    logout_case(ctx, "accepts-logoutrequest-signed-by-another-key", "a LogoutRequest for that NameID whose Redirect "
                "signature (RSA-SHA256) is made with a key that is not the IdP's", signer="other")
    logout_case(ctx, "accepts-expired-logoutrequest", "an unsigned LogoutRequest for that NameID whose NotOnOrAfter "
                "passed 10 minutes ago", not_on_or_after=-600)
    logout_case(ctx, "accepts-logoutrequest-for-another-nameid", "an unsigned LogoutRequest naming another user's "
                "NameID", other_name=True)


def logout_case(ctx: ProbeContext, key: str, what: str, *, signer: str | None = None, not_on_or_after: int | None = None,
                other_name: bool = False) -> None:
    import base64
    import zlib
    from urllib.parse import quote_plus

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from lab.probekit import EMAIL_FMT, PROBE_IDP, SAML, SAMLP, Shape, _id, _t, build_response, whoami_email

    email = ctx.user(key)
    b = ctx.browser()
    try:
        lg = b.start_login(ctx.base_url + "/login.php")
        s = Shape(email=email, acs=lg.acs or "", audience=f"{ctx.base_url}{SP}/metadata.php/default-sp",
                  in_response_to=lg.request_id)
        b.post_response(lg, s.acs, build_response(ctx.idp, s))
        b.look(lg, ctx.base_url + "/whoami.php")
        before = whoami_email(lg)
        slo = f"{ctx.base_url}{SP}/saml2-logout.php/default-sp"
        named = "someone.else@example.com" if other_name else email
        expiry = f' NotOnOrAfter="{_t(not_on_or_after)}"' if not_on_or_after is not None else ""
        req = (f'<samlp:LogoutRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{_id()}" Version="2.0" '
               f'IssueInstant="{_t()}" Destination="{slo}"{expiry}><saml:Issuer>{PROBE_IDP}</saml:Issuer>'
               f'<saml:NameID Format="{EMAIL_FMT}">{named}</saml:NameID></samlp:LogoutRequest>')
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        raw = comp.compress(req.encode()) + comp.flush()
        query = "SAMLRequest=" + quote_plus(base64.b64encode(raw).decode())
        if signer == "other":  # Bindings 3.4.4.1: the signature over SAMLRequest=...&SigAlg=... (URL-encoded)
            query += "&SigAlg=" + quote_plus("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
            k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            sig = k.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())
            query += "&Signature=" + quote_plus(base64.b64encode(sig).decode())
        r = b.http.get(slo + "?" + query)
        lines = lg.lines() + [f"GET {SP}/saml2-logout.php/default-sp?SAMLRequest=<{what}> -> {r.status_code}"
                              + (f" Location {r.headers['location'][:70]}" if "location" in r.headers else "")]
        after = Login()
        b.look(after, ctx.base_url + "/whoami.php")
        lines.append(f"whoami -> {after.whoami_status} {after.whoami[:200]}")
    finally:
        b.close()
    ctx.fact(key, f"signed in, then {what} ends the session -- measured: "
             f"before {'signed in' if before == email else 'not signed in'}, after "
             f"{'still signed in' if whoami_email(after) == email else 'no session'}",
             before == email and whoami_email(after) is None, lines)
